"""Media Analytics on real PostgreSQL: each metric against numbers worked out by hand, the drop-off
curve from the positions played, weeks and ranges from days, real-time media, and the Reporting
API's MediaAnalytics.* methods with Matomo's columns and the usual permissions."""
from datetime import date, datetime, timedelta, timezone

import pytest
from django.utils import timezone as dj_timezone

from analytics.models import MediaPlay
from analytics.reports import live, service
from analytics.reports.periods import Period
from farm.tenancy import in_tenant
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import call_api, is_error
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)  # the site is in UTC
DAY = Period.of("day", NOON.date())
TODAY = date(2026, 6, 10)
VIDEO = "https://cdn.example/v/intro.webm?quality=hd"
AUDIO = "https://cdn.example/a/podcast.mp3"


@pytest.fixture
def site():
    return make_instance("media", state="publie")


def _ping(site, minute: int, visitor: str, media_id: str, pv: str = "pv1", *, resource=VIDEO, kind="video", **ma):
    return hit(site, NOON + timedelta(minutes=minute), _id=visitor, pv_id=pv, ma_id=media_id, ma_mt=kind,
               ma_re=resource, **ma)


def _traffic(site):
    """Five sessions, each a case of the rules:
    A  impression only (ma_st=0) of the video;
    B  the video, 1 s watched: more than 1 s makes a play, so this is an impression only;
    C  the video watched to 58 s of 60, pinged out of order, fullscreen once, seek back at the end:
       a play and a finish (58 >= 60 - 2), 40 s watched, positions 0-55;
    D  the same video replayed by the same visitor on another page view: 10 s watched, progress 20
       (positions 0, 5 and 15, a skip), a play, no finish;
    E  the audio of 3 s, played 2 s to its end (progress 3): a play and a finish (3 > 2, 3 >= 1).
    """
    store(site, [
        _ping(site, 0, "aaaaaaaaaaaaaaaa", "m1", ma_st=0, ma_le=60, ma_ti="Intro", ma_pn="html5"),
        _ping(site, 1, "bbbbbbbbbbbbbbbb", "m1", ma_st=1, ma_ps=1, ma_le=60, ma_ttp=2, ma_ti="Intro", ma_pn="html5",
              ma_se="0"),
        # C's pings, the latest first: watched and progress keep their highest, positions their union
        _ping(site, 5, "cccccccccccccccc", "m1", ma_st=40, ma_ps=58, ma_le=60, ma_ti="Intro", ma_pn="html5",
              ma_se="0,5,10,15,20,25,30,35,40,45,50,55", ma_w=1280, ma_h=720),
        _ping(site, 3, "cccccccccccccccc", "m1", ma_st=20, ma_ps=20, ma_le=60, ma_ttp=4, ma_ti="Intro",
              ma_pn="html5", ma_se="0,5,10,15", ma_fs=1, ma_w=1280, ma_h=720),
        _ping(site, 6, "cccccccccccccccc", "m1", ma_st=40, ma_ps=10, ma_le=60, ma_ttp=9, ma_ti="Intro",
              ma_pn="html5", ma_se="5", ma_fs=0),
        _ping(site, 8, "cccccccccccccccc", "m1", "pv2", ma_st=10, ma_ps=20, ma_le=60, ma_ttp=1, ma_ti="Intro",
              ma_pn="html5", ma_se="0,5,15", ma_w=640, ma_h=360),
        _ping(site, 9, "dddddddddddddddd", "a1", resource=AUDIO, kind="audio", ma_st=2, ma_ps=3, ma_le=3,
              ma_ti="Podcast", ma_pn="audio.js", ma_se="0"),
    ])


def test_pings_in_any_order_give_the_session_its_first_and_last_moments(site):
    _traffic(site)
    with in_tenant(site):
        c = MediaPlay.objects.get(visit__visitor_id="cccccccccccccccc", pv_id="pv1")
    assert (c.first_at, c.last_at) == (NOON + timedelta(minutes=3), NOON + timedelta(minutes=6))


def _read(site, name, period=DAY):
    with in_tenant(site):
        return service.report(name, period, today=TODAY)


