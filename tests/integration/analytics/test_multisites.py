"""All websites through the Reporting API: archiving a day writes the site's public summary row, and
MultiSites.getAll / getOne answer Matomo's columns from those rows, for the caller's sites only,
with the evolution against the previous period."""
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils.timezone import now

from analytics.reports import service
from analytics.reports.archive import archive_day, site_today
from analytics.reports.periods import Period
from farm.tenancy import in_tenant
from instances.models import Membership, Role, SiteDay
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, call_api, make_traffic

pytestmark = pytest.mark.django_db
D = DAY.date()
MONDAY = date(2026, 6, 1)


def _site(slug: str, *, owner=None, name: str | None = None, main_url: str = ""):
    site = make_instance(slug, owner=owner, state="publie")
    site.name, site.main_url = name or slug.title(), main_url
    site.save()
    return site


def _days(site, rows: dict[date, tuple]) -> None:
    """Write a site's daily totals directly (as archiving would): (visits, actions, pageviews, revenue)."""
    for day, (visits, actions, pageviews, revenue) in rows.items():
        SiteDay.objects.create(instance=site, day=day, nb_visits=visits, nb_actions=actions, nb_pageviews=pageviews,
                               revenue=revenue)


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def token(owner):
    return token_create(user=owner)[1]


def _get(client, token, **params):
    return call_api(client, token_auth=token, format="json", **params)


def test_archiving_a_day_with_traffic_writes_the_sites_summary_row(owner):
    site = _site("honey", owner=owner)
    make_traffic(site)
    with in_tenant(site):
        summary = service.report("VisitsSummary.get", Period.of("day", D))  # archived on demand
        pageviews = service.report("Actions.get", Period.of("day", D))["nb_pageviews"]
    row = SiteDay.objects.get(instance=site, day=D)
    assert (row.nb_visits, row.nb_actions, row.nb_pageviews) == (summary["nb_visits"], summary["nb_actions"], pageviews)
    assert (row.nb_visits, row.nb_actions, row.revenue, row.nb_conversions, row.orders, row.ecommerce_revenue) == \
        (4, 9, 35, 2, 1, 30)  # Alice's goal (5) and her order (30)
    assert pageviews > 0


def test_archiving_a_day_again_rewrites_its_row(owner):
    site = _site("rewrite", owner=owner)
    make_traffic(site)
    with in_tenant(site):
        archive_day(D, today=site_today())
    SiteDay.objects.filter(instance=site, day=D).update(nb_visits=999, revenue=1)
    call_command("archive_reports", "--instance", site.slug, "--from", D.isoformat(), "--to", D.isoformat())
    row = SiteDay.objects.get(instance=site, day=D)
    assert (row.nb_visits, row.revenue) == (4, 35)
    assert SiteDay.objects.filter(instance=site, day=D).count() == 1  # one row per site and day, never two


def test_get_all_answers_matomos_columns_for_each_site_with_visits(client, owner, token):
    honey = _site("honey", owner=owner, name="Honey", main_url="https://honey.example")
    wax = _site("wax", owner=owner, name="Wax")
    quiet = _site("quiet", owner=owner)  # no visit: left out, as Matomo does without enhanced=1
    _days(honey, {MONDAY - timedelta(days=1): (2, 4, 3, 10.0), MONDAY: (3, 5, 4, 15.5)})
    _days(wax, {MONDAY: (1, 1, 1, 0)})
    status, rows = _get(client, token, method="MultiSites.getAll", period="day", date=MONDAY.isoformat())
    assert status == 200
    assert [row["label"] for row in rows] == ["Honey", "Wax"]
    assert rows[0] == {
        "label": "Honey", "nb_visits": 3, "nb_actions": 5, "nb_pageviews": 4, "revenue": 15.5,
        "visits_evolution": "50%", "visits_evolution_trend": 1, "actions_evolution": "25%",
        "actions_evolution_trend": 1, "pageviews_evolution": "33.3%", "pageviews_evolution_trend": 1,
        "revenue_evolution": "55%", "revenue_evolution_trend": 1, "idsite": honey.pk, "ratio": 1.0,
        "currencySymbol": "€", "previous_nb_visits": 2, "periodName": "day", "previousRange": "Sun, May 31",
        "previous_nb_actions": 4, "previous_Actions_nb_pageviews": 3, "previous_Goal_revenue": 10, "group": "",
        "main_url": "https://honey.example",
    }
    assert rows[1]["visits_evolution"] == "100%"  # nothing the day before: +100 %, as Matomo says
    status, rows = _get(client, token, method="MultiSites.getAll", period="day", date=MONDAY.isoformat(), enhanced=1)
    assert [row["label"] for row in rows] == ["Honey", "Wax", "Quiet"]
    assert {"nb_conversions", "orders", "ecommerce_revenue", "orders_evolution"} <= rows[2].keys()
    assert rows[2]["nb_visits"] == 0 and rows[2]["visits_evolution"] == "0%"
    assert quiet.pk == rows[2]["idsite"]


