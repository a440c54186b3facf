"""The k-anonymity floor through the Reporting API: a segmented report never shows a row describing
fewer than k visitors, in any format; rows under k are folded into "Other" (which keeps the totals)
when together they reach k, else withheld; a segment under k visitors shows nothing; reports
without a segment are unchanged. And `segment=` on the reports: errors, and the bound on real-time work."""
import csv
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone as dj_timezone

from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import call_api, is_error
from tests.integration.analytics.test_archive import DESKTOP
from tests.integration.analytics.test_ingest import ANDROID, hit, store

pytestmark = pytest.mark.django_db
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TZ = "Europe/Paris"
OTHER = "Other (fewer than 3 visitors each)"


@pytest.fixture
def site():
    return kfloor_site()


def kfloor_site():
    """k = 3; yesterday: six visitors on Chrome, two on Chrome Mobile, one on Firefox, one visit each."""
    instance = make_instance("kfloor", state="publie")
    instance.timezone, instance.k_anonymity = TZ, 3
    instance.save()
    yesterday = dj_timezone.now().astimezone(ZoneInfo(TZ)).date() - timedelta(days=1)
    noon = datetime.combine(yesterday, time(12), ZoneInfo(TZ))
    entries = []
    for n, agent in enumerate([DESKTOP] * 6 + [ANDROID] * 2 + [FIREFOX]):
        entry = hit(instance, noon + timedelta(minutes=n), _id=f"{n + 1:016x}", url=f"https://s.example/p{n % 4}",
                    action_name="Page")
        entry["ua"] = agent
        entries.append(entry)
    store(instance, entries)
    instance.yesterday = yesterday
    return instance


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


def browsers(client, site, token, segment="", fmt="json"):
    return call_api(client, method="DevicesDetection.getBrowsers", idSite=site.pk, period="day",
                    date=str(site.yesterday), token_auth=token, segment=segment, format=fmt)


def test_rows_under_k_are_folded_into_other_which_keeps_the_totals(client, site, token):
    status, rows = browsers(client, site, token)
    assert status == 200 and {row["label"]: row["nb_visits"] for row in rows} == {
        "Chrome": 6, "Chrome Mobile": 2, "Firefox": 1}  # without a segment: unchanged
    status, rows = browsers(client, site, token, segment="visitCount>=1")
    assert status == 200 and [(row["label"], row["nb_visits"]) for row in rows] == [("Chrome", 6), (OTHER, 3)]
    assert set(rows[0]) == set(rows[1])  # no extra column, the same columns as every row
    assert not any(key.startswith("_") for row in rows for key in row)
    for fmt in ("csv", "tsv", "xml"):
        status, body = browsers(client, site, token, segment="visitCount>=1", fmt=fmt)
        assert status == 200 and "Chrome Mobile" not in body and "Firefox" not in body and "Other (fewer" in body, fmt
        assert "_k" not in body and "_ids" not in body, fmt
    status, body = browsers(client, site, token, segment="visitCount>=1", fmt="csv")
    table = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert sum(int(row["nb_visits"]) for row in table) == 9


def test_rows_under_k_that_together_stay_under_k_are_withheld(client, site, token):
    status, rows = browsers(client, site, token, segment="browserCode!=FF")
    assert status == 200 and [(row["label"], row["nb_visits"]) for row in rows] == [("Chrome", 6)]


def test_a_segment_under_k_visitors_shows_nothing(client, site, token):
    status, rows = browsers(client, site, token, segment="browserName==Chrome%20Mobile")
    assert status == 200 and rows == []
    status, summary = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="day",
                               date=str(site.yesterday), token_auth=token, segment="browserName==Chrome%20Mobile")
    assert status == 200 and summary["nb_visits"] == 0 and summary["nb_uniq_visitors"] == 0
    status, summary = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="day",
                               date=str(site.yesterday), token_auth=token, segment="browserName==Chrome")
    assert status == 200 and summary["nb_visits"] == 6 and summary["nb_uniq_visitors"] == 6


def test_segment_on_reports_errors_and_bound(client, site, token, settings):
    answer = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="day", date="yesterday",
                      token_auth=token, segment="visitCount>>1")
    assert is_error(answer) and "position" in answer[1]["message"]
    answer = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="day", date="yesterday",
                      token_auth=token, segment="nosuchThing==1")
    assert is_error(answer) and "nosuchThing" in answer[1]["message"]
    settings.FARM_API_MAX_ARCHIVES = 10
    answer = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="month", date="yesterday",
                      token_auth=token, segment="visitCount>=1")
    if site.yesterday.day > 10:  # a month of more than 10 days so far
        assert is_error(answer) and "autoArchive=1" in answer[1]["message"]
    answer = call_api(client, method="VisitsSummary.get", idSite=site.pk, period="day", date="last5",
                      token_auth=token, segment="visitCount>=1")
    assert answer[0] == 200 and answer[1][str(site.yesterday)]["nb_visits"] == 9
    answer = call_api(client, method="SitesManager.getSiteFromId", idSite=site.pk, token_auth=token,
                      segment="visitCount>=1")
    assert is_error(answer) and "not supported" in answer[1]["message"]


