"""Browser tests stay on the machine: a page's request to another host fails and is recorded."""
import pytest

from tests import network_guard

pytestmark = pytest.mark.browser


def test_a_page_reaching_for_another_host_gets_nothing_and_is_recorded(new_page, shop_server):
    page = new_page()
    page.goto(shop_server("<p>local</p>"))
    outcomes = page.evaluate("""async () => Promise.all(["http://example.org/", "http://192.0.2.1/x"].map(
        url => fetch(url, {mode: "no-cors"}).then(() => "answered", () => "failed")))""")
    page.wait_for_timeout(200)  # the failure events reach Python
    assert outcomes == ["failed", "failed"]
    attempts = network_guard.take_attempts()  # taken, so this test itself is not failed by the guard
    assert sorted(attempts) == ["browser request to http://192.0.2.1/x", "browser request to http://example.org/"]