def test_weeks_months_and_ranges_sum_their_days_and_compare_with_the_period_before(client, owner, token):
    site = _site("honey", owner=owner)
    _days(site, {date(2026, 5, 25): (4, 4, 4, 0), date(2026, 5, 31): (4, 4, 4, 0),  # the week before
                 MONDAY: (1, 2, 2, 5), date(2026, 6, 3): (2, 2, 2, 5), date(2026, 6, 7): (3, 3, 3, 0)})

    def one(period, when):
        status, body = _get(client, token, method="MultiSites.getOne", idSite=site.pk, period=period, date=when)
        assert status == 200, body
        return body
    week = one("week", "2026-06-03")
    assert (week["nb_visits"], week["nb_actions"], week["revenue"], week["visits_evolution"]) == (6, 7, 10, "-25%")
    assert week["visits_evolution_trend"] == -1 and "label" not in week and "idsite" not in week
    month = one("month", "2026-06-15")
    assert (month["nb_visits"], month["visits_evolution"]) == (6, "-25%")  # May held 8 visits
    span = one("range", "2026-06-01,2026-06-07")  # compared with May 25–31
    assert (span["nb_visits"], span["visits_evolution"], span["pageviews_evolution"]) == (6, "-25%", "-12.5%")
    assert one("year", "2026-01-01")["nb_visits"] == 14
    status, series = _get(client, token, method="MultiSites.getOne", idSite=site.pk, period="day", date="last3")
    assert status == 200 and list(series) == [(now().date() - timedelta(days=n)).isoformat() for n in (2, 1, 0)]
    status, raw = _get(client, token, method="MultiSites.getOne", idSite=site.pk, period="week", date="2026-06-03",
                       format_metrics=0)
    assert raw["visits_evolution"] == -0.25


def test_another_users_sites_never_appear(client, owner, token):
    mine = _site("mine", owner=owner)
    theirs = _site("theirs", owner=make_user("stranger"))
    shared = _site("shared", owner=make_user("friend"))
    Membership.objects.create(instance=shared, user=owner, role=Role.VIEW)
    for site in (mine, theirs, shared):
        _days(site, {MONDAY: (1, 1, 1, 0)})
    _status, rows = _get(client, token, method="MultiSites.getAll", period="day", date=MONDAY.isoformat())
    assert sorted(row["idsite"] for row in rows) == sorted([mine.pk, shared.pk])
    status, body = _get(client, token, method="MultiSites.getOne", idSite=theirs.pk, period="day",
                        date=MONDAY.isoformat())
    assert status == 401 and body["result"] == "error"  # Matomo's NoAccessException
    admin_token = token_create(user=make_user("root", superuser=True))[1]
    _status, rows = _get(client, admin_token, method="MultiSites.getAll", period="day", date=MONDAY.isoformat())
    assert {mine.pk, theirs.pk, shared.pk} <= {row["idsite"] for row in rows}
    _status, rows = call_api(client, host=f"{mine.slug}.localhost", token_auth=token, method="MultiSites.getAll",
                             period="day", date=MONDAY.isoformat())
    assert [row["idsite"] for row in rows] == [mine.pk]  # on a site's own domain, only that site


def test_pattern_limit_and_sort_filter_the_sites(client, owner, token):
    for n, slug in enumerate(["alpha", "beta", "alphabet"], start=1):
        _days(_site(slug, owner=owner, main_url=f"https://{slug}.example"), {MONDAY: (n, n, n, 0)})
    day = {"period": "day", "date": MONDAY.isoformat()}
    _status, rows = _get(client, token, method="MultiSites.getAll", pattern="ALPHA", **day)
    assert [row["label"] for row in rows] == ["Alpha", "Alphabet"]
    _status, rows = _get(client, token, method="MultiSites.getAll", filter_sort_column="nb_visits", filter_limit=2,
                         **day)
    assert [row["label"] for row in rows] == ["Alphabet", "Beta"]
    _status, rows = _get(client, token, method="MultiSites.getAll", showColumns="nb_visits", **day)
    assert set(rows[0]) == {"label", "nb_visits"}


@pytest.mark.parametrize("params", [
    {"date": "2026-06-01"},  # no period
    {"period": "fortnight", "date": "2026-06-01"},
    {"period": "day", "date": "June"},
    {"period": "day", "date": "1980-01-01"},
    {"period": "day", "date": "last9999"},
    {"period": "week", "date": "9999-12-31"},
])
def test_bad_periods_are_refused_with_a_message(client, owner, token, params):
    _site("honey", owner=owner)
    code, body = _get(client, token, method="MultiSites.getAll", **params)
    assert code == 200 and body["result"] == "error" and body["message"]  # as Matomo: 200, the error in the body


def test_get_all_needs_a_login_and_get_one_a_site(client, owner, token):
    code, _body = call_api(client, method="MultiSites.getAll", period="day", date="today")
    assert code == 401
    code, body = _get(client, token, method="MultiSites.getOne", period="day", date="today", idSite="1,2")
    assert code == 200 and body["result"] == "error" and "idSite" in body["message"]
