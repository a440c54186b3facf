"""Archiving on real PostgreSQL: archived numbers equal a naive recomputation from the raw logs, for days
and for weeks, months and ranges built from them; late data invalidates exactly its day; the command
and the hourly cron task."""
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from analytics.models import (Action, Archive, ArchiveInvalidation, ArchiveSet, ArchiveState, ArchiveVisitors, Conversion,
                              MediaPlay, Visit)
from analytics.reports import archive, catalog, service
from analytics.reports.archive import archive_run
from analytics.reports.periods import Period
from farm.cron import execution, registry
from farm.cron.models import RunStatus, ScheduledTask
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics.naive_reports import naive_reports
from tests.integration.analytics.test_ingest import ANDROID, hit, store

pytestmark = pytest.mark.django_db
TZ = "Asia/Kolkata"  # +05:30: local midnight falls mid-way through a UTC day
T0 = datetime(2025, 12, 30, 12, 0, tzinfo=timezone.utc)  # a week across New Year, two months, two years
AFTER = T0 + timedelta(days=8)
DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
PAGES = ["https://s.example/", "https://s.example/blog/a?x=1", "https://s.example/blog/b", "https://s.example/shop#top"]
REFERRERS = ["", "https://www.google.com/search?q=honey", "https://www.bing.com/search?q=", "https://facebook.com/p",
             "https://blog.example.org/post", "https://s.example/internal"]


def _kind_params(kind: str, draw_value: int) -> dict:
    return {
        "page": {}, "download": {"download": f"https://s.example/f{draw_value % 2}.pdf"},
        "outlink": {"link": f"https://out{draw_value % 2}.example/"},
        "search": {"search": ["honey", "jars", "wax"][draw_value % 3], **({"search_count": draw_value % 2 * 3}
                                                                          if draw_value % 3 else {})},
        "event": {"e_c": ["Video", "Audio"][draw_value % 2], "e_a": "Play", **({"e_n": "intro"} if draw_value % 2 else {}),
                  **({"e_v": draw_value - 2} if draw_value % 3 else {})},
        "goal": {"idgoal": 1 + draw_value % 2, "revenue": draw_value},
        "order": {"idgoal": 0, "ec_id": uuid.uuid4().hex[:12], "revenue": 10 + draw_value,
                  "ec_items": f'[["sku{draw_value % 2}", "Jar", "Food", {draw_value}, {1 + draw_value % 3}], ["s9"]]'},
        "ping": {"ping": 1},
        "media": _media_params(draw_value),
    }[kind]


MEDIA = ["https://cdn.example/v/intro.webm?t=1", "https://cdn.example/v/intro.webm?t=2", "https://cdn.example/a/pod.mp3"]


def _media_params(value: int) -> dict:
    """One ping of one of a few media sessions (same page view, same player): impressions, short and
    long plays, finishes, fullscreen, positions sent in any order, resources with and without a query."""
    resource = MEDIA[value % 3]
    params = {"ma_id": f"m{value % 3}", "pv_id": f"pv{value % 2}", "ma_mt": "audio" if "/a/" in resource else "video",
              "ma_re": resource, "ma_ti": ["Intro", "", "Podcast"][value % 3], "ma_pn": ["html5", "vimeo"][value % 2],
              "ma_st": [0, 1, 2, 30, 58][value % 5], "ma_ps": [0, 1, 20, 58, 60][value % 5],
              "ma_le": [60, 60, 2, 3, 0, 60, 45][value % 7]}  # lengths around the finish rule, and unknown
    if value % 5:
        params["ma_se"] = ",".join(str(p) for p in range(0, [5, 5, 20, 60, 60][value % 5], 5)[::-1 if value % 2 else 1])
    if value % 3 != 2:
        params |= {"ma_w": 640, "ma_h": 360, "ma_fs": value % 2}
    if value % 4:
        params["ma_ttp"] = value
    return params


@st.composite
def hits_of(draw, site):
    """A few visitors' hits over three or four days: pages, events, searches, referrers, devices, conversions."""
    entries = []
    for n in range(draw(st.integers(1, 25))):
        who = draw(st.integers(0, 4))
        at = T0 + timedelta(minutes=draw(st.integers(0, 4 * 24 * 60)))
        kind = draw(st.sampled_from(["page", "page", "page", "download", "outlink", "search", "event", "goal",
                                     "order", "ping", "media", "media"]))
        value = draw(st.integers(0, 9))
        params = {"_id": f"{who:016x}", "url": draw(st.sampled_from(PAGES)), "action_name": ["", "Home", "Blog"][n % 3],
                  "urlref": draw(st.sampled_from(REFERRERS)), "res": ["1920x1080", "390x844"][who % 2],
                  **_kind_params(kind, value)}
        if who == 4:
            params["uid"] = "alice"
        if value % 4 == 0:
            params.update(h=value, m=5, s=1)
        if value == 7:
            params["url"] += "?mtm_campaign=spring&mtm_kwd=k1"
        entry = hit(site, at, **params)
        entry["ua"] = ANDROID if who % 2 else DESKTOP
        entry["lang"] = ["fr-FR,fr;q=0.9", "en-US", ""][who % 3]
        entries.append(entry)
    return entries


