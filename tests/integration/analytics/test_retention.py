"""Raw-log retention: rows older than the site's retention are deleted by its daily task, in batches,
only for days already archived; the reports of those days stay, and archiving never recomputes them
from the (now missing) raw logs."""
from datetime import datetime, time, timedelta, timezone

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from analytics.models import Action, Archive, ArchiveState, Conversion, MediaPlay, Visit
from analytics.privacy.retention import raw_logs_purge
from analytics.reports import archive, service
from analytics.reports.periods import Period
from farm.cron.models import ScheduledTask
from farm.tenancy import in_tenant
from tests.factories import make_instance, run_task_now
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
TODAY = datetime.now(timezone.utc).date()
OLD, OLDER, NOT_ARCHIVED, RECENT = (TODAY - timedelta(days=n) for n in (10, 9, 8, 1))
TASK = "analytics.privacy.tasks.purge_raw_logs"


@pytest.fixture
def site():
    instance = make_instance("retention", state="publie")  # UTC
    entries = []
    for n, day in enumerate((OLD, OLDER, NOT_ARCHIVED, RECENT)):
        noon = datetime.combine(day, time(12), timezone.utc)
        visitor = {"_id": f"{n + 1:016x}"}
        entries += [hit(instance, noon, url="https://s.example/a", action_name="A", **visitor),
                    hit(instance, noon + timedelta(minutes=1), url="https://s.example/b", action_name="B", **visitor),
                    hit(instance, noon + timedelta(minutes=2), url="https://s.example/b", idgoal=1, revenue=2,
                        **visitor),
                    hit(instance, noon + timedelta(minutes=3), url="https://s.example/b", ma_id="m", ma_mt="video",
                        ma_re="https://s.example/v.mp4", ma_st=10, ma_le=30, **visitor)]
    store(instance, entries)
    with in_tenant(instance):
        archive.archive_run()  # as the hourly task: every day with rows, and the rows it has seen
    return instance


def _days(model, column="at") -> set:
    return {getattr(row, column).date() for row in model.objects.all()}


def test_rows_older_than_the_retention_go_in_batches_and_younger_ones_stay(site):
    with in_tenant(site):
        before = service.report("VisitsSummary.get", Period.of("day", OLD))
        with CaptureQueriesContext(connection) as queries:
            counts = raw_logs_purge(days=5, batch=2)
        assert counts == {"before": (TODAY - timedelta(days=5)).isoformat(), "action": 6, "conversion": 3,
                          "mediaplay": 3, "visit": 3}
        sql = [q["sql"] for q in queries.captured_queries]
        # three visits, two a transaction (each visit with its rows): a full batch, then the last one
        assert len([q for q in sql if q.startswith("DELETE FROM analytics_visit")]) == 2
        assert len([q for q in sql if q.startswith("SET LOCAL lock_timeout")]) == 2
        assert _days(Visit, "first_action_at") == {RECENT} and _days(Action) == {RECENT}
        assert _days(Conversion) == {RECENT} and _days(MediaPlay, "first_at") == {RECENT}
        # the reports of the deleted days stay, and archiving them again keeps them
        archive.archive_range(OLD, NOT_ARCHIVED)
        assert service.report("VisitsSummary.get", Period.of("day", OLD)) == before
        assert service.report("VisitsSummary.get", Period.of("day", OLDER))["nb_visits"] == 1
        assert ArchiveState.objects.get().raw_logs_from == TODAY - timedelta(days=5)
        assert raw_logs_purge(days=5)["visit"] == 0  # nothing more to delete the same day


def test_a_day_not_archived_keeps_its_rows_and_those_after_it(site):
    with in_tenant(site):
        Archive.objects.filter(period="day", start=NOT_ARCHIVED).delete()
        counts = raw_logs_purge(days=5)
        assert counts["before"] == NOT_ARCHIVED.isoformat() and counts["visit"] == 2
        assert _days(Visit, "first_action_at") == {NOT_ARCHIVED, RECENT}
        archive.archive_day(NOT_ARCHIVED, today=TODAY)  # its rows are still there: archived as any day
        assert service.report("VisitsSummary.get", Period.of("day", NOT_ARCHIVED))["nb_actions"] == 2
        assert raw_logs_purge(days=5)["visit"] == 1  # archived now: its rows go at the next run


