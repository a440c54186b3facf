"""Segments in a real browser: on the visitor log, build a segment from a dimension, a suggested value
and an operator, apply it (the log and its count change), save it, come back to all visits, and find
it in the saved list, applied in one click."""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in_to_site
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, make_traffic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def build_and_apply(page, dimension: str, operator: str, value: str) -> None:
    """One condition from the builder: the dimension, its suggested values (the last 60 days hold only
    Dan's visit, the rest is older: his visit count is offered), the operator and the value."""
    page.select_option("#builder-dimension", dimension)
    # NB: no string predicate (wait_for_function would eval it, which the pages' policy refuses)
    expect(page.locator("#segment-builder")).to_have_attribute("data-suggested", dimension)
    assert page.eval_on_selector_all("#builder-values option", "os => os.map(o => o.value)") == ["1"]
    page.select_option("#builder-operator", operator)
    page.fill("#builder-value", value)
    page.click("#builder-and")
    expect(page.locator("#segment-input")).to_have_value(f"{dimension}{operator}{value}")
    page.click("#segment-form button[type=submit]")


def test_a_segment_typed_applied_saved_and_picked_again(new_page, portal):
    site = make_instance("trails", owner=make_user("tess"), state="publie")
    make_traffic(site)  # on DAY: Alice twice (her second visit is her 2nd), Bob, Carol
    page = new_page()
    sign_in_to_site(page, portal, site, "tess")
    log = f"http://trails.localhost:{portal.rsplit(':', 1)[1]}/visitor-log/?period=day&date={DAY.date()}"
    page.goto(log)
    expect(page.locator("article.visit")).to_have_count(4)

    # built with the condition builder: a dimension, its suggested values, an operator
    build_and_apply(page, "visitCount", ">", "1")
    expect(page.locator("#segment-count")).to_contain_text("1 visit matches this segment")
    expect(page.locator("article.visit")).to_have_count(1)
    assert "segment=visitCount%3E1" in page.url

    page.fill("#segment-name", "Came back")
    page.click("#segment-save button[type=submit]")
    expect(page.locator('[role="status"]')).to_contain_text("Segment saved.")
    expect(page.locator("article.visit")).to_have_count(1)  # still applied after saving

    page.click("#segment-clear")
    expect(page.locator("article.visit")).to_have_count(4)
    page.reload()
    page.get_by_role("link", name="Came back").click()
    expect(page.locator("#segment-input")).to_have_value("visitCount>1")
    expect(page.locator("article.visit")).to_have_count(1)

    page.click("#segment-presets summary")  # a ready-made one: Carol browses on her phone
    page.get_by_role("link", name="Smartphones").click()
    expect(page.locator("#segment-input")).to_have_value("deviceType==smartphone")
    expect(page.locator("article.visit")).to_have_count(1)
    expect(page.locator("article.visit")).to_contain_text("c" * 16)

    page.fill("#segment-input", "visitCount>")  # a bad expression: said on the page, nothing breaks
    page.click("#segment-form button[type=submit]")
    expect(page.locator('[role="alert"]')).to_contain_text("no value")


def test_a_segment_built_on_the_overview_changes_it_and_is_saved_pre_processed(new_page, portal):
    site = make_instance("overseg", owner=make_user("olga"), state="publie")
    site.k_anonymity = 2
    site.save()
    make_traffic(site)  # on DAY: Alice twice, Bob, Carol (on her phone)
    page = new_page()
    sign_in_to_site(page, portal, site, "olga")
    page.goto(f"http://overseg.localhost:{portal.rsplit(':', 1)[1]}/?period=day&date={DAY.date()}")
    visits = page.locator('#summary-cards [data-metric="nb_visits"] .value')
    expect(visits).to_have_text("4")

    build_and_apply(page, "visitCount", "==", "1")
    expect(page.locator("#segment-count")).to_contain_text("3 visits match this segment")
    expect(visits).to_have_text("3")  # Alice's first visit, Bob's, Carol's
    # Carol alone on a smartphone: fewer than k = 2 visitors, withheld, and the page says so
    expect(page.locator('[role="status"]')).to_contain_text("withheld")
    expect(page.locator("#report-DevicesDetection-getType")).not_to_contain_text("Smartphone")

    page.fill("#segment-name", "First visits")
    page.check("#segment-auto-archive")
    page.click("#segment-save button[type=submit]")
    expect(page.locator('[role="status"]').first).to_contain_text("Segment saved.")
    expect(visits).to_have_text("3")  # back on the overview, still applied
    assert page.url.split("?")[0].endswith("/")

    page.click("#segment-clear")
    expect(visits).to_have_text("4")
    page.reload()
    page.get_by_role("link", name="First visits").click()
    expect(page.locator("#segment-input")).to_have_value("visitCount==1")
    expect(visits).to_have_text("3")
    page.get_by_role("link", name="Visitor log").first.click()  # the segment goes along
    expect(page.locator("article.visit")).to_have_count(3)

    page.go_back()  # the overview again: all visits beside the saved segment
    page.check('#segment-compare-form input[type=checkbox][value="visitCount==1"]')
    page.click("#segment-compare-button")
    expect(page.locator("#segment-compare thead")).to_contain_text("First visits")
    expect(page.locator("#segment-compare tbody tr").first).to_have_text(re.compile(r"Visits\s*4\s*3"))
