"""Playwright fixtures: one headless Debian Chromium per module, a fresh browser context per person.

The system Chromium is used on purpose (never a downloaded one), with background traffic off so
a run needs no network. Each context is a separate cookie jar, i.e. a separate person.
"""
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
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


@pytest.fixture
def new_page(browser):
    """Make a page in its own context (own cookies: one per person); all are closed after the test.

    English is asked for so the texts the tests look for do not depend on the machine's locale.
    """
    contexts = []

    def make():
        context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 800})
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def portal(live_server):
    """The portal's base URL on host `localhost` (FARM_DOMAIN), so its cookies serve the SSO hop."""
    return f"http://localhost:{live_server.thread.port}"


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
