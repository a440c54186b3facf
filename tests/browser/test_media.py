"""Media Analytics in a real browser, end to end: a page with a real <video> (a WebM recorded in the page)
played, paused, resumed, sought back and finished in Chromium; the site owner sees it at once in
real-time media, then, once archived, in the videos table, on the video's own page with its drop-off
curve, on the audience map (the visitor is in Spain) and in the audience log."""
import pytest
from playwright.sync_api import expect

from analytics.models import MediaPlay
from analytics.reports.archive import archive_run, site_today
from farm.tenancy import in_tenant
from tests.browser.conftest import _record_off_machine, sign_in_to_site, stored, tracked_page, wait_until
from tests.factories import make_instance, make_user

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BODY = """
<video id="clip" title="Bees at work" width="160" height="120" muted></video>
<script>
// A real WebM clip of 4 s, recorded in the page from a canvas. Chromium's recordings carry no duration
// (Infinity) until the element has been sought to their end: done before the visitor plays, as a
// player's preload would, so the tracker knows the length.
window.clipReady = new Promise(function (resolve) {
  var canvas = document.createElement("canvas"); canvas.width = 160; canvas.height = 120;
  var ctx = canvas.getContext("2d"), frame = 0, clip = document.getElementById("clip");
  var timer = setInterval(function () { ctx.fillStyle = "hsl(" + (frame++ * 7 % 360) + ",80%,50%)";
                                        ctx.fillRect(0, 0, 160, 120); }, 40);
  var recorder = new MediaRecorder(canvas.captureStream(25), { mimeType: "video/webm" }), parts = [];
  recorder.ondataavailable = function (e) { parts.push(e.data); };
  recorder.onstop = function () {
    clearInterval(timer);
    clip.addEventListener("loadedmetadata", function () {
      if (isFinite(clip.duration)) { resolve(); return; }
      clip.addEventListener("durationchange", function settle() {
        if (!isFinite(clip.duration)) { return; }
        clip.removeEventListener("durationchange", settle);
        clip.addEventListener("seeked", function () { resolve(); }, { once: true });
        clip.currentTime = 0;
      });
      clip.currentTime = 1e6;
    }, { once: true });
    clip.src = URL.createObjectURL(new Blob(parts, { type: "video/webm" }));
  };
  recorder.start(); setTimeout(function () { recorder.stop(); }, 4000);
});
</script>"""
SPAIN = "81.0.0.0"  # an address the registries give to Spain (the farm's proxy header tells it, below)


def _session(site) -> MediaPlay | None:
    with in_tenant(site):
        return MediaPlay.objects.filter(title="Bees at work").first()


def test_a_video_played_to_its_end_shows_in_real_time_then_in_its_report_curve_and_map(
        browser, live_server, shop_server, celery_worker_process, settings, artifacts):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # behind the farm's own proxy
    site = make_instance("reels", owner=make_user("rita"), state="publie")
    port = live_server.thread.port
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 800},
                                  extra_http_headers={"X-Forwarded-For": SPAIN})
    context.set_default_timeout(15_000)
    context.on("requestfailed", _record_off_machine)
    try:
        page = context.new_page()
        page.goto(shop_server(tracked_page(title="Bees", host=f"reels.localhost:{port}", idsite=site.pk, body=BODY)))
        page.wait_for_function("window.__farmTracker === true")
        page.evaluate("window.clipReady")
        clip = "document.getElementById('clip')"
        wait_until(lambda: stored(site, MediaPlay, watched_seconds=0, length_seconds=4) == 1)  # an impression

        page.evaluate(f"{clip}.play()")  # play, pause, resume, seek back, then to the end
        page.wait_for_function(f"{clip}.currentTime > 1.5")
        page.evaluate(f"{clip}.pause()")
        wait_until(lambda: (_session(site) or MediaPlay()).watched_seconds >= 1)
        page.evaluate(f"{clip}.play()")
        page.wait_for_function(f"{clip}.currentTime > 2.5")
        page.evaluate(f"{clip}.currentTime = 0.5")
        page.wait_for_function(f"{clip}.ended", timeout=15_000)
        wait_until(lambda: (_session(site) or MediaPlay()).progress_seconds == 4)
        played = _session(site)
        assert played.watched_seconds >= 4 and played.segments == "0" and played.length_seconds == 4

        # Real-time media, straight from the log
        sign_in_to_site(page, f"http://localhost:{port}", site, "rita")
        dashboard = f"http://reels.localhost:{port}"
        page.goto(f"{dashboard}/media/realtime/")
        expect(page.locator('#media-counters [data-minutes="30"] .plays')).to_have_text("1")
        expect(page.locator("#most-played tbody tr").first).to_contain_text("Bees at work")

        with in_tenant(site):
            archive_run()
            today = site_today()
        on_today = f"period=day&date={today}"
        page.goto(f"{dashboard}/media/?{on_today}")
        row = page.locator("#report-MediaAnalytics-getVideoResources tbody tr").first
        expect(row.locator("td").nth(1)).to_have_text("1")  # one play
        expect(page.locator('#media-split tr[data-kind="video"] td').nth(1)).to_have_text("1")
        page.wait_for_selector("#map-media-map path[data-code='ES']")
        fills = page.evaluate("""() => ['ES', 'FR'].map(code =>
            document.querySelector(`#map-media-map path[data-code="${code}"]`).getAttribute('fill'))""")
        assert fills[0] != fills[1]  # Spain shaded, France not
        expect(page.locator("#map-media-map .map-legend")).to_contain_text("Plays")
        expect(page.locator("#report-MediaAnalytics-getPlayers tbody tr").first).to_contain_text("html5")  # loaded after
        page.screenshot(path=artifacts / "media-overview.png", full_page=True)

        row.locator("a.drill").click()  # the video's own page
        expect(page.locator("#media-item-title")).to_contain_text("blob:")
        expect(page.locator('[data-metric="finish_rate"] .value')).to_have_text("100.0 %")
        page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('drop-off-chart'))")
        curve = page.evaluate("Chart.getChart(document.getElementById('drop-off-chart')).data.datasets[0].data")
        assert curve == [100.0] * 21  # the 4 s clip was watched through: everyone there at every step
        page.screenshot(path=artifacts / "media-item.png", full_page=True)

        page.goto(f"{dashboard}/media/audience-log/?{on_today}")
        expect(page.locator("article.visit")).to_have_count(1)
        expect(page.locator('article.visit li[data-type="media"]')).to_contain_text("Bees at work")
        expect(page.locator('article.visit li[data-type="action"]')).to_contain_text("Bees")  # the page view
    finally:
        context.close()
