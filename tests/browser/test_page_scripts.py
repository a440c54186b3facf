"""The pages' behaviours that were inline handlers, now wired by farm/static/farm/page.js under the
Content-Security-Policy (every browser test fails on a refusal: tests/browser/conftest.py): the
language menu switches at once, the privacy page's "all" box checks and unchecks every visit, and
a deletion is asked for first."""
import pytest
from playwright.sync_api import expect

from analytics.models import Visit
from tests.browser.conftest import sign_in_to_site, stored
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, make_traffic

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_language_menu_switches_without_an_inline_handler(new_page, portal):
    page = new_page()
    response = page.goto(f"{portal}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.select_option("select[name=language]", "fr")
    expect(page.locator("h1")).to_have_text("Se connecter")


def test_the_privacy_page_checks_all_and_asks_before_deleting(new_page, portal):
    site = make_instance("scripted", owner=make_user("pia"), state="publie")
    make_traffic(site)
    page = new_page()
    sign_in_to_site(page, portal, site, "pia")
    page.goto(f"http://{site.slug}.localhost:{portal.rsplit(':', 1)[1]}/privacy/?q={ALICE}")
    boxes = page.locator("input[name=visit]")
    assert boxes.count() >= 1
    page.uncheck("#all-subjects")
    assert all(not boxes.nth(i).is_checked() for i in range(boxes.count()))
    page.check("#all-subjects")
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    before = stored(site, Visit)
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#delete-subjects")
    assert asked and "cannot be undone" in asked[0]
    assert stored(site, Visit) == before  # dismissed: nothing deleted
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#delete-subjects")
    assert stored(site, Visit) < before