@pytest.fixture
def site():
    instance = make_instance("archived", state="publie")
    instance.timezone = TZ
    instance.save()
    return instance


def _reset():
    for model in (Action, Conversion, MediaPlay, Visit, Archive, ArchiveVisitors, ArchiveSet, ArchiveState):
        model.objects.all().delete()


def _metrics_only(got, expected: dict) -> dict:
    """The archived row restricted to the oracle's columns (ratios are checked elsewhere), floats rounded."""
    def clean(value):
        return round(value, 6) if isinstance(value, float) else value
    return {k: clean(got.get(k)) for k in expected}, {k: clean(v) for k, v in expected.items()}


def assert_period_matches(period: Period, days: set, today: date):
    expected = naive_reports(days, TZ)
    for spec in catalog.REPORTS:
        got = service.report(spec.name, period, today=today)
        want = expected.get(spec.name, {})
        if spec.single_row:
            want = dict(want.get((None, None), {}))
            if period.kind == "year":  # no unique counts for a year, as in Matomo
                for column in ("nb_uniq_visitors", "nb_users", *catalog.MEDIA_UNIQUE_COLUMNS):
                    want.pop(column, None)
            left, right = _metrics_only(got, want)
            assert left == right, (period, spec.name)
            continue
        assert {(r.get("parent"), r["label"]) for r in got} == set(want), (period, spec.name)
        for row in got:
            left, right = _metrics_only(row, want[(row.get("parent"), row["label"])])
            assert left == right, (period, spec.name, row["label"])


@hsettings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_every_archived_number_equals_a_recomputation_from_the_raw_logs(site, data):
    with in_tenant(site):
        _reset()
    store(site, data.draw(hits_of(site)))
    with in_tenant(site):
        archive_run(now=AFTER)
        today = AFTER.date()
        for day in Period.span(date(2025, 12, 29), date(2026, 1, 4)).days():
            assert_period_matches(Period.of("day", day), {day}, today)
        for period in (Period.of("week", date(2025, 12, 31)), Period.of("month", date(2025, 12, 31)),
                       Period.of("month", date(2026, 1, 1)), Period.of("year", date(2026, 1, 1)),
                       Period.span(date(2025, 12, 31), date(2026, 1, 2))):
            assert_period_matches(period, set(period.days()), today)


def _summary(site, kind: str, day: date, today: date) -> dict:
    with in_tenant(site):
        return service.report("VisitsSummary.get", Period.of(kind, day), today=today)


def _computed_at(site, day: date):
    with in_tenant(site):
        return Archive.objects.get(period="day", start=day, report="VisitsSummary.get").computed_at


def test_a_late_hit_changes_its_day_and_week_after_the_next_run_and_leaves_other_days_alone(site):
    monday, tuesday = date(2026, 6, 1), date(2026, 6, 2)
    noon = datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc)  # 12:00 in Kolkata
    store(site, [hit(site, noon, _id="aaaaaaaaaaaaaaaa"), hit(site, noon + timedelta(days=1), _id="aaaaaaaaaaaaaaaa")])
    now, today = datetime(2026, 6, 3, 6, 30, tzinfo=timezone.utc), date(2026, 6, 3)
    with in_tenant(site):
        archive_run(now=now)
    assert _summary(site, "day", monday, today)["nb_visits"] == 1
    assert _summary(site, "week", monday, today)["nb_uniq_visitors"] == 1
    tuesday_computed = _computed_at(site, tuesday)

    late = hit(site, now, _id="bbbbbbbbbbbbbbbb", cdt=int((noon + timedelta(hours=2)).timestamp()))
    store(site, [late])
    assert _summary(site, "day", monday, today)["nb_visits"] == 1  # closed: unchanged until the run
    with in_tenant(site):
        summary = archive_run(now=now + timedelta(hours=1))
    assert monday in summary.days and tuesday not in summary.days
    assert _summary(site, "day", monday, today)["nb_visits"] == 2
    assert _summary(site, "week", monday, today)["nb_uniq_visitors"] == 2
    assert _summary(site, "month", monday, today)["nb_visits"] == 3
    assert _computed_at(site, tuesday) == tuesday_computed


