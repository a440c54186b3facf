"""Playwright fixtures: one headless Debian Chromium per module, a fresh browser context per person.

The system Chromium is used on purpose (never a downloaded one), with background traffic off so
a run needs no network. Each context is a separate cookie jar, i.e. a separate person.
"""
import threading
import time
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect, sync_playwright

from farm.tenancy import in_tenant
from instances.models import Membership, Role
from tests import network_guard
from tests.factories import make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    # Off-machine requests go to a proxy that is not there and fail (loopback and *.localhost bypass
    # proxies in Chromium): nothing leaves the machine, and _record_off_machine fails the test.
    "--proxy-server=http://127.0.0.1:9",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"  # git-ignored; screenshots for a person to look at


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium shared by a module's tests; starting one costs about a second.

    Playwright's sync API keeps an asyncio loop running in this thread, which makes Django refuse
    every ORM call (SynchronousOnlyOperation), the test database's own set-up and flush included.
    Nothing here is async, so the check is lifted while the browser lives. Module scope (not
    session) stops the loop and restores the check before the rest of the suite runs.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _record_off_machine(request):
    """A request that left for another machine failed at the dead proxy (CHROMIUM_ARGS): the test fails.

    NB: a route (page.route) on every request would catch it too, but intercepting every request
    breaks media playback and beacons; the proxy refuses without touching local traffic."""
    host = urlsplit(request.url).hostname
    if urlsplit(request.url).scheme in ("http", "https", "ws", "wss") and not network_guard.host_is_local(host):
        network_guard.ATTEMPTS.append(f"browser request to {request.url}")


@pytest.fixture
def new_page(browser):
    """Make a page in its own context (own cookies: one per person); all are closed after the test.

    English is asked for so the texts the tests look for do not depend on the machine's locale.
    """
    contexts, refused = [], []

    def make():
        context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 800})
        context.set_default_timeout(10_000)
        context.on("requestfailed", _record_off_machine)
        context.on("console", lambda message: _record_refusal(message, refused))
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not refused, f"the Content-Security-Policy refused something: {refused}"


def _record_refusal(message, refused: list) -> None:
    """Every browser test fails on a Content-Security-Policy refusal (Chromium reports each one on
    the console): a script, style or frame the farm's pages need but the policy blocks."""
    if "Content Security Policy" in message.text:
        refused.append(f"{message.page.url if message.page else '?'}: {message.text[:300]}")


@pytest.fixture
def portal(live_server):
    """The portal's base URL on host `localhost` (FARM_DOMAIN), so its cookies serve the SSO hop."""
    return f"http://localhost:{live_server.thread.port}"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@contextmanager
def _serving(html: str, host: str):
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture
def shop_server():
    """Serve the shop page from a real loopback server: Chromium lets a page reach the (loopback)
    tracker only from the same address space, as a real site would reach a real farm."""
    with ExitStack() as stack:
        yield lambda html, host="shop.localhost": stack.enter_context(_serving(html, host))


def stored(site, model, **filters):
    with in_tenant(site):
        return model.objects.filter(**filters).count()


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not stored in time"
        time.sleep(0.3)


def sign_in_to_site(page, portal, site, username):
    """Log in on the portal, then open the site's host: the SSO hop lands on its dashboard."""
    page.goto(f"{portal}/accounts/login/?next=/sites/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "a-long-Passw0rd")
    page.get_by_role("button", name="Log in", exact=True).click()
    page.goto(f"http://{site.slug}.localhost:{portal.rsplit(':', 1)[1]}/")
    expect(page.locator("#dashboard-title")).to_have_text(site.name)


def viewer_refused_the_settings(new_page, portal, site, username):
    """A new member with the view role signs in: no settings link, and /settings/ answers 403. Returns the page."""
    Membership.objects.create(instance=site, user=make_user(username), role=Role.VIEW)
    page = new_page()
    sign_in_to_site(page, portal, site, username)
    assert page.locator("#settings-link").count() == 0
    assert page.goto(f"http://{site.slug}.localhost:{portal.rsplit(':', 1)[1]}/settings/").status == 403
    return page


def tracked_page(*, title: str, host: str, idsite: int, body: str) -> str:
    """A website's page carrying the farm's tracking snippet (as the dashboard shows it) for `idsite`
    at `host`, then `body`."""
    return f"""<!doctype html><html><head><title>{title}</title>
<script>
var _paq = window._paq = window._paq || [];
_paq.push(['trackPageView']);
_paq.push(['enableLinkTracking']);
(function() {{
  var u="//{host}/";
  _paq.push(['setTrackerUrl', u+'matomo.php']);
  _paq.push(['setSiteId', '{idsite}']);
  var d=document, g=d.createElement('script'), s=d.getElementsByTagName('script')[0];
  g.async=true; g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s);
}})();
</script></head>
<body>{body}</body></html>"""
