"""Privacy at the door, per site: IP masking level, Do Not Track, exclusions, the opt-out page and
cookie, and the settings page where a site admin changes them."""
import json
import zoneinfo

import pytest
from django.conf import settings

from analytics.tracking import queue
from farm.cron.models import ScheduledTask
from instances.models import Instance, Membership, Role
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
HOST = "quiet.localhost"


@pytest.fixture
def site():
    return make_instance("quiet", state="publie")


def queued() -> list[dict]:
    return [json.loads(fields[b"h"]) for _id, fields in queue.client().xrange(settings.FARM_HITS_STREAM)]


def track(client, site, **extra):
    return client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://quiet.example/"},
                      HTTP_HOST=HOST, **extra)


def configure(site, **fields):
    Instance.objects.filter(pk=site.pk).update(**fields)
    Instance.objects.get(pk=site.pk).save()  # as the settings page does: the host cache forgets the site


def test_by_default_two_bytes_are_masked_and_do_not_track_is_honoured(client, site):
    assert track(client, site, REMOTE_ADDR="203.0.113.97").status_code == 200
    assert track(client, site, REMOTE_ADDR="203.0.113.97", HTTP_DNT="1").status_code == 200
    assert track(client, site, REMOTE_ADDR="203.0.113.97", HTTP_SEC_GPC="1").status_code == 200
    assert [hit["ip"] for hit in queued()] == ["203.0.0.0"]


def test_a_site_can_mask_less_and_ignore_do_not_track(client, site):
    configure(site, ip_mask_bytes=1, honour_do_not_track=False)
    track(client, site, REMOTE_ADDR="203.0.113.97", HTTP_DNT="1")
    track(client, site, REMOTE_ADDR="2001:db8:1234:5678::1")
    assert [hit["ip"] for hit in queued()] == ["203.0.113.0", "2001:db8:1234:5678::"]


def test_excluded_ips_and_user_agents_are_answered_but_not_recorded(client, site):
    configure(site, excluded_ips="10.0.0.0/8\n192.168.*.*", excluded_user_agents="UptimeRobot")
    for extra in ({"REMOTE_ADDR": "10.9.8.7"}, {"REMOTE_ADDR": "192.168.1.20"},
                  {"REMOTE_ADDR": "198.51.100.1", "HTTP_USER_AGENT": "Mozilla/5.0 (compatible; UptimeRobot/2.0)"}):
        response = track(client, site, **extra)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    track(client, site, REMOTE_ADDR="198.51.100.1", HTTP_USER_AGENT="Mozilla/5.0 Firefox/120.0")
    assert [hit["ip"] for hit in queued()] == ["198.51.0.0"]


def test_the_opt_out_page_sets_the_cookie_the_endpoint_honours(client, site):
    page = client.get("/optout/", HTTP_HOST=HOST)
    assert page.status_code == 200 and "X-Frame-Options" not in page  # meant to be embedded
    assert b"are counted" in page.content
    response = client.post("/optout/", {"choice": "out"}, HTTP_HOST=HOST, HTTP_ORIGIN=f"http://{HOST}")
    assert response.status_code == 303 and response.cookies["piwik_ignore"].value == "1"
    assert b"You have opted out" in client.get("/optout/", HTTP_HOST=HOST).content
    assert track(client, site).status_code == 200
    assert queued() == []

    client.post("/optout/", {"choice": "in"}, HTTP_HOST=HOST, HTTP_ORIGIN=f"http://{HOST}")
    track(client, site)
    assert len(queued()) == 1


