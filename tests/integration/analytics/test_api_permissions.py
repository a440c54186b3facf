"""Who may call what: a permission matrix over every API method (owner, view member of A asking about B,
anonymous, revoked token, superuser, idSite=all), site domains, and CSRF for session POSTs."""
from urllib.parse import urlencode

import pytest
from django.test import Client

from analytics.api.methods import METHODS
from analytics.api.sites import METHODS as SITE_METHODS
from instances.models import Membership, Role
from instances.tokens import token_create, token_revoke
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, DAY, call_api, make_traffic

pytestmark = pytest.mark.django_db
FARM_METHODS = {name for name, (_run, scope) in SITE_METHODS.items() if scope == "farm"} | {
    "API.getBulkRequest", "MultiSites.getAll", "ScheduledReports.deleteReport", "ScheduledReports.sendReport"}
SITE_SCOPED = sorted(set(METHODS) - FARM_METHODS)
ADMIN_ONLY = {"PrivacyManager.findDataSubjects", "PrivacyManager.exportDataSubjects", "PrivacyManager.deleteDataSubjects",
              "PrivacyManager.anonymizeSomeRawData"}


def params_for(method: str, id_site) -> dict:
    """Enough parameters for `method` to succeed on a site with traffic."""
    params = {"method": method, "idSite": id_site, "period": "day", "date": DAY.date().isoformat(),
              "lastMinutes": 30, "url": "https://a.example", "visitorId": ALICE, "segmentName": "browserCode",
              "name": "Returning", "definition": "visitCount>1"}
    if method == "PrivacyManager.anonymizeSomeRawData":  # a day's addresses masked, the password confirmed
        params |= {"idSites": id_site, "anonymizeIp": 1, "passwordConfirmation": "a-long-Passw0rd"}
    elif method in ADMIN_ONLY:  # the GDPR tools: a search, and a visit to export or delete (none has this id)
        params |= {"segment": "visitCount>=1"} if method == "PrivacyManager.findDataSubjects" else \
            {"visits[0][idsite]": id_site, "visits[0][idvisit]": 999_999}
    if method.startswith("ScheduledReports."):  # a member's own email report of the site
        params |= {"description": "Digest", "period": "week", "hour": 8, "reports[0]": "VisitsSummary_get"}
    if method == "API.getBulkRequest":
        params["urls[0]"] = urlencode({"method": "VisitsSummary.get", "idSite": id_site, "period": "day",
                                       "date": "yesterday"})
    return params


@pytest.fixture
def world():
    """Site A (with traffic, a view member), site B (another owner), a superuser, tokens for each."""
    a, b = make_instance("site-a", state="publie"), make_instance("site-b", state="publie")
    a.main_url, b.main_url = "https://a.example", "https://b.example"
    a.save(), b.save()
    make_traffic(a)
    member = make_user("viewer")
    Membership.objects.create(instance=a, user=member, role=Role.VIEW)
    superuser = make_user("root", superuser=True)
    revoked, revoked_raw = token_create(user=a.owner)
    token_revoke(token=revoked, by=a.owner)
    return {"a": a, "b": b, "member": token_create(user=member)[1], "owner_b": token_create(user=b.owner)[1],
            "super": token_create(user=superuser)[1], "revoked": revoked_raw}


def test_anonymous_callers_are_asked_to_log_in_for_every_method(client, world):
    for method in METHODS:
        status, body = call_api(client, **params_for(method, world["a"].pk))
        assert status == 401 and body["result"] == "error" and "token_auth" in body["message"], method


def test_a_revoked_token_is_refused_for_every_method_even_with_a_session(client, world):
    client.force_login(world["a"].owner)
    for method in METHODS:
        status, body = call_api(client, token_auth=world["revoked"], **params_for(method, world["a"].pk))
        assert status == 401 and "not valid" in body["message"], method


def test_a_member_of_a_reads_a_with_every_method_but_the_superusers_one(client, world):
    # NB: changing or reading one saved segment (or email report) needs one to exist: test_saved_segments
    # and test_email_reports cover those
    for method in set(METHODS) - {"SitesManager.getAllSites", "SegmentEditor.update", "SegmentEditor.delete",
                                  "SegmentEditor.get", "ScheduledReports.updateReport",
                                  "ScheduledReports.deleteReport", "ScheduledReports.sendReport"} - ADMIN_ONLY:
        status, body = call_api(client, token_auth=world["member"], **params_for(method, world["a"].pk))
        assert status == 200, (method, body)
        assert not (isinstance(body, dict) and body.get("result") == "error"), method
    for method in ADMIN_ONLY:  # a viewer is no admin
        status, body = call_api(client, token_auth=world["member"], **params_for(method, world["a"].pk))
        assert status == 401 and "requires 'admin' access" in body["message"], (method, body)


