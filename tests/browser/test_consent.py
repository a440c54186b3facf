"""Consent and cookieless tracking in a real browser, with the farm's tracker as a site loads it:
nothing is sent before consent when the site requires it, hits are sent once it is given (and
remembered in Matomo's mtm_consent cookie), none after it is withdrawn; with cookie consent
required, or on a cookieless site, hits are sent but nothing is kept on the device."""
import time

import pytest

from analytics.models import Action, Visit
from instances.models import Instance
from tests.browser.conftest import stored, tracked_page, wait_until
from tests.factories import make_instance

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BUTTONS = """
<button id="consent" onclick="_paq.push(['rememberConsentGiven'])">I agree</button>
<button id="forget" onclick="_paq.push(['forgetConsentGiven'])">I no longer agree</button>
<button id="cookies" onclick="_paq.push(['rememberCookieConsentGiven'])">Cookies are fine</button>
<button id="buy" onclick="_paq.push(['trackEvent', 'Shop', 'Buy', 'jar'])">Buy</button>"""


def page_requiring(command: str, *, site, host: str) -> str:
    html = tracked_page(title="Honey shop", host=host, idsite=site.pk, body=BUTTONS)
    return html.replace("_paq.push(['trackPageView']);", f"_paq.push(['{command}']);\n_paq.push(['trackPageView']);", 1)


def device(page) -> dict:
    """What the page keeps on the device: the farm tracker's localStorage keys and the cookies."""
    keys = page.evaluate("Object.keys(localStorage).filter(function (k) { return k.indexOf('_farm') === 0; })")
    return {"storage": sorted(keys), "cookies": sorted(c["name"] for c in page.context.cookies())}


def hits(requests) -> int:
    return sum("matomo.php" in url for url in requests)


@pytest.fixture
def shop(new_page, live_server, shop_server):
    """(site, page, URL of a shop page that requires `command`, the tracker requests the page sent)."""
    def open_shop(slug, command, **settings):
        site = make_instance(slug, state="publie")
        if settings:
            Instance.objects.filter(pk=site.pk).update(**settings)
            Instance.objects.get(pk=site.pk).save()  # the host cache forgets the site
        page, requests = new_page(), []
        page.on("request", lambda request: requests.append(request.url))
        host = f"{slug}.localhost:{live_server.thread.port}"
        return site, page, shop_server(page_requiring(command, site=site, host=host)), requests
    return open_shop


def test_nothing_is_sent_before_consent_everything_after_and_nothing_once_withdrawn(shop, celery_worker_process,
                                                                                    artifacts):
    site, page, url, requests = shop("consenting", "requireConsent")
    page.goto(url)
    page.wait_for_function("window.__farmTracker === true")
    page.click("#buy")
    time.sleep(1.5)
    assert hits(requests) == 0 and stored(site, Action) == 0
    assert device(page) == {"storage": [], "cookies": []}

    page.click("#consent")  # the page view and the event waited in the page: both go now
    wait_until(lambda: stored(site, Action, kind="pageview", title="Honey shop") == 1)
    wait_until(lambda: stored(site, Action, kind="event", event_action="Buy") == 1)
    assert device(page) == {"storage": ["_farm_id", "_farm_idts", "_farm_idvc", "_farm_last"],
                            "cookies": ["mtm_consent"]}

    page.reload()  # consent remembered: tracked without asking again, as the same visitor
    page.wait_for_function("window.__farmTracker === true")
    wait_until(lambda: stored(site, Action, kind="pageview") == 2)
    assert stored(site, Visit) == 1
    page.screenshot(path=artifacts / "consent-given.png")

    page.click("#forget")
    assert device(page) == {"storage": [], "cookies": ["mtm_consent_removed"]}
    sent = hits(requests)
    page.click("#buy")
    page.reload()
    page.wait_for_function("window.__farmTracker === true")
    time.sleep(1.5)
    assert hits(requests) == sent
    assert stored(site, Action, kind="event") == 1 and stored(site, Action, kind="pageview") == 2


def test_with_cookie_consent_required_hits_are_sent_but_nothing_is_kept_until_consent(shop, celery_worker_process):
    site, page, url, requests = shop("cookie-consent", "requireCookieConsent")
    page.goto(url)
    page.wait_for_function("window.__farmTracker === true")
    wait_until(lambda: stored(site, Action, kind="pageview") == 1)
    assert device(page) == {"storage": [], "cookies": []}

    page.click("#cookies")
    page.click("#buy")
    wait_until(lambda: stored(site, Action, kind="event") == 1)
    assert device(page) == {"storage": ["_farm_id", "_farm_idts", "_farm_idvc", "_farm_last"],
                            "cookies": ["mtm_cookie_consent"]}


def test_a_cookieless_site_keeps_nothing_on_the_device_and_still_knows_its_visitor(shop, celery_worker_process):
    # The page calls nothing special: the site's own /matomo.js knows it is cookieless.
    site, page, url, requests = shop("cookieless", "enableLinkTracking", cookieless=True)
    page.goto(url)
    page.wait_for_function("window.__farmTracker === true")
    wait_until(lambda: stored(site, Action, kind="pageview") == 1)
    page.click("#cookies")  # even a cookie consent does not make a cookieless site keep anything
    page.click("#buy")
    wait_until(lambda: stored(site, Action, kind="event") == 1)
    page.reload()
    page.wait_for_function("window.__farmTracker === true")
    wait_until(lambda: stored(site, Action, kind="pageview") == 2)
    assert device(page)["storage"] == []
    assert stored(site, Visit) == 1  # recognised by the browser's configuration alone
