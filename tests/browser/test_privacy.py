"""Privacy in a real browser: the opt-out iframe on a tracked page stops the counting and starts it
again; a site admin edits the privacy settings (a bad value is explained), a viewer cannot."""
import time

import pytest
from playwright.sync_api import expect

from analytics.models import Action
from instances.models import Instance
from tests.browser.conftest import sign_in_to_site, stored, tracked_page, viewer_refused_the_settings, wait_until
from tests.factories import make_instance, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BODY = """<h1>Our privacy policy</h1>
<iframe id="optout" src="http://{host}/optout/" style="border:0;width:100%;height:180px"></iframe>
"""


def _reload_and_wait_for_the_hit(page):
    with page.expect_response(lambda r: "/matomo.php" in r.url):
        page.reload()


@pytest.mark.worker
def test_the_opt_out_iframe_stops_and_restarts_the_counting(new_page, live_server, shop_server,
                                                             celery_worker_process, artifacts):
    site = make_instance("private", state="publie")
    host = f"private.localhost:{live_server.thread.port}"
    # The tracked website lives on a sibling host (www.), as a site with its own stats subdomain does.
    shop = shop_server(tracked_page(title="Privacy policy", host=host, idsite=site.pk, body=BODY.replace("{host}", host)),
                       host="www.private.localhost")
    page = new_page()
    with page.expect_response(lambda r: "/matomo.php" in r.url):
        page.goto(shop)
    wait_until(lambda: stored(site, Action, kind="pageview", title="Privacy policy") == 1)

    optout = page.frame_locator("#optout")
    expect(optout.locator("#optout-state")).to_contain_text("are counted")
    optout.get_by_role("button", name="Do not count my visits").click()
    expect(optout.locator("#optout-state")).to_contain_text("You have opted out")
    page.screenshot(path=artifacts / "opt-out.png")

    _reload_and_wait_for_the_hit(page)
    time.sleep(2)  # the worker drains within a second: a recorded hit would be there by now
    assert stored(site, Action, kind="pageview") == 1

    page.frame_locator("#optout").get_by_role("button", name="Count my visits again").click()
    expect(page.frame_locator("#optout").locator("#optout-state")).to_contain_text("are counted")
    _reload_and_wait_for_the_hit(page)
    wait_until(lambda: stored(site, Action, kind="pageview") == 2)


def test_a_site_admin_edits_privacy_settings_and_a_viewer_cannot(new_page, portal, artifacts):
    owner = make_user("ines")
    site = make_instance("calm", owner=owner, state="publie")
    page = new_page()
    sign_in_to_site(page, portal, site, "ines")
    page.click("#settings-link")
    page.select_option("select[name=ip_mask_bytes]", "3")
    page.fill("textarea[name=excluded_ips]", "10.0.0.0/8\n10.0.0.300")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("10.0.0.300")
    page.fill("textarea[name=excluded_ips]", "10.0.0.0/8\n192.168.*.*")
    page.fill("input[name=report_retention_months]", "1")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".errorlist")).to_contain_text("greater than or equal to 2")
    page.fill("input[name=report_retention_months]", "13")
    page.uncheck("input[name=report_retention_keep_month_year]")
    page.check("input[name=cookieless]")
    page.select_option("select[name=order_ids]", "short")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved.")
    page.screenshot(path=artifacts / "site-settings.png", full_page=True)
    site = Instance.objects.get(pk=site.pk)
    assert (site.ip_mask_bytes, site.excluded_ips) == (3, "10.0.0.0/8\r\n192.168.*.*")
    assert (site.report_retention_months, site.report_retention_keep_basic_metrics,
            site.report_retention_keep_month_year, site.cookieless, site.order_ids) == (13, True, False, True, "short")
    page.get_by_role("link", name="Tracking code").click()
    expect(page.locator("#snippet")).to_contain_text("_paq.push(['disableCookies']);")  # a cookieless site's snippet

    viewer_refused_the_settings(new_page, portal, site, "victor")


@pytest.mark.worker
def test_a_stricter_setting_is_applied_to_stored_visits_with_its_progress_shown(new_page, portal, celery_worker_process,
                                                                                artifacts):
    from datetime import datetime, timedelta, timezone

    from analytics.models import Visit
    from farm.tenancy import in_tenant
    from instances.privacy import user_pseudonym
    from tests.integration.analytics.test_ingest import hit, store

    owner = make_user("paula")
    site = make_instance("past", owner=owner, state="publie")
    start = datetime.now(timezone.utc) - timedelta(days=2)
    store(site, [hit(site, start + timedelta(hours=n), uid=f"member-{n}", action_name="Home") for n in range(5)])
    page = new_page()
    sign_in_to_site(page, portal, site, "paula")
    page.click("#settings-link")
    expect(page.locator("#anonymisations")).to_contain_text("Nothing yet.")
    page.check("input[name=pseudonymise_user_ids]")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved.")
    card = page.locator("#anonymisations")
    expect(card).to_contain_text("user ids pseudonymised")
    expect(card.locator("tr[data-state=done]")).to_have_count(1, timeout=30_000)  # polled until the task is done
    expect(card).to_contain_text("5 of 5 visits")
    page.screenshot(path=artifacts / "settings-anonymisation.png", full_page=True)
    with in_tenant(site):
        assert set(Visit.objects.values_list("user_id", flat=True)) == {
            user_pseudonym(f"member-{n}", site_id=site.pk) for n in range(5)}
