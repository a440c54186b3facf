"""A site admin gives the farm the site's cron URL, runs it now from the Scheduled tasks page, and sees
the call's status code; a refused URL is explained on the form."""
import pytest
from playwright.sync_api import expect

from farm.cron.models import ScheduledTask
from instances.models import Instance
from instances.site_cron import TASK_NAME
from tests.browser.conftest import sign_in_to_site
from tests.cron_server import cron_server
from tests.factories import make_instance, make_user

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_site_admin_sets_the_cron_url_runs_it_now_and_sees_the_call(new_page, portal, celery_worker_process,
                                                                       artifacts):
    make_user("sylvie")
    site = make_instance("spip-site", owner=make_user("sylvie-owner"), state="publie")
    site.memberships.create(user=make_user("sam"), role="admin")
    page = new_page()
    sign_in_to_site(page, portal, site, "sam")
    page.click("#settings-link")

    page.fill("input[name=cron_url]", "http://169.254.169.254/latest/meta-data/")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("a cloud metadata address")

    with cron_server() as server:
        page.fill("input[name=cron_url]", server.url("/ok?action=cron"))
        page.select_option("select[name=cron_every]", "5")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Settings saved.")
        task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
        assert (task.period, task.every) == ("minutes", 5)
        assert Instance.objects.get(pk=site.pk).cron_url == server.url("/ok?action=cron")

        page.goto(page.url.replace("/settings/", "/tasks/"))
        row = page.locator(f"#tasks tr[data-task='{TASK_NAME}']")
        expect(row).to_contain_text("Call the site's cron URL")
        expect(row).to_contain_text("every 5 minutes")
        row.get_by_role("button", name="Run now").click()
        expect(page.get_by_role("status")).to_contain_text("will run in a moment")
        run = page.locator(f"#runs tr[data-task='{TASK_NAME}']").first
        for _ in range(40):  # the page shows the run once the worker has called the URL
            if "HTTP 200" in run.inner_text():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(run).to_contain_text("HTTP 200")
        expect(run).to_contain_text("succeeded")
        page.screenshot(path=artifacts / "site-cron-url.png", full_page=True)
        assert server.called("/ok?action=cron") == 1
