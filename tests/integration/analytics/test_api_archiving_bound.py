"""One Reporting API request builds at most FARM_API_MAX_ARCHIVES archives on demand: beyond that it answers
what is archived, queues the rest for the archiving run and names what is not processed yet (never zeros)."""
from datetime import datetime, time, timedelta, timezone
from urllib.parse import urlencode

import pytest

from analytics.models import Archive, ArchiveInvalidation
from analytics.reports.archive import archive_run, site_today
from farm.tenancy import in_tenant
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import call_api
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db


def site_with_visits_on_past_days(slug: str, days: int):
    """A site with one visit on each of the `days` days before today, nothing archived yet."""
    site = make_instance(slug, state="publie")
    with in_tenant(site):
        today = site_today()
    store(site, [hit(site, datetime.combine(today - timedelta(days=n), time(12), tzinfo=timezone.utc),
                     url=f"https://s.example/{n}", _id=f"{n:016x}") for n in range(1, days + 1)])
    return site, today


@pytest.fixture
def bound(settings):
    settings.FARM_API_MAX_ARCHIVES = 3
    return 3


def day_archives(site) -> set:
    with in_tenant(site):
        return set(Archive.objects.filter(period="day", report="VisitsSummary.get").values_list("start", flat=True))


def test_a_multi_period_request_builds_up_to_the_bound_and_queues_the_rest(client, bound):
    site, today = site_with_visits_on_past_days("bounded", 5)
    token = token_create(user=site.owner)[1]
    params = {"module": "API", "method": "VisitsSummary.getVisits", "idSite": site.pk, "period": "day",
              "date": "last6", "token_auth": token}
    response = client.get("/index.php", params, HTTP_HOST="localhost")
    assert response.status_code == 200
    oldest = [(today - timedelta(days=n)).isoformat() for n in (5, 4, 3)]
    queued = [today - timedelta(days=n) for n in (2, 1)]
    # the three oldest days fit the bound, today has no visit (nothing to build); the two others wait
    assert response.json() == {**{day: {"value": 1} for day in oldest}, today.isoformat(): {"value": 0}}
    assert response["X-Farm-Not-Archived"] == " ".join(f"{site.pk}:day:{day}" for day in queued)
    assert response["X-Farm-Not-Archived-Count"] == "2"
    assert day_archives(site) == {today - timedelta(days=n) for n in (5, 4, 3)}
    with in_tenant(site):
        assert sorted(ArchiveInvalidation.objects.values_list("day", flat=True)) == queued
        archive_run()  # the hourly run picks the queued days up
    again = client.get("/index.php", params, HTTP_HOST="localhost")
    assert "X-Farm-Not-Archived" not in again and len(again.json()) == 6
    assert sum(value["value"] for value in again.json().values()) == 5


def test_a_single_period_beyond_the_bound_says_it_is_not_processed_yet(client, bound):
    site, today = site_with_visits_on_past_days("boundweek", 14)
    token = token_create(user=site.owner)[1]
    # a month holding more days of visits than the bound: yesterday's, or on the 1st to the 4th the
    # month before's (yesterday's then held 0 to 3 of them, which fit the bound: failed on 2026-12-02)
    asked = today - timedelta(days=1 if today.day > bound + 1 else 7)
    status, body = call_api(client, token_auth=token, idSite=site.pk, method="VisitsSummary.get", period="month",
                            date=asked.isoformat())
    assert status == 200 and body["result"] == "error" and "not processed yet" in body["message"]
    assert day_archives(site) == set()  # nothing half-built
    with in_tenant(site):
        assert ArchiveInvalidation.objects.count() >= 1


def test_one_bound_covers_every_site_and_sub_request_and_leaves_out_a_site_not_processed(client, bound):
    first, today = site_with_visits_on_past_days("boundone", 2)
    second, _ = site_with_visits_on_past_days("boundtwo", 2)
    superuser_token = token_create(user=make_superuser())[1]
    day = {"method": "VisitsSummary.getVisits", "period": "day"}
    urls = {f"urls[{i}]": urlencode({**day, "idSite": "all", "date": (today - timedelta(days=n)).isoformat()})
            for i, n in enumerate((2, 1))}
    response = client.get("/index.php", {"module": "API", "method": "API.getBulkRequest", "token_auth": superuser_token,
                                         **urls}, HTTP_HOST="localhost")
    body = response.json()
    assert body[0] == {str(first.pk): {"value": 1}, str(second.pk): {"value": 1}}
    assert body[1] == {str(first.pk): {"value": 1}}  # the 4th archive is over the bound of 3: left out
    assert response["X-Farm-Not-Archived"] == f"{second.pk}:day:{today - timedelta(days=1)}"
    assert response["X-Farm-Not-Archived-Count"] == "1"
    assert len(day_archives(first)) + len(day_archives(second)) == 3


def make_superuser():
    from tests.factories import make_user

    return make_user("boundroot", superuser=True)