def test_a_day_archived_before_it_ended_is_archived_again_once_over(site):
    evening = datetime(2026, 6, 1, 15, 0, tzinfo=timezone.utc)  # 20:30 in Kolkata
    store(site, [hit(site, evening, _id="aaaaaaaaaaaaaaaa")])
    with in_tenant(site):
        archive_run(now=evening)
        assert not Archive.objects.filter(period="day", start=date(2026, 6, 1)).first().complete
        store(site, [hit(site, evening + timedelta(hours=2), _id="cccccccccccccccc")])  # 22:30, same day
        summary = archive_run(now=evening + timedelta(hours=5))  # the next day
        assert date(2026, 6, 1) in summary.days
        archive = Archive.objects.get(period="day", start=date(2026, 6, 1), report="VisitsSummary.get")
        assert archive.complete and archive.rows[0]["nb_visits"] == 2


def test_a_missing_past_archive_is_computed_on_demand(site):
    store(site, [hit(site, datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc), _id="aaaaaaaaaaaaaaaa")])
    assert _summary(site, "month", date(2026, 6, 1), date(2026, 7, 2))["nb_visits"] == 1
    with in_tenant(site):
        assert Archive.objects.filter(period="month", complete=True).exists()


def test_the_command_archives_a_range_and_refuses_bad_arguments(site):
    store(site, [hit(site, datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc), _id="aaaaaaaaaaaaaaaa")])
    call_command("archive_reports", "--instance", site.slug, "--from", "2026-05-31", "--to", "2026-06-02")
    with in_tenant(site):
        days = set(Archive.objects.filter(period="day").values_list("start", flat=True))
        assert {date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 2)} <= days
        assert Archive.objects.filter(period="month", start=date(2026, 6, 1)).exists()
    for args in (["--instance", "nowhere", "--from", "2026-06-01"], ["--instance", site.slug, "--from", "June"],
                 ["--instance", site.slug, "--from", "2026-06-02", "--to", "2026-06-01"],
                 ["--instance", site.slug, "--to", "2026-06-01"]):
        with pytest.raises(CommandError):
            call_command("archive_reports", *args)


def test_a_bad_date_exits_non_zero_with_a_message_and_no_traceback():
    result = subprocess.run([sys.executable, "manage.py", "archive_reports", "--all-instances", "--from", "2026-13-01"],
                            cwd=settings.BASE_DIR, capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert result.returncode != 0
    assert "YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr


def test_archive_reports_is_an_hourly_task_run_by_the_cron_for_a_live_site(site):
    name = "analytics.reports.tasks.archive_reports"
    assert registry.spec_for(name, "").schedule.period == "hourly"
    store(site, [hit(site, datetime.now(timezone.utc), _id="aaaaaaaaaaaaaaaa")])
    task = ScheduledTask.objects.get(instance=site, name=name, param="")
    run = execution.run_now(task=task)
    while execution.work(max_runs=100):
        pass
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    with in_tenant(site):
        assert service.freshness() is not None
        assert service.report("VisitsSummary.get", service.periods_for("day", "today")[0])["nb_visits"] == 1


def test_a_series_of_periods_reads_the_same_numbers_as_one_period_at_a_time(site):
    noon = datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc)
    store(site, [hit(site, noon + timedelta(days=d, minutes=m), _id=f"{d:015x}{m}") for d in range(4) for m in range(d + 1)])
    today = date(2026, 6, 10)
    with in_tenant(site):
        days = [Period.of("day", date(2026, 5, 31) + timedelta(days=d)) for d in range(6)]
        for name in ("VisitsSummary.get", "Actions.getPageUrls", "Actions.getEntryPageUrls"):
            assert service.report_series(name, days, today=today) == [service.report(name, p, today=today)
                                                                      for p in days]
        assert [s["nb_visits"] for s in service.report_series("VisitsSummary.get", days, today=today)] == [
            0, 1, 2, 3, 4, 0]