def test_a_member_of_a_gets_the_same_refusal_for_b_as_for_a_site_that_does_not_exist(client, world):
    b = world["b"]
    for method in SITE_SCOPED:
        status, body = call_api(client, token_auth=world["member"], **params_for(method, b.pk))
        _, missing = call_api(client, token_auth=world["member"], **params_for(method, 999999))
        assert status == 401 and body["message"] == missing["message"].replace("999999", str(b.pk)), method
        assert b.name not in str(body)
    status, both = call_api(client, token_auth=world["member"], **params_for("VisitsSummary.get",
                                                                               f"{world['a'].pk},{b.pk}"))
    assert status == 401  # a list is refused whole when one site is not readable


def test_farm_methods_never_show_b_to_a_member(client, world):
    member, b = world["member"], world["b"]
    _, sites = call_api(client, token_auth=member, method="SitesManager.getSitesWithAtLeastViewAccess")
    assert [s["idsite"] for s in sites] == [world["a"].pk]
    assert call_api(client, token_auth=member, method="SitesManager.getSitesIdFromSiteUrl",
                    url="https://b.example") == (200, [])
    assert call_api(client, token_auth=member, method="SitesManager.getAllSites")[0] == 401
    _, bulk = call_api(client, token_auth=member, **params_for("API.getBulkRequest", b.pk))
    assert bulk[0]["result"] == "error" and "view" in bulk[0]["message"]
    _, every = call_api(client, token_auth=member, method="MultiSites.getAll", period="day", date="today", enhanced=1)
    assert [s["idsite"] for s in every] == [world["a"].pk]


def test_id_site_all_covers_only_the_callers_sites(client, world):
    _, mine = call_api(client, token_auth=world["member"], **params_for("VisitsSummary.getVisits", "all"))
    assert mine == {str(world["a"].pk): {"value": 4}}
    _, everything = call_api(client, token_auth=world["super"], **params_for("VisitsSummary.getVisits", "all"))
    assert set(everything) == {str(world["a"].pk), str(world["b"].pk)}


def test_the_owner_of_b_and_a_superuser_read_b_with_every_method(client, world):
    b = world["b"]
    for who in ("owner_b", "super"):
        for method in SITE_SCOPED:
            if method == "Live.getVisitorProfile":
                continue  # B has no visitor: asked below
            status, body = call_api(client, token_auth=world[who], **params_for(method, b.pk))
            assert status == 200, (who, method, body)
    assert call_api(client, token_auth=world["super"], method="SitesManager.getAllSites")[0] == 200
    status, body = call_api(client, token_auth=world["owner_b"], **params_for("Live.getVisitorProfile", b.pk))
    assert status == 200 and "visitorId unknown" in body["message"]


def test_a_site_domain_answers_only_about_its_own_site(client, world):
    a, b = world["a"], world["b"]
    host_a = f"{a.slug}.localhost"
    assert call_api(client, host_a, token_auth=world["member"], method="VisitsSummary.getVisits", period="day",
                    date=DAY.date().isoformat()) == (200, {"value": 4})
    status, _ = call_api(client, host_a, token_auth=world["super"], idSite=b.pk, method="VisitsSummary.getVisits",
                         period="day", date="today")
    assert status == 401
    status, _ = call_api(client, f"{b.slug}.localhost", token_auth=world["member"],
                         method="VisitsSummary.getVisits", period="day", date="today")
    assert status == 401
    _, listed = call_api(client, host_a, token_auth=world["super"], method="SitesManager.getSitesWithAtLeastViewAccess")
    assert [s["idsite"] for s in listed] == [a.pk]


def test_a_logged_in_session_works_for_gets_and_csrf_protects_its_posts(world):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world["a"].owner)
    params = {"idSite": world["a"].pk, "method": "VisitsSummary.getVisits", "period": "day",
              "date": DAY.date().isoformat()}
    assert call_api(browser, **params) == (200, {"value": 4})
    assert browser.post("/index.php?" + urlencode({"module": "API", **params}), {},
                        HTTP_HOST="localhost").status_code == 403  # Django's CSRF refusal, before the API
    token_post = call_api(browser, post={"token_auth": world["member"]}, **params)
    assert token_post == (200, {"value": 4})  # a token call needs no CSRF token
