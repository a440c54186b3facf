"""Visitors without an id, recognised as Matomo does (config hash with the full address and a day
salt), while the full address itself is never queued, stored or logged; the country from the full
address; day salts deleted once their day is over. Hits go through the real path: the endpoint,
the Redis stream, an ingest drain, the site's tables."""
import json
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from analytics.models import Visit
from analytics.tracking import queue
from analytics.tracking.visitors import address_digest
from farm.cron import FARM
from farm.cron.registry import spec_for
from farm.cron.timetable import timetable_sync_all
from farm.tenancy import in_tenant
from instances.models import DaySalt, Instance
from instances.salts import day_salt, day_salts_expire, salts_forget_cached
from instances.tokens import token_create
from tests.factories import make_instance

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSERS = [FIREFOX,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
            "Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
            "Safari/605.1.15",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1"]
# Registry data (APNIC): 1.0.16.0/20 is delegated to Japan, while 1.0.0.0 (its /16 masked) is Australian.
JAPANESE, AUSTRALIAN_WHEN_MASKED = "1.0.16.7", "1.0.0.0"


@pytest.fixture(autouse=True)
def _fresh_salt_cache():
    salts_forget_cached()  # each test's salts are its own database rows
    yield
    salts_forget_cached()


@pytest.fixture
def site():
    return make_instance("logs", state="publie")


def log_line(site, address: str, at: datetime, agent: str = FIREFOX, **extra) -> dict:
    """One line of a server log as the log importer sends it: no visitor id, the client's address."""
    return {"idsite": site.pk, "rec": 1, "url": "https://logs.example/page", "cip": address,
            "cdt": str(int(at.timestamp())), "ua": agent, "lang": "fr-FR", **extra}


def bulk_import(client, site, lines: list[dict]) -> dict:
    _t, token = token_create(user=site.owner)
    response = client.post("/matomo.php", json.dumps({"requests": lines, "token_auth": token}),
                           content_type="application/json", **PORTAL)
    assert response.status_code == 200, response.content
    return response.json()


def visits(site) -> list[Visit]:
    with in_tenant(site):
        return list(Visit.objects.order_by("first_action_at", "id"))


def test_twenty_addresses_of_one_network_with_one_browser_are_twenty_visitors(client, site):
    start = timezone.now() - timedelta(hours=2)
    lines = [log_line(site, f"81.2.69.{10 + n}", start + timedelta(seconds=n)) for n in range(20)]
    assert bulk_import(client, site, lines)["tracked"] == 20
    assert queue.ingest_drain() == 20
    stored = visits(site)
    assert len(stored) == 20 and len({visit.visitor_id for visit in stored}) == 20
    assert {str(visit.ip) for visit in stored} == {"81.2.0.0"}  # all masked alike, told apart all the same


def test_twenty_addresses_and_four_browsers_are_twenty_visitors_not_four(client, site):
    start = timezone.now() - timedelta(hours=2)
    lines = [log_line(site, f"81.2.69.{10 + n}", start + timedelta(seconds=n), agent=BROWSERS[n % 4])
             for n in range(20)]
    bulk_import(client, site, lines)
    queue.ingest_drain()
    assert len(visits(site)) == 20


def _one_day(ago: timedelta, span: timedelta) -> datetime:
    """About `ago` back, and moved earlier if it and the `span` after it would straddle a midnight
    (the site's timezone is UTC): a visit ends at midnight, as in Matomo. With `now - 3 h`, the test
    below failed when run between 02:35 and 03:00 UTC."""
    at = timezone.now() - ago
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return at if at + span < midnight else midnight - span - timedelta(minutes=1)


def test_one_address_twice_within_thirty_minutes_is_one_visit(client, site):
    first = _one_day(timedelta(hours=3), timedelta(minutes=25))
    bulk_import(client, site, [log_line(site, "81.2.69.160", first),
                               log_line(site, "81.2.69.160", first + timedelta(minutes=25))])
    queue.ingest_drain()
    (visit,) = visits(site)
    assert visit.actions == 2


def test_the_same_address_and_browser_on_another_day_is_not_linked(client, site):
    day_one = timezone.now() - timedelta(days=3)
    bulk_import(client, site, [log_line(site, "81.2.69.160", day_one),
                               log_line(site, "81.2.69.160", day_one + timedelta(days=1))])
    queue.ingest_drain()
    first, second = visits(site)
    assert first.visitor_id != second.visitor_id


def test_the_browser_language_and_plugins_are_part_of_the_config_hash(client, site):
    at = _one_day(timedelta(hours=1), timedelta(minutes=3))
    bulk_import(client, site, [log_line(site, "81.2.69.160", at),
                               log_line(site, "81.2.69.160", at + timedelta(minutes=1), lang="de-DE"),
                               log_line(site, "81.2.69.160", at + timedelta(minutes=2), pdf=1),
                               log_line(site, "81.2.69.160", at + timedelta(minutes=3))])
    queue.ingest_drain()
    assert [visit.actions for visit in visits(site)] == [2, 1, 1]


def test_the_full_address_is_never_queued_nor_stored(client, site):
    at = timezone.now() - timedelta(minutes=5)
    bulk_import(client, site, [log_line(site, "81.2.69.160", at)])
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://logs.example/"},
               REMOTE_ADDR="81.2.69.161", HTTP_USER_AGENT=FIREFOX, **PORTAL)
    raw = [fields[b"h"] for _id, fields in queue.client().xrange(settings.FARM_HITS_STREAM)]
    assert len(raw) == 2
    for entry in raw:
        assert b"81.2.69.16" not in entry
        assert json.loads(entry)["ip"] == "81.2.0.0"
    assert queue.ingest_drain() == 2
    with in_tenant(site), connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Visit._meta.db_table}")
        rows = cursor.fetchall()
    assert len(rows) == 2
    for row in rows:
        assert not any("81.2.69.16" in str(value) for value in row), row