def test_every_overview_metric_equals_its_hand_computed_value(site):
    _traffic(site)
    got = _read(site, "MediaAnalytics.get")
    assert {k: got[k] for k in ("nb_impressions", "nb_plays", "nb_finishes", "sum_total_time_watched",
                                "nb_unique_visitors_impressions", "nb_unique_visitors_plays",
                                "nb_visits_with_impressions", "nb_visits", "nb_fullscreen_plays")} == {
        "nb_impressions": 5, "nb_plays": 3, "nb_finishes": 2, "sum_total_time_watched": 40 + 10 + 2,
        "nb_unique_visitors_impressions": 4, "nb_unique_visitors_plays": 2,
        "nb_visits_with_impressions": 4, "nb_visits": 4, "nb_fullscreen_plays": 1}
    assert got["play_rate"] == 60.0 and got["finish_rate"] == 66.7  # 3 of 5; 2 of 3
    assert got["avg_time_watched"] == 17  # 52 s over 3 plays
    assert got["avg_completion_rate"] == round((58 / 60 + 20 / 60 + 1) / 3 * 100, 1)  # 76.1
    assert got["avg_time_to_initial_play"] == 2.5  # C's first value (4) kept, D's 1: 5 s over 2 plays
    assert got["fullscreen_rate"] == 33.3 and got["impression_rate"] == 100.0
    # the same split by type
    assert (got["nb_impressions_video"], got["nb_plays_video"], got["nb_finishes_video"]) == (4, 2, 1)
    assert (got["nb_impressions_audio"], got["nb_plays_audio"], got["nb_finishes_audio"]) == (1, 1, 1)
    assert got["nb_unique_visitors_plays_video"] == 1 and got["nb_unique_visitors_impressions_video"] == 3
    assert got["play_rate_video"] == 50.0 and got["finish_rate_audio"] == 100.0


def test_rows_per_resource_title_group_player_resolution_and_hour(site):
    _traffic(site)
    video = {row["label"]: row for row in _read(site, "MediaAnalytics.getVideoResources")}
    assert set(video) == {VIDEO}
    assert (video[VIDEO]["nb_impressions"], video[VIDEO]["nb_plays"], video[VIDEO]["nb_finishes"]) == (4, 2, 1)
    assert video[VIDEO]["avg_completion_rate"] == round((58 / 60 + 20 / 60) / 2 * 100, 1)
    grouped = _read(site, "MediaAnalytics.getGroupedVideoResources")
    assert [row["label"] for row in grouped] == ["https://cdn.example/v/intro.webm"]
    assert [(r["label"], r["nb_plays"]) for r in _read(site, "MediaAnalytics.getAudioTitles")] == [("Podcast", 1)]
    assert {r["label"]: r["nb_impressions"] for r in _read(site, "MediaAnalytics.getPlayers")} == {
        "html5": 4, "audio.js": 1}
    assert {r["label"]: r["nb_plays"] for r in _read(site, "MediaAnalytics.getVideoResolutions")} == {
        "1280x720": 1, "640x360": 1, "Unknown": 0}
    assert [(r["label"], r["nb_impressions"]) for r in _read(site, "MediaAnalytics.getVideoHours")] == [("12", 4)]
    assert _read(site, "MediaAnalytics.getAudioResources")[0]["avg_media_length"] == 3
    assert [(r["label"], r["nb_plays"]) for r in _read(site, "MediaAnalytics.getCountries")] == [("xx", 3)]


def test_the_drop_off_curve_counts_the_plays_still_watching_at_each_step(site):
    """Step s is the point s % of the way to the media's last second (59 s for 60 s).
    C played 0-60 s (positions 0..55 each cover 5 s): watching at every step, 100 % (59 s) included.
    D played 0-10 s and 15-20 s: at 0-15 % (0, 2.95, 5.9, 8.85 s) and 30 % (17.7 s), not at 20-25 %
    (11.8, 14.75 s) nor from 35 % (20.65 s) on. B's 1 s made no play, A never played: not on the curve."""
    _traffic(site)
    curves = {row["label"]: row for row in _read(site, "MediaAnalytics.getDropOff")}
    video = curves[VIDEO]
    assert video["nb_plays_measured"] == 2
    watching = {step: video[f"nb_plays_at_{step}"] for step in range(0, 101, 5)}
    assert watching == {0: 2, 5: 2, 10: 2, 15: 2, 20: 1, 25: 1, 30: 2, **{s: 1 for s in range(35, 101, 5)}}
    assert curves[AUDIO]["nb_plays_at_0"] == 1 and curves[AUDIO]["nb_plays_at_100"] == 1  # 0 covers 0-5 s of 3


def test_a_week_and_a_range_add_days_and_union_their_visitors(site):
    _traffic(site)
    store(site, [_ping(site, 24 * 60, "cccccccccccccccc", "m9", ma_st=5, ma_le=60, ma_se="0")])  # C again, next day
    week = _read(site, "MediaAnalytics.get", Period.of("week", NOON.date()))
    assert (week["nb_impressions"], week["nb_plays"], week["nb_unique_visitors_plays"]) == (6, 4, 2)
    with in_tenant(site):
        span = service.periods_for("range", "2026-06-01,2026-06-02", today=TODAY)[0]
        assert service.report("MediaAnalytics.get", span, today=TODAY)["nb_unique_visitors_impressions"] == 4
        year = service.report("MediaAnalytics.get", Period.of("year", NOON.date()), today=TODAY)
    assert year["nb_plays"] == 4 and "nb_unique_visitors_plays" not in year  # no uniques for a year


