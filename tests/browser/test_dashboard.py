"""The site dashboard in a real browser: the owner reads the overview (the evolution chart is drawn),
switches period, sorts a report in place, watches real-time refresh, opens the visitor log and a
visitor profile, reads the world map of the Locations page; a member with the view role cannot open
the settings."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.reports.archive import archive_run
from farm.tenancy import in_tenant
from tests import network_guard
from tests.browser.conftest import sign_in_to_site, viewer_refused_the_settings
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, DAY, make_traffic
from tests.integration.analytics.test_ingest import hit, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_DATA = "id => Chart.getChart(document.getElementById(id)).data.datasets[0].data"
# How many pixels of the canvas are painted: a drawn chart has thousands, an empty canvas none.
PAINTED = """id => { const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; }"""
MAP = "#map-countries-map"
FILLS = f"""codes => codes.map(code => document.querySelector(`{MAP} path[data-code="${{code}}"]`).getAttribute("fill"))"""
# A point of the page inside a country's shape (its box's centre may be sea, or another country's land).
INSIDE = f"""code => {{ const path = document.querySelector(`{MAP} path[data-code="${{code}}"]`);
  const box = path.getBBox(), svg = path.ownerSVGElement, screen = path.getScreenCTM();
  for (let i = 0; i < 400; i++) {{
    const p = svg.createSVGPoint();
    p.x = box.x + box.width * (i % 20 + .5) / 20; p.y = box.y + box.height * (Math.floor(i / 20) + .5) / 20;
    const at = p.matrixTransform(screen);
    if (path.isPointInFill(p) && document.elementFromPoint(at.x, at.y) === path) {{ return {{x: at.x, y: at.y}}; }}
  }}
  return null; }}"""


@pytest.fixture
def meadow():
    owner = make_user("olga")
    site = make_instance("meadow", owner=owner, state="publie")
    make_traffic(site)
    with in_tenant(site):
        archive_run()
    return site


@pytest.fixture
def atlas():
    """meadow's traffic (Carol from Spain, the others from addresses of no known country), plus three
    visits from France and one from Germany on the same day."""
    site = make_instance("atlas", owner=make_user("otto"), state="publie")
    make_traffic(site)
    store(site, [{**hit(site, DAY + timedelta(minutes=30 + n), _id=f"{n:016x}"), "cc": country, "ipd": f"{n:032x}"}
                 for n, country in enumerate(["FR", "FR", "FR", "DE"], start=1)])
    with in_tenant(site):
        archive_run()
    return site


def test_the_owner_reads_the_dashboard_switches_period_and_follows_a_visitor(new_page, portal, meadow, artifacts):
    page = new_page()
    sign_in_to_site(page, portal, meadow, "olga")
    expect(page.locator("#freshness")).to_contain_text("Reports processed")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('evolution-chart'))")
    today = page.evaluate(CHART_DATA, "evolution-chart")
    assert len(today) == 30 and today[-1] == 1  # Dan, on the site a few minutes ago
    assert page.evaluate(PAINTED, "evolution-chart") > 1000
    page.screenshot(path=artifacts / "dashboard-overview.png", full_page=True)

    # The period picker: the week of the past traffic; the choice is in the URL.
    page.select_option("#picker-period", "week")
    page.fill("#picker-date", str(DAY.date()))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"http://meadow.localhost:{portal.rsplit(':', 1)[1]}/?period=week&date={DAY.date()}")
    expect(page.locator("#period-label")).to_have_text("2026-06-01 – 2026-06-07")
    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('evolution-chart'))")
    week = page.evaluate(CHART_DATA, "evolution-chart")
    assert len(week) == 26 and week[-1] == 4
    page.screenshot(path=artifacts / "dashboard-week.png", full_page=True)

    # A report page keeps the period; sorting a table swaps it in place (htmx), its chart redrawn.
    page.get_by_role("link", name="Devices", exact=True).click()
    expect(page).to_have_url(f"http://meadow.localhost:{portal.rsplit(':', 1)[1]}/reports/devices/?period=week"
                             f"&date={DAY.date()}")
    browsers = page.locator("#report-DevicesDetection-getBrowsers")
    browsers.locator("a[data-sort=nb_visits]").click()
    expect(page.locator("#report-DevicesDetection-getBrowsers a[data-sort=nb_visits]")).to_contain_text("↓")
    page.wait_for_function("() => Chart.getChart(document.getElementById('chart-report-DevicesDetection-getBrowsers-canvas'))")
    assert sum(page.evaluate(CHART_DATA, "chart-report-DevicesDetection-getBrowsers-canvas")) == 4
    page.screenshot(path=artifacts / "dashboard-devices.png", full_page=True)

    # Real-time refreshes by itself when a new visit arrives.
    page.click("#realtime-link")
    thirty = page.locator("[data-minutes='30'] .visits")
    expect(thirty).to_have_text("1")
    store(meadow, [hit(meadow, timezone.now() - timedelta(seconds=5), url="https://s.example/new", action_name="New",
                       _id="e" * 16)])
    expect(thirty).to_have_text("2", timeout=12_000)
    page.screenshot(path=artifacts / "dashboard-realtime.png", full_page=True)

    # The visitor log of the chosen day (not today's visits), then Alice's profile with both her visits.
    page.click("#visitor-log-link")
    expect(page.locator("article.visit")).to_have_count(4)
    page.screenshot(path=artifacts / "dashboard-visitor-log.png", full_page=True)
    page.locator(f"a.visitor-link[href='/visitors/{ALICE}/']").first.click()
    expect(page.locator("#total-visits")).to_have_text("2")
    expect(page.locator("article.visit").first.locator("li[data-type=ecommerceOrder]")).to_have_count(1)
    page.screenshot(path=artifacts / "dashboard-visitor-profile.png", full_page=True)


def test_a_member_with_the_view_role_reads_the_dashboard_but_cannot_open_the_settings(new_page, portal, meadow):
    page = viewer_refused_the_settings(new_page, portal, meadow, "vera")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    page.go_back()
    expect(page.locator("#dashboard-title")).to_have_text(meadow.name)


def test_the_locations_page_shows_a_world_map_of_visits_per_country(new_page, portal, atlas, artifacts):
    page = new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    sign_in_to_site(page, portal, atlas, "otto")
    page.goto(f"http://atlas.localhost:{portal.rsplit(':', 1)[1]}/reports/locations/?period=day&date={DAY.date()}")
    expect(page.get_by_role("heading", name="Visits per country")).to_be_visible()
    regions = page.locator(f"{MAP} svg path.jvm-region")
    expect(regions.first).to_be_attached()
    assert regions.count() > 150

    # Countries with visits are shaded (France, with the most, darkest); the others stay grey.
    france, germany, spain, brazil, japan = page.evaluate(FILLS, ["FR", "DE", "ES", "BR", "JP"])
    assert brazil == japan and brazil not in (france, germany, spain)
    assert germany == spain != france

    # Hovering a country tells its visits; the legend gives the metric and the scale's ends.
    page.locator(MAP).scroll_into_view_if_needed()  # below the segment bar: maybe under the fold
    point = page.evaluate(INSIDE, "FR")
    assert point, "no point of the page inside France"
    page.mouse.move(point["x"], point["y"])
    expect(page.locator(".jvm-tooltip.active")).to_have_text("France: 3 Visits")
    legend = page.locator(f"{MAP} .map-legend")
    expect(legend).to_be_visible()
    expect(legend).to_have_text("Visits13")
    page.screenshot(path=artifacts / "dashboard-locations-map.png", full_page=True)

    # Everything the page needed (map data included) came from this machine.
    assert requested and all(network_guard.host_is_local(urlsplit(url).hostname) for url in requested), requested