def test_another_website_cannot_opt_a_visitor_in_or_out(client, site):
    response = client.post("/optout/", {"choice": "out"}, HTTP_HOST=HOST, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 400 and b"only accepts a choice sent from this page" in response.content
    assert "piwik_ignore" not in response.cookies
    assert client.post("/optout/", {"choice": "maybe"}, HTTP_HOST=HOST).status_code == 400


def test_the_opt_out_page_speaks_the_visitors_language(client, site):
    assert "Vos visites" in client.get("/optout/", {"language": "fr"}, HTTP_HOST=HOST).content.decode()


def test_site_admins_change_privacy_settings_and_they_apply_at_once(client, site):
    client.force_login(site.owner)
    form = {"timezone": "UTC", "ip_mask_bytes": "3", "honour_do_not_track": "on", "excluded_ips": "",
            "excluded_user_agents": ""}
    assert client.post("/settings/", form, HTTP_HOST=HOST).status_code == 302
    track(client, site, REMOTE_ADDR="203.0.113.97")
    assert [hit["ip"] for hit in queued()] == ["203.0.0.0"]
    site.refresh_from_db()
    assert (site.ip_mask_bytes, site.status) == (3, "publie")


def test_a_bad_excluded_ip_is_a_form_error_naming_it(client, site):
    client.force_login(site.owner)
    response = client.post("/settings/", {"timezone": "UTC", "ip_mask_bytes": "2", "excluded_ips": "10.0.0.300"},
                           HTTP_HOST=HOST)
    assert response.status_code == 200 and "10.0.0.300" in response.content.decode()
    site.refresh_from_db()
    assert site.excluded_ips == ""


def test_only_site_admins_open_the_settings(client, site):
    viewer = make_user("viewer")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    client.force_login(viewer)
    assert client.get("/settings/", HTTP_HOST=HOST).status_code == 403
    assert client.post("/settings/", {"timezone": "UTC", "ip_mask_bytes": "0"}, HTTP_HOST=HOST).status_code == 403
    site.refresh_from_db()
    assert site.ip_mask_bytes == 2
    client.logout()
    assert client.get("/settings/", HTTP_HOST=HOST).status_code == 302  # to the portal's sign-in


def test_a_new_timezone_moves_the_sites_daily_tasks_to_its_midnight(client, site):
    client.force_login(site.owner)
    daily = ScheduledTask.objects.filter(instance_id=site.pk, live=True, period="daily")
    assert daily.exists()
    client.post("/settings/", {"timezone": "Pacific/Auckland", "ip_mask_bytes": "2", "honour_do_not_track": "on"},
                HTTP_HOST=HOST)
    auckland = zoneinfo.ZoneInfo("Pacific/Auckland")
    for task in daily:
        local = task.next_run_at.astimezone(auckland)
        assert (local.hour, local.minute) == (task.hour, task.minute)


def test_removed_query_parameters_pseudonymised_user_ids_and_short_referrers_are_all_that_is_stored(client, site):
    from analytics.models import Action, Visit
    from farm.tenancy import in_tenant
    from instances.privacy import user_pseudonym

    def hit(**params):  # stored at once: the referrer is shortened when stored, as the site then says
        client.get("/matomo.php", {"idsite": site.pk, "rec": 1, **params}, HTTP_HOST=HOST)
        assert queue.ingest_drain() == 1
    hit(url="https://quiet.example/a?PHPSESSID=s1&page=2&gclid=x#top", uid="alice@example.org",
        urlref="https://www.google.com/search?q=honey+jars&client=me")
    configure(site, excluded_query_parameters="page\nRef, utm_id", pseudonymise_user_ids=True,
              referrer_anonymisation="path")
    hit(url="https://quiet.example/b?page=3&ref=mail&keep=1&utm_id=9", uid="alice@example.org", new_visit=1,
        urlref="https://www.google.com/search?q=honey+jars&client=me")
    configure(site, referrer_anonymisation="query")
    hit(url="https://quiet.example/c", new_visit=1, _id="b" * 16, urlref="https://blog.example.net/post/1?from=feed")
    with in_tenant(site):
        urls = list(Action.objects.order_by("id").values_list("url", flat=True))
        visits = list(Visit.objects.order_by("id").values("user_id", "referrer_url", "referrer_type",
                                                          "referrer_name", "campaign_keyword"))
    assert urls == ["https://quiet.example/a?page=2#top", "https://quiet.example/b?keep=1", "https://quiet.example/c"]
    pseudonym = user_pseudonym("alice@example.org", site_id=site.pk)
    assert [v["user_id"] for v in visits] == ["alice@example.org", pseudonym, ""]  # from the change on
    assert len(pseudonym) == 32 and pseudonym != user_pseudonym("alice@example.org", site_id=site.pk + 1)
    assert visits[0]["referrer_url"] == "https://www.google.com/search?q=honey+jars&client=me"
    # the referrer's type, name and keyword are read before its URL is shortened
    assert (visits[1]["referrer_url"], visits[1]["referrer_type"], visits[1]["campaign_keyword"]) == (
        "https://www.google.com/", "search", "honey jars")
    assert visits[2]["referrer_url"] == "https://blog.example.net/post/1"
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "uid": "bob@example.org"}, HTTP_HOST=HOST)
    assert [hit["p"]["uid"] for hit in queued()] == [user_pseudonym("bob@example.org", site_id=site.pk)]  # queued so


