"""The GDPR tools in a real browser: a site admin finds a person by their user id, exports their
visits (the file holds them), deletes them after confirming, and reads each step on the audit trail."""
import json
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from analytics.models import Visit
from farm.tenancy import in_tenant
from tests.browser.conftest import sign_in_to_site
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, make_traffic
from tests.integration.analytics.test_ingest import hit, store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_find_export_delete_a_data_subject_and_read_the_audit_trail(new_page, portal):
    site = make_instance("subjects", owner=make_user("greta"), state="publie")
    make_traffic(site)
    store(site, [hit(site, DAY + timedelta(minutes=m), url=f"https://s.example/account/{m}", action_name="Account",
                     _id="e" * 16, uid="erin@example.org") for m in (30, 31)])
    page = new_page()
    sign_in_to_site(page, portal, site, "greta")
    page.click("#privacy-link")
    expect(page.locator("#privacy-title")).to_be_visible()

    page.fill("#q", "erin@example.org")
    page.click("#find-subjects button[type=submit]")
    expect(page.locator("tr.subject")).to_have_count(1)
    expect(page.locator("#subjects")).to_contain_text("erin@example.org")

    with page.expect_download() as download:
        page.click("#export-json")
    export = json.loads(open(download.value.path()).read())
    assert [row["user_id"] for row in export["log_visit"]] == ["erin@example.org"]
    assert len(export["log_link_visit_action"]) == 2

    page.on("dialog", lambda dialog: dialog.accept())  # "Delete these visits…?"
    page.click("#delete-subjects")
    expect(page.locator('[role="status"]')).to_contain_text("Deleted 1 visit and all its rows")
    expect(page.locator("#subjects")).to_contain_text("0 visits found")
    with in_tenant(site):
        assert not Visit.objects.filter(user_id="erin@example.org").exists() and Visit.objects.exists()
    expect(page.locator("tr.audit-line")).to_have_count(4)  # found, exported, deleted, found again
    expect(page.locator('tr.audit-line[data-action="delete"]')).to_contain_text("greta")
    expect(page.locator('tr.audit-line[data-action="delete"]')).to_contain_text("log_link_visit_action: 2")