def test_real_time_media_counts_the_plays_of_the_last_minutes(site):
    now = dj_timezone.now()
    store(site, [hit(site, now - timedelta(minutes=m), _id=f"{m:016x}", ma_id=f"r{m}", ma_mt="video",
                     ma_re=f"https://cdn.example/{m % 2}.webm", ma_ti=f"Clip {m % 2}", ma_st=10 + m)
                 for m in (1, 3, 20, 45, 200)]
          # a two-hour film whose last ping came a minute ago: only what fits in the window counts
          + [hit(site, now - timedelta(minutes=1), _id="f" * 16, ma_id="film", ma_mt="video", ma_ti="Film",
                 ma_re="https://cdn.example/film.webm", ma_st=7200)])
    with in_tenant(site):
        assert live.media_counters(30, now=now) == {"plays": 4, "time_spent": 11 + 13 + 30 + 29 * 60}
        assert live.media_counters(60, now=now)["plays"] == 5
        assert live.media_counters(24 * 60, now=now) == {"plays": 6, "time_spent": 11 + 13 + 30 + 55 + 210 + 7200}
        top = live.most_played(60, now=now)
    assert [(r["label"], r["nb_plays"], r["sum_total_time_watched"]) for r in top] == [
        ("Clip 1", 3, 11 + 13 + 55), ("Film", 1, 59 * 60), ("Clip 0", 1, 30)]


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


def test_the_api_answers_matomo_method_names_and_columns(client, site, token):
    _traffic(site)

    def get(**params):
        return call_api(client, token_auth=token, idSite=site.pk, period="day", date="2026-06-01", **params)
    status, body = get(method="MediaAnalytics.get")
    assert status == 200
    assert {"nb_impressions", "nb_plays", "nb_finishes", "play_rate", "finish_rate", "sum_total_time_watched",
            "avg_time_watched", "avg_completion_rate", "nb_unique_visitors_plays",
            "nb_unique_visitors_impressions", "impression_rate", "avg_time_to_initial_play"} <= set(body)
    assert body["play_rate"] == "60%" and body["nb_plays"] == 3  # rates as Matomo prints them by default
    for method in ("getVideoResources", "getAudioResources", "getGroupedVideoResources", "getGroupedAudioResources",
                   "getVideoTitles", "getAudioTitles", "getVideoHours", "getAudioHours", "getVideoResolutions",
                   "getPlayers"):
        status, rows = get(method=f"MediaAnalytics.{method}")
        assert status == 200 and rows and {"label", "nb_plays", "nb_impressions", "finish_rate"} <= set(rows[0]), method
    status, rows = get(method="MediaAnalytics.getVideoResources", format_metrics="0", filter_limit=1)
    assert rows[0]["play_rate"] == 0.5 and len(rows) == 1
    _, metadata = get(method="API.getReportMetadata")
    listed = {m["name"] for m in metadata if m["category"] == "Media"}
    assert {"MediaAnalytics.get", "MediaAnalytics.getVideoResources", "MediaAnalytics.getPlayers"} <= listed
    assert get(method="MediaAnalytics.hasRecords") == (200, {"value": True})
    store(site, [hit(site, dj_timezone.now() - timedelta(minutes=2), _id="e" * 16, ma_id="now", ma_mt="audio",
                     ma_re=AUDIO, ma_ti="Live", ma_st=40)])
    assert get(method="MediaAnalytics.getCurrentNumPlays", lastMinutes=30) == (200, {"value": 1})
    assert get(method="MediaAnalytics.getCurrentSumTimeSpent", lastMinutes=30) == (200, {"value": 40})
    status, rows = get(method="MediaAnalytics.getCurrentMostPlays", lastMinutes=30)
    assert status == 200 and [(r["label"], r["nb_plays"], r["media_type"]) for r in rows] == [("Live", 1, "audio")]
    answer = get(method="MediaAnalytics.getCurrentMostPlays", lastMinutes=99999)
    assert is_error(answer) and "lastMinutes" in answer[1]["message"]


def test_media_methods_need_view_access_as_the_other_reports(client, site):
    _traffic(site)
    stranger = token_create(user=make_user("stranger"))[1]
    for method in ("MediaAnalytics.get", "MediaAnalytics.getCurrentNumPlays", "MediaAnalytics.getDropOff"):
        for token in (stranger, None):  # another user's token, no token: Matomo's 401 with a message
            status, body = call_api(client, idSite=site.pk, method=method, period="day", date="2026-06-01",
                                    **({"token_auth": token} if token else {}))
            assert status == 401 and body["result"] == "error" and body["message"], (method, token, body)


def test_has_records_says_whether_any_media_was_seen(client, site, token):
    def has_records():
        return call_api(client, token_auth=token, idSite=site.pk, method="MediaAnalytics.hasRecords")
    store(site, [hit(site, NOON, _id="a" * 16, url="https://s.example/")])  # a page view, no media
    assert has_records() == (200, {"value": False})
    _traffic(site)
    assert has_records() == (200, {"value": True})