def test_the_settings_page_saves_the_new_privacy_settings(client, site):
    client.force_login(site.owner)
    form = {"timezone": "UTC", "ip_mask_bytes": "2", "pseudonymise_user_ids": "on",
            "excluded_query_parameters": "token", "referrer_anonymisation": "query"}
    assert client.post("/settings/", form, HTTP_HOST=HOST).status_code == 302
    site.refresh_from_db()
    assert (site.pseudonymise_user_ids, site.excluded_query_parameters, site.referrer_anonymisation) == (
        True, "token", "query")
    assert client.post("/settings/", {"timezone": "UTC", "ip_mask_bytes": "2"}, HTTP_HOST=HOST).status_code == 302
    site.refresh_from_db()
    assert site.referrer_anonymisation == "query"  # left out: kept


def test_the_sites_own_names_leave_campaigns_and_search_keywords_readable(client, site):
    from analytics.models import Action, Visit
    from farm.tenancy import in_tenant

    configure(site, excluded_query_parameters="utm_campaign\nutm_term\nq\nsid")
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "a" * 16,
                               "url": "https://quiet.example/?utm_campaign=Spring&utm_term=honey&x=1"}, HTTP_HOST=HOST)
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "b" * 16, "url": "https://quiet.example/",
                               "urlref": "https://www.google.com/search?q=wax&sid=7"}, HTTP_HOST=HOST)
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "b" * 16, "url": "https://quiet.example/",
                               "download": "https://quiet.example/f.pdf?sid=9&v=2"}, HTTP_HOST=HOST)
    assert queue.ingest_drain() == 3
    with in_tenant(site):
        visits = {v.visitor_id: v for v in Visit.objects.all()}
        urls = sorted(Action.objects.values_list("url", flat=True))
    spring, search = visits["a" * 16], visits["b" * 16]
    assert (spring.referrer_type, spring.campaign_name.lower(), spring.campaign_keyword) == ("campaign", "spring", "honey")
    assert (search.referrer_type, search.campaign_keyword) == ("search", "wax")  # read before q went
    assert search.referrer_url == "https://www.google.com/search"  # then the site's names: q and sid
    assert urls == ["https://quiet.example/", "https://quiet.example/?x=1", "https://quiet.example/f.pdf?v=2"]


def test_order_ids_are_kept_coded_or_dropped_and_an_order_stays_an_order(client, site):
    from analytics.models import Conversion
    from farm.tenancy import in_tenant
    from instances.privacy import order_code

    def order(order_id, revenue):
        client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "c" * 16, "idgoal": 0, "ec_id": order_id,
                                   "revenue": revenue}, HTTP_HOST=HOST)
        assert queue.ingest_drain() == 1
    order("A-1001", 10)
    configure(site, order_ids="short")
    order("A-1002", 20)
    order("A-1002", 20)  # sent twice: the same code, counted once
    configure(site, order_ids="drop")
    order("A-1003", 30)
    order("A-1003", 30)  # nothing to recognise it by: counted again, as the setting's help says
    with in_tenant(site):
        rows = list(Conversion.objects.order_by("id").values_list("goal_id", "order_id", "revenue"))
    code = order_code("A-1002", site_id=site.pk)
    assert rows == [(0, "A-1001", 10.0), (0, code, 20.0), (0, "", 30.0), (0, "", 30.0)]
    assert len(code) == 12 and "1002" not in code and code != order_code("A-1002", site_id=site.pk + 1)


def test_a_cookieless_site_takes_nothing_a_tracker_kept_on_the_device(client, site):
    from analytics.models import Visit
    from farm.tenancy import in_tenant

    configure(site, cookieless=True)
    device = {"_id": "d" * 16, "_idts": 1_700_000_000, "_idvc": 7, "_viewts": 1_700_000_500,
              "_ref": "https://news.example/", "_refts": 1_700_000_000}
    for agent in ("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0"):
        track(client, site, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT=agent)
    for hit in queued():
        assert not set(hit["p"]) & set(device)
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://quiet.example/", **device},
               HTTP_HOST=HOST, REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0")
    assert not set(queued()[-1]["p"]) & set(device)  # sent anyway by another tracker: not taken
    assert queue.ingest_drain() == 3
    with in_tenant(site):
        visits = list(Visit.objects.order_by("id").values_list("visitor_id", "returning", "visit_count"))
    # Recognised by the config hash alone: the same browser is one visitor, another browser another.
    assert len(visits) == 2 and visits[0][0] != "d" * 16 and visits[0][1:] == (False, 1)
