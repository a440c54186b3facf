"""The portal's "My sites" board: each site's visits, page views, revenue and change for the chosen period,
sparklines, totals, sorting; sites that are not live listed without numbers; bad periods explained."""
import re
from datetime import date, datetime, timezone

import pytest
from django.utils import timezone as dj_timezone

from instances import board as boards
from instances import overview
from instances.models import Instance, SiteDay
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
MONDAY = date(2026, 6, 1)


def _cells(html: str, slug: str) -> dict[str, str]:
    """The text of a site's numeric cells, by metric."""
    row = re.search(rf'<tr data-slug="{slug}">(.*?)</tr>', html, re.S).group(1)
    return {metric: re.sub(r"<[^>]+>", " ", cell).split()
            for metric, cell in re.findall(r'data-metric="(\w+)">(.*?)</td>', row, re.S)}


@pytest.fixture
def board(client):
    owner = make_user("olga")
    honey = make_instance("honey", owner=owner, state="publie")
    wax = make_instance("wax", owner=owner, state="publie")
    make_instance("pending", owner=owner)  # requested, not live
    make_instance("elsewhere", state="publie")  # another person's site
    for site, rows in ((honey, {date(2026, 5, 31): (2, 4, 10), MONDAY: (3, 6, 15.5), date(2026, 6, 20): (10, 20, 0)}),
                       (wax, {MONDAY: (5, 5, 0), date(2026, 5, 2): (1, 1, 0)})):
        for day, (visits, pageviews, revenue) in rows.items():
            SiteDay.objects.create(instance=site, day=day, nb_visits=visits, nb_actions=visits, nb_pageviews=pageviews,
                                   revenue=revenue)
    client.force_login(owner)
    return client


def test_a_day_shows_each_sites_numbers_changes_and_the_totals(board):
    response = board.get("/sites/", {"period": "day", "date": "2026-06-01"}, **PORTAL)
    html = response.content.decode()
    assert response.status_code == 200
    assert _cells(html, "honey") == {"nb_visits": ["3", "+50%"], "nb_pageviews": ["6", "+50%"],
                                     "revenue": ["15.50", "€", "+55%"], "nb_visits_change": ["+50%"]}
    assert _cells(html, "wax")["nb_visits"] == ["5", "+100%"]
    totals = re.search(r'<tr id="board-totals">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r'data-metric="nb_visits">8<', totals) and "+300%" in totals  # 8 visits against 2
    assert "elsewhere" not in html


def test_the_numbers_change_with_the_period(board):
    month = board.get("/sites/", {"period": "month", "date": "2026-06-10"}, **PORTAL).content.decode()
    assert _cells(month, "honey")["nb_visits"][0] == "13"  # June 1 and June 20
    assert _cells(month, "wax")["nb_visits"] == ["5", "+400%"]  # May held 1 visit
    span = board.get("/sites/", {"period": "range", "date": "2026-05-31", "end": "2026-06-01"}, **PORTAL)
    assert _cells(span.content.decode(), "honey")["nb_visits"][0] == "5"


def test_a_site_that_is_not_live_is_listed_with_its_status_and_no_numbers(board):
    html = board.get("/sites/", **PORTAL).content.decode()
    row = re.search(r'<tr data-slug="pending">(.*?)</tr>', html, re.S).group(1)
    assert "requested" in row and "not live" in row and "data-metric" not in row


def test_the_board_sorts_by_each_column_and_keeps_sites_without_numbers_last(board):
    def order(**params):
        html = board.get("/sites/", {"period": "day", "date": "2026-06-01", **params}, **PORTAL).content.decode()
        return re.findall(r'<tr data-slug="([\w-]+)">', html)
    assert order() == ["wax", "honey", "pending"]  # visits, most first, by default
    assert order(sort="nb_visits", order="asc") == ["honey", "wax", "pending"]
    assert order(sort="revenue") == ["honey", "wax", "pending"]
    assert order(sort="nb_visits_change") == ["wax", "honey", "pending"]
    assert order(sort="name", order="asc") == ["honey", "pending", "wax"]


def test_the_sparkline_follows_the_last_periods_visits(board):
    html = board.get("/sites/", {"period": "day", "date": "2026-06-01"}, **PORTAL).content.decode()
    row = re.search(r'<tr data-slug="honey">(.*?)</tr>', html, re.S).group(1)
    values = [int(v) for v in re.search(r'data-values="([\d,]+)"', row).group(1).split(",")]
    assert len(values) == 30 and values[-2:] == [2, 3] and sum(values) == 5


def test_an_htmx_request_gets_the_board_alone(board):
    response = board.get("/sites/", {"period": "week", "date": "2026-06-01"}, HTTP_HX_REQUEST="true", **PORTAL)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="sites-board">') and "<html" not in html


@pytest.mark.parametrize("params, message", [
    ({"period": "fortnight"}, "period must be one of"),
    ({"period": "day", "date": "someday"}, "is not a date"),
    ({"period": "range", "date": "2026-06-02", "end": "2026-06-01"}, "must not end"),
    ({"period": "range", "date": "2020-01-01", "end": "2026-06-01"}, "at most 366 days"),
    ({"period": "week", "date": "9999-12-31"}, "dates go from"),
    ({"period": "year", "date": "0001-01-01"}, "dates go from"),
])
def test_a_bad_period_is_explained_on_the_page(board, params, message):
    response = board.get("/sites/", params, **PORTAL)
    assert response.status_code == 400 and message in response.content.decode()


def test_an_unfinished_period_is_compared_with_the_same_share_of_the_one_before():
    span = overview.Span.of("day", MONDAY)
    noon = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
    ratio = overview.elapsed_ratio(span, now=noon, timezone_name="UTC")
    assert ratio == 0.5
    assert overview.evolution(5, 10, ratio=ratio) == 0  # 5 by noon against 10 the whole day before
    assert overview.elapsed_ratio(span, now=noon, timezone_name="Asia/Tokyo") == 0.875  # 21:00 there
    assert overview.elapsed_ratio(overview.Span.of("day", date(2026, 5, 1)), now=noon, timezone_name="UTC") == 1


def test_a_long_list_is_cut_into_pages_and_the_totals_count_every_site(board):
    sites = list(Instance.objects.filter(owner__username="olga"))
    span = overview.Span.of("day", MONDAY)
    first, second = (boards.sites_board(instances=sites, span=span, now=dj_timezone.now(), timezone_name="UTC",
                                          per_page=2, page=page) for page in (1, 2))
    assert [line.instance.slug for line in first.lines] == ["wax", "honey"]
    assert [line.instance.slug for line in second.lines] == ["pending"]
    assert (second.page, second.pages, second.count, second.totals["nb_visits"]) == (2, 2, 3, 8)
    assert boards.sites_board(instances=sites, span=span, now=dj_timezone.now(), timezone_name="UTC", per_page=2,
                                page=99).page == 2