def test_the_daily_task_of_a_site_reads_its_setting(client, site):
    task = ScheduledTask.objects.get(instance=site, name=TASK)
    assert (task.period, task.hour) == ("daily", 3)

    assert run_task_now(task) is None  # no retention set: nothing deleted
    client.force_login(site.owner)
    form = {k: v for k, v in model_to_dict(site).items() if v is not None}
    response = client.post("/settings/", {**form, "raw_log_retention_days": "0"}, HTTP_HOST="retention.localhost")
    assert response.status_code == 200 and "greater than or equal to 1" in response.content.decode()
    response = client.post("/settings/", {**form, "raw_log_retention_days": "7"}, HTTP_HOST="retention.localhost")
    assert response.status_code == 302
    result = run_task_now(task)
    assert result["visit"] == 3 and result["before"] == (TODAY - timedelta(days=7)).isoformat()
    with in_tenant(site):
        assert _days(Visit, "first_action_at") == {RECENT}


def test_a_day_before_the_horizon_imported_later_is_archived_as_any_day(site):
    with in_tenant(site):
        raw_logs_purge(days=5)
        assert ArchiveState.objects.get().raw_logs_from == TODAY - timedelta(days=5)
        Archive.objects.filter(start=OLD).delete()  # a day without an archive, then rows for it (a log import)
        store(site, [hit(site, datetime.combine(OLD, time(15), timezone.utc), url="https://s.example/late",
                         action_name="Late", _id="f" * 16)])
        archive.archive_run()  # the hourly run finds the day (rows above its watermarks): archived as any day
        assert service.report("VisitsSummary.get", Period.of("day", OLD))["nb_visits"] == 1
        assert service.report("VisitsSummary.get", Period.of("week", OLD))["nb_visits"] >= 1  # its week builds
        assert raw_logs_purge(days=5)["visit"] == 1  # archived: it goes the next day as any old day


def test_rows_the_archiving_run_has_not_seen_keep_their_day(site):
    with in_tenant(site):
        store(site, [hit(site, datetime.combine(OLDER, time(18), timezone.utc), url="https://s.example/late",
                         action_name="Late", _id="f" * 16)])  # late rows for an archived day, not yet archived
        counts = raw_logs_purge(days=5)
        assert counts["before"] == OLDER.isoformat() and counts["visit"] == 1  # OLD's only
        archive.archive_run()
        assert raw_logs_purge(days=5)["visit"] == 3  # seen and archived: they go


def test_a_purge_waits_for_no_archiving_run_it_tries_again_later(site):
    import psycopg
    from django.conf import settings as dj_settings

    from analytics.reports.archive import _ARCHIVE_LOCK
    from farm.cron import RetryableError

    db = dj_settings.DATABASES["default"]
    other = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [_ARCHIVE_LOCK, site.pk])  # an archiving run going on
        with in_tenant(site), pytest.raises(RetryableError, match="archiving run"):
            raw_logs_purge(days=5)
        with in_tenant(site):
            assert _days(Visit, "first_action_at") == {OLD, OLDER, NOT_ARCHIVED, RECENT}
    finally:
        other.close()
    with in_tenant(site):
        assert raw_logs_purge(days=5)["visit"] == 3


def test_an_unfinished_archive_behind_the_horizon_becomes_final(site):
    with in_tenant(site):
        raw_logs_purge(days=5)
        Archive.objects.filter(period="day", start=OLD).update(complete=False)  # archived before the day ended
        archive.archive_day(OLD, today=TODAY)  # its rows are gone: kept as it is, and final now
        assert not Archive.objects.filter(period="day", start=OLD, complete=False).exists()
        assert service.report("VisitsSummary.get", Period.of("day", OLD))["nb_visits"] == 1
