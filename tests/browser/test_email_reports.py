"""Email reports in a real browser: a site member creates a daily report of two reports, sees its
preview (charts drawn, the day's numbers), sends it now and sees the delivery recorded."""
from datetime import datetime, time, timedelta, timezone

import pytest
from django.core import mail
from playwright.sync_api import expect

from instances.scheduled_reports import ReportDelivery
from tests.browser.conftest import sign_in_to_site
from tests.factories import make_instance, make_user
from tests.integration.analytics.test_ingest import hit, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_creates_previews_and_sends_an_email_report(new_page, portal, artifacts):
    owner = make_user("emma")
    site = make_instance("digest", owner=owner, state="publie")
    yesterday = datetime.combine(datetime.now(timezone.utc).date() - timedelta(days=1), time(10), timezone.utc)
    store(site, [hit(site, yesterday + timedelta(minutes=n), url=f"https://s.example/p{n % 2}", action_name=f"P{n % 2}",
                     _id=f"{n:016x}") for n in range(3)])
    page = new_page()
    sign_in_to_site(page, portal, site, "emma")
    page.click("#email-reports-link")
    expect(page.locator("#email-report-list")).to_contain_text("No email report yet.")
    page.fill("input[name=description]", "Morning digest")
    page.select_option("select[name=period]", "day")
    page.select_option("select[name=hour]", "7")
    page.select_option("select[name=reports]", ["VisitsSummary.get", "Actions.getPageUrls"])
    page.fill("textarea[name=additional_emails]", "not-an-address")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#email-report-form")).to_contain_text("is not an email address")
    page.fill("textarea[name=additional_emails]", "team@example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Morning digest")

    preview = page.frame_locator("#email-report-preview iframe")
    expect(preview.locator(".report")).to_have_count(2)
    expect(preview.locator('.report[data-method="VisitsSummary.get"] td[data-metric="nb_visits"]')).to_have_text("3")
    for n in range(2):  # the charts are drawn: PNGs the browser decoded
        image = preview.locator("img").nth(n)
        expect(image).to_be_visible()
        assert image.evaluate("img => img.complete && img.naturalWidth > 100")
    page.screenshot(path=artifacts / "email-report-preview.png", full_page=True)

    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("status")).to_contain_text("Sent to emma@example.org, team@example.org")
    expect(page.locator(".delivery[data-state=sent]")).to_have_count(1)
    sent = [m for m in mail.outbox if "Morning digest" in m.subject]
    assert len(sent) == 1 and sent[0].to == ["emma@example.org", "team@example.org"]
    assert ReportDelivery.objects.get().forced
