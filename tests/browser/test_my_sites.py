"""All websites in a real browser: the owner opens "My sites", switches the period with the picker and
the numbers change in place (htmx, no full reload), sorts by a column, and reads the sparklines."""
import re

import pytest
from playwright.sync_api import expect

from analytics.reports.archive import archive_run
from farm.tenancy import in_tenant
from instances.models import SiteDay
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, make_traffic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sites():
    owner = make_user("olga")
    meadow = make_instance("meadow", owner=owner, state="publie")
    make_traffic(meadow)  # four visits on DAY, one now
    with in_tenant(meadow):
        archive_run()  # writes the days' summary rows, as the hourly task does
    orchard = make_instance("orchard", owner=owner, state="publie")
    SiteDay.objects.create(instance=orchard, day=DAY.date().replace(day=20), nb_visits=7, nb_actions=9,
                           nb_pageviews=9, revenue=12)
    make_instance("seedling", owner=owner)  # requested, not live yet
    return meadow, orchard


def visits(page, slug):
    return page.locator(f'tr[data-slug="{slug}"] td[data-metric="nb_visits"]')


def test_switching_the_period_changes_the_numbers_shown(new_page, portal, sites, artifacts):
    page = new_page()
    page.goto(f"{portal}/accounts/login/?next=/sites/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "a-long-Passw0rd")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(visits(page, "meadow")).to_contain_text("1")  # today: Dan, a few minutes ago
    expect(page.locator('tr[data-slug="seedling"]')).to_contain_text("not live")
    page.wait_for_function("() => window.htmx")
    page.evaluate("window.stillTheSamePage = true")

    page.select_option("#board-period", "day")
    page.fill("#board-date", str(DAY.date()))
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"/sites/\?period=day&date={DAY.date()}&"))  # the choice is in the URL
    expect(visits(page, "meadow")).to_have_text(re.compile(r"^4\s*\+100%$"))  # nothing the day before
    expect(page.locator('#board-totals td[data-metric="nb_visits"]')).to_contain_text("4")

    page.select_option("#board-period", "month")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#board-period-label")).to_have_text("2026-06-01 – 2026-06-30")
    expect(visits(page, "orchard")).to_contain_text("7")
    expect(page.locator('#board-totals td[data-metric="nb_visits"]')).to_contain_text("11")
    expect(page.locator("tbody tr").first).to_have_attribute("data-slug", "orchard")  # most visits first
    page.screenshot(path=artifacts / "my-sites-month.png", full_page=True)

    page.locator('a[data-sort="revenue"]').click()
    expect(page.locator('a[data-sort="revenue"]')).to_contain_text("↓")
    expect(page.locator("tbody tr").first).to_have_attribute("data-slug", "meadow")  # 35 € against 12 €
    page.locator('a[data-sort="revenue"]').click()  # again: the other way
    expect(page.locator('a[data-sort="revenue"]')).to_contain_text("↑")
    expect(page.locator("tbody tr").first).to_have_attribute("data-slug", "orchard")
    assert page.locator('tr[data-slug="seedling"]').is_visible()  # still listed, last
    assert page.locator('tr[data-slug="orchard"] svg.sparkline').get_attribute("data-values").endswith(",7")
    assert page.evaluate("window.stillTheSamePage") is True  # every change was swapped in, no reload


def test_the_owner_reads_their_quotas_on_my_sites(new_page, portal, sites, settings):
    """Quotas as the owner sees them: sites used of allowed (the request page refuses past it), and
    each live site's hits this month against its limit."""
    from instances.models import Instance
    settings.FARM_QUOTA_SITES_PER_USER = 3
    meadow, _orchard = sites
    Instance.objects.filter(pk=meadow.pk).update(quota_hits_per_month=1000)
    page = new_page()
    page.goto(f"{portal}/accounts/login/?next=/sites/")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", "a-long-Passw0rd")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.locator("#sites-quota")).to_contain_text("Sites: 3 of 3")
    expect(page.locator("#sites-quota-reached")).to_be_visible()
    expect(page.locator('tr[data-slug="meadow"] .usage')).to_contain_text("of 1,000 hits this month")
    page.goto(f"{portal}/sites/request/")
    page.fill("input[name=name]", "Fourth")
    page.fill("input[name=slug]", "fourth-one")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".errorlist")).to_contain_text("You already have 3 sites")