def test_a_late_heartbeat_lengthening_a_visit_of_a_closed_day_gets_that_day_archived_again(site):
    """A ping adds no row, so the ids watermarks cannot see it: ingest marks the day instead."""
    monday, noon = date(2026, 6, 1), datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc)  # 12:00 in Kolkata
    store(site, [hit(site, noon, _id="aaaaaaaaaaaaaaaa"), hit(site, noon + timedelta(days=1), _id="cccccccccccccccc")])
    now, today = datetime(2026, 6, 3, 6, 30, tzinfo=timezone.utc), date(2026, 6, 3)
    with in_tenant(site):
        archive_run(now=now)
    assert _summary(site, "day", monday, today)["sum_visit_length"] == 0

    store(site, [hit(site, noon + timedelta(minutes=4), _id="aaaaaaaaaaaaaaaa", ping=1)])  # from a backlog
    with in_tenant(site):
        assert Action.objects.count() == 2 and list(ArchiveInvalidation.objects.values_list("day", flat=True)) == [monday]
        summary = archive_run(now=now + timedelta(hours=1))
        assert summary.days == [monday, today] and not ArchiveInvalidation.objects.exists()
    assert _summary(site, "day", monday, today)["sum_visit_length"] == 240
    assert _summary(site, "week", monday, today)["sum_visit_length"] == 240


def test_days_with_data_are_the_local_days_of_log_rows_probed_day_by_day(site):
    """A local day starting mid-way through a UTC day (Kolkata, +05:30): a row at 00:10 local is that
    day's, one at 23:50 local too; the gap days between them have nothing, whatever the span asked."""
    store(site, [hit(site, datetime(2026, 5, 31, 18, 40, tzinfo=timezone.utc), _id="aaaaaaaaaaaaaaaa"),
                 hit(site, datetime(2026, 6, 3, 18, 20, tzinfo=timezone.utc), _id="bbbbbbbbbbbbbbbb")])
    asked = [Period.of("day", date(2026, 5, 1) + timedelta(days=n)) for n in range(400)]
    with in_tenant(site), CaptureQueriesContext(connection) as queries:
        assert archive._days_with_data(asked) == {date(2026, 6, 1), date(2026, 6, 3)}
    assert len([q for q in queries if "analytics_visit" in q["sql"]]) == 1  # one statement, whatever the span


def test_a_site_with_nothing_new_is_left_as_it_is_and_a_heartbeat_today_is_seen(site):
    """The hourly run of a site without new data is a few lookups (most sites, most hours); a
    heartbeat lengthening one of today's visits (no new row) marks today, which the next run sees."""
    noon, today = datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc), date(2026, 6, 1)  # 12:00 in Kolkata
    store(site, [hit(site, noon, _id="aaaaaaaaaaaaaaaa")])
    with in_tenant(site):
        assert today in archive_run(now=noon + timedelta(hours=1)).days
    computed = _computed_at(site, today)
    with in_tenant(site), CaptureQueriesContext(connection) as queries:
        idle = archive_run(now=noon + timedelta(hours=2))
    assert (idle.days, idle.periods) == ([], []) and _computed_at(site, today) == computed
    asked = [q["sql"] for q in queries if not q["sql"].startswith(("SET search_path", "SAVEPOINT", "RELEASE"))]
    assert len(asked) <= 12, [sql[:80] for sql in asked]
    store(site, [hit(site, noon + timedelta(minutes=4), _id="aaaaaaaaaaaaaaaa", ping=1)])
    with in_tenant(site):
        assert archive_run(now=noon + timedelta(hours=3)).days == [today]
    assert _summary(site, "day", today, today)["sum_visit_length"] == 240


def test_a_mark_written_while_a_run_archives_its_day_survives_the_run(site, monkeypatch):
    """A heartbeat stored while the run archives the day it marks: the run deletes only the marks it
    read, so the new one is there for the next run (ingest writes a mark per batch, never skipping
    a day marked already)."""
    from django.db import connection as db

    from analytics.tracking import store as tracking_store

    noon, today = datetime(2026, 6, 1, 6, 30, tzinfo=timezone.utc), date(2026, 6, 1)
    store(site, [hit(site, noon, _id="aaaaaaaaaaaaaaaa")])
    real_archive_day = archive.archive_day

    def archive_day_with_a_heartbeat_meanwhile(day, **options):
        with db.cursor() as cursor:  # as ingest would, committing a batch that lengthens a visit of `day`
            tracking_store.days_invalidate(cursor, {day})
        return real_archive_day(day, **options)

    with in_tenant(site):
        tracking_store.days_invalidate(db.cursor(), {today})  # the mark the run reads
        monkeypatch.setattr(archive, "archive_day", archive_day_with_a_heartbeat_meanwhile)
        archive_run(now=noon + timedelta(hours=1))
        monkeypatch.setattr(archive, "archive_day", real_archive_day)
        assert list(ArchiveInvalidation.objects.values_list("day", flat=True)) == [today]
        assert archive_run(now=noon + timedelta(hours=2)).days == [today]
