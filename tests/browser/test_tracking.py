"""The farm's tracker in a real browser: a page with the site's snippet records a page view, an
event, an outlink click and an HTML5 video seen (an impression), played for a few seconds and
sought back, into that site's schema."""
import pytest

from analytics.models import Action, MediaPlay
from farm.tenancy import in_tenant
from tests.browser.conftest import stored, tracked_page, wait_until
from tests.factories import make_instance

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BODY = """
<button id="buy" onclick="_paq.push(['trackEvent', 'Shop', 'Buy', 'jar', 12])">Buy</button>
<a id="out" href="http://elsewhere.test/" target="_blank">Elsewhere</a>
<video id="clip" title="Bees at work" width="160" height="120" muted></video>
<button id="play">Play</button>
<script>
// A real WebM clip, recorded in the page from a canvas (no media file needed on disk).
window.clipReady = new Promise(function (resolve) {
  var canvas = document.createElement("canvas"); canvas.width = 160; canvas.height = 120;
  var ctx = canvas.getContext("2d"), frame = 0;
  var timer = setInterval(function () { ctx.fillStyle = "hsl(" + (frame++ * 7 % 360) + ",80%,50%)";
                                        ctx.fillRect(0, 0, 160, 120); }, 40);
  var recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm" }), parts = [];
  recorder.ondataavailable = function (e) { parts.push(e.data); };
  recorder.onstop = function () { clearInterval(timer);
    document.getElementById("clip").src = URL.createObjectURL(new Blob(parts, { type: "video/webm" })); resolve(); };
  recorder.start(); setTimeout(function () { recorder.stop(); }, 4000);
});
document.getElementById("play").onclick = function () { document.getElementById("clip").play(); };
</script>"""


def test_a_page_with_the_snippet_records_page_view_event_outlink_and_video(new_page, live_server, shop_server,
                                                                            celery_worker_process, artifacts):
    site = make_instance("tracked", state="publie")
    host = f"tracked.localhost:{live_server.thread.port}"
    page = new_page()
    shop = shop_server(tracked_page(title="Honey shop", host=host, idsite=site.pk, body=BODY))
    page.context.route("http://elsewhere.test/**", lambda route: route.fulfill(status=200, body="elsewhere"))

    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(shop)
    try:
        page.wait_for_function("window.__farmTracker === true")
    except Exception:
        pytest.fail(f"the tracker did not start: {problems}")
    wait_until(lambda: stored(site, Action, kind="pageview", title="Honey shop") == 1)

    page.click("#buy")
    wait_until(lambda: stored(site, Action, kind="event", event_category="Shop", event_action="Buy") == 1)

    page.evaluate("window.clipReady")
    # Visible with a source: an impression (nothing watched yet), before any play.
    wait_until(lambda: stored(site, MediaPlay, media_type="video", watched_seconds=0, title="Bees at work") == 1)
    page.click("#play")
    page.wait_for_function("document.getElementById('clip').currentTime > 3", timeout=15_000)
    page.evaluate("document.getElementById('clip').pause()")
    wait_until(lambda: stored(site, MediaPlay, media_type="video", watched_seconds__gte=2, title="Bees at work") == 1)
    page.evaluate("document.getElementById('clip').currentTime = 0.5")  # a seek back: a ping, no position lost
    with in_tenant(site):
        wait_until(lambda: MediaPlay.objects.filter(progress_seconds__gte=3).values_list("segments", flat=True)
                   .first() == "0")  # the 4 s clip played from 0: one position on the 5 s grid
        assert MediaPlay.objects.count() == 1  # impression and play are one session
    page.screenshot(path=artifacts / "tracked-page.png")

    with page.context.expect_page():
        page.click("#out")  # opens in a new tab; this page stays and its beacon completes
    wait_until(lambda: stored(site, Action, kind="outlink", url="http://elsewhere.test/") == 1)
    with in_tenant(site):
        visit_ids = set(Action.objects.values_list("visit_id", flat=True))
    assert len(visit_ids) == 1  # one visitor, one visit