def test_the_country_comes_from_the_full_address(client, site):
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, REMOTE_ADDR=JAPANESE, **PORTAL)
    queue.ingest_drain()
    (visit,) = visits(site)
    assert (str(visit.ip), visit.country) == ("1.0.0.0", "JP")


def test_a_site_may_geolocate_the_masked_address_instead(client, site):
    site = Instance.objects.get(pk=site.pk)
    site.geolocate_masked_ip = True
    site.save()  # as the settings page does: the host cache forgets the site
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, REMOTE_ADDR=JAPANESE, **PORTAL)
    queue.ingest_drain()
    (visit,) = visits(site)
    assert visit.country == "AU"  # what the registry says of AUSTRALIAN_WHEN_MASKED


def test_the_settings_page_offers_the_masked_geolocation_switch(client, site):
    client.force_login(site.owner)
    host = {"HTTP_HOST": "logs.localhost"}
    assert b'name="geolocate_masked_ip"' in client.get("/settings/", **host).content
    response = client.post("/settings/", {"timezone": "UTC", "ip_mask_bytes": "2", "honour_do_not_track": "on",
                                          "geolocate_masked_ip": "on"}, **host)
    assert response.status_code == 302
    assert Instance.objects.get(pk=site.pk).geolocate_masked_ip is True


def test_the_day_of_a_salt_is_the_hits_own_day_in_the_sites_timezone(client, site):
    Instance.objects.filter(pk=site.pk).update(timezone="Pacific/Auckland")
    Instance.objects.get(pk=site.pk).save()
    at = datetime.combine(timezone.now().date() - timedelta(days=2), time(20), tzinfo=dt_timezone.utc)
    bulk_import(client, site, [log_line(site, "81.2.69.160", at)])
    # 20:00 UTC is the next morning in Auckland (UTC+12 or +13): the salt is that day's.
    assert list(DaySalt.objects.values_list("day", flat=True)) == [at.date() + timedelta(days=1)]


def test_an_expired_day_salt_is_gone_and_a_new_days_digest_differs():
    today = timezone.now().date()
    old_day, recent_day = today - timedelta(days=4), today - timedelta(days=1)
    old_salt, recent_salt = day_salt(day=old_day), day_salt(day=recent_day)
    assert old_salt != recent_salt
    old_digest = address_digest("81.2.69.160", site_id=1, salt=old_salt)
    DaySalt.objects.update(created_at=timezone.now() - timedelta(days=3))

    assert day_salts_expire() == 1
    assert list(DaySalt.objects.values_list("day", flat=True)) == [recent_day]
    assert address_digest("81.2.69.160", site_id=1, salt=day_salt(day=recent_day)) != old_digest
    fresh = day_salt(day=old_day)  # a late hit of the old day: a new salt, no link to the old one
    assert fresh != old_salt and address_digest("81.2.69.160", site_id=1, salt=fresh) != old_digest


def test_a_salt_just_created_for_an_old_day_survives_while_an_import_may_use_it():
    old_day = timezone.now().date() - timedelta(days=30)
    day_salt(day=old_day)
    assert day_salts_expire() == 0
    assert day_salts_expire(now=timezone.now() + timedelta(days=2, minutes=1)) == 1


def test_the_farms_cron_deletes_expired_salts_every_hour():
    spec = spec_for("instances.salts.day_salts_expire", "")
    assert (spec.scope, spec.schedule.period) == (FARM, "hourly")
    day_salt(day=timezone.now().date() - timedelta(days=5))
    DaySalt.objects.update(created_at=timezone.now() - timedelta(days=3))
    timetable_sync_all()
    out = StringIO()
    call_command("run_scheduled_tasks", "--farm", "--task", "instances.salts.day_salts_expire", "--force", stdout=out)
    assert "succeeded" in out.getvalue()
    assert not DaySalt.objects.exists()
