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
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Settings saved.")
    page.screenshot(path=artifacts / "site-settings.png", full_page=True)
    site = Instance.objects.get(pk=site.pk)
    assert (site.ip_mask_bytes, site.excluded_ips) == (3, "10.0.0.0/8\r\n192.168.*.*")

    viewer_refused_the_settings(new_page, portal, site, "victor")