def test_multisites_answers_a_segment_pre_processed_on_every_site(client, site, token):
    from analytics.models import SavedSegment
    from analytics.reports.archive import archive_run
    from farm.tenancy import in_tenant
    from tests.factories import make_instance

    other = make_instance("kfloor2", owner=site.owner, state="publie")
    for each in (site, other):
        with in_tenant(each):
            SavedSegment.objects.create(name="Chrome", definition="browserName==Chrome", owner_id=site.owner.pk,
                                        owner_login="o", auto_archive=each is site)
            archive_run()
    params = {"method": "MultiSites.getAll", "period": "day", "date": str(site.yesterday), "token_auth": token,
              "segment": "browserName==Chrome"}
    answer = call_api(client, **params)
    assert is_error(answer) and f"not on site(s) {other.pk}" in answer[1]["message"]
    status, row = call_api(client, method="MultiSites.getOne", idSite=site.pk, period="day", date=str(site.yesterday),
                           token_auth=token, segment="browserName==Chrome")
    assert status == 200 and row["nb_visits"] == 6 and row["nb_pageviews"] == 6, row
    with in_tenant(other):
        SavedSegment.objects.update(auto_archive=True)
    status, rows = call_api(client, **params)
    assert status == 200 and {r["idsite"]: r["nb_visits"] for r in rows} == {site.pk: 6}  # the other has no visit
    status, rows = call_api(client, **{**params, "segment": ""})
    assert status == 200 and {r["idsite"]: r["nb_visits"] for r in rows} == {site.pk: 9}


def test_totals_and_entry_columns_never_give_a_withheld_row_away(client, site, token):
    noon = datetime.combine(site.yesterday, time(12), ZoneInfo(TZ))
    extra = [hit(site, noon + timedelta(minutes=20 + n), _id=f"{n + 1:016x}", url="https://s.example/p0",
                 action_name="Page") for n in (1, 2)]  # Chrome visitors 2 and 3 end their visit on /p0
    extra.append(hit(site, noon + timedelta(minutes=25), _id=f"{1:016x}", url="https://s.example/p0", idgoal=1,
                     revenue=5))  # one buyer
    for entry in extra:
        entry["ua"] = DESKTOP
    store(site, extra)
    common = {"idSite": site.pk, "period": "day", "date": str(site.yesterday), "token_auth": token,
              "segment": "browserName==Chrome"}
    status, rows = call_api(client, method="Actions.getPageUrls", flat=1, **common)
    p0 = next(row for row in rows if row["label"].endswith("p0"))
    assert status == 200 and p0["nb_visits"] == 4 and p0["exit_nb_visits"] == 4
    assert p0["entry_nb_visits"] == 0 and p0["entry_bounce_count"] == 0  # two entered there: under k, zeroed
    status, rows = call_api(client, method="Actions.getEntryPageUrls", flat=1, **common)
    assert status == 200 and not any(row["label"].endswith("p0") for row in rows)
    status, rows = call_api(client, method="Actions.getExitPageUrls", flat=1, **common)
    exits = next(row for row in rows if row["label"].endswith("p0"))  # four left from /p0, two entered there
    assert status == 200 and exits["exit_nb_visits"] == 4 and exits["entry_nb_visits"] == 0
    status, goals = call_api(client, method="Goals.get", **common)
    assert status == 200 and goals["nb_conversions"] == 0 and goals["revenue"] == 0  # one buyer: under k
    status, goals = call_api(client, method="Goals.get", **{**common, "segment": ""})
    assert status == 200 and goals["nb_conversions"] == 1  # all visits: unchanged


def test_new_and_returning_parts_under_k_are_zeroed_and_other_is_no_keyword(client, site, token):
    noon = datetime.combine(site.yesterday, time(12), ZoneInfo(TZ))
    extra = [hit(site, noon + timedelta(minutes=20 + n), _id=f"{n + 1:016x}", url="https://s.example/?q=x",
                 search=f"word{n}") for n in range(5)]  # in their visits, five visitors search a word each
    extra += [hit(site, noon + timedelta(hours=2, minutes=n), _id=f"{n + 1:016x}", url="https://s.example/p0",
                  action_name="Page") for n in (0, 1)]  # Chrome visitors 1 and 2 come back: two returning
    for entry in extra:
        entry["ua"] = DESKTOP
    store(site, extra)
    common = {"idSite": site.pk, "period": "day", "date": str(site.yesterday), "token_auth": token}
    status, plain = call_api(client, method="VisitFrequency.get", **common)
    assert status == 200 and plain["nb_visits_new"] == 9 and plain["nb_visits_returning"] == 2
    status, split = call_api(client, method="VisitFrequency.get", segment="visitCount>=1", **common)
    # two returning visitors: under k, and the new part would tell them (the totals minus it): both zeroed
    assert status == 200 and split["nb_visits_returning"] == 0 and split["nb_actions_returning"] == 0
    assert split["nb_visits_new"] == 0 and split["nb_actions_new"] == 0
    status, split = call_api(client, method="VisitFrequency.get", segment="visitCount==1", **common)
    assert status == 200 and split["nb_visits_new"] == 9  # no returning visitor at all: nobody to tell
    status, rows = call_api(client, method="Actions.getSiteSearchKeywords", segment="visitCount>=1", **common)
    assert status == 200 and [(row["label"], row["nb_visits"]) for row in rows] == [(OTHER, 5)]
    status, actions = call_api(client, method="Actions.get", segment="visitCount>=1", **common)
    assert status == 200 and actions["nb_searches"] == 5 and actions["nb_keywords"] == 0
    assert call_api(client, method="Actions.get", **common)[1]["nb_keywords"] == 5  # all visits: unchanged


def test_the_other_row_of_a_page_tree_is_no_page(client, site, token):
    common = {"method": "Actions.getPageUrls", "idSite": site.pk, "period": "day", "date": str(site.yesterday),
              "token_auth": token, "segment": "visitCount>=1"}
    for flat in ("0", "1"):  # p0 has three visitors, p1 to p3 two each: folded
        status, rows = call_api(client, flat=flat, **common)
        assert status == 200 and [(row["label"].lstrip("/"), row["nb_visits"]) for row in rows] == [
            ("p0", 3), (OTHER, 6)], flat
        assert rows[0]["url"].endswith("/p0") and "url" not in rows[1], flat
