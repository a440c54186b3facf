"""The tick with an injected clock on real PostgreSQL and Redis: exactly once per period, and the policies."""
from datetime import timedelta

import pytest
from django.utils import timezone

from farm.cron import dispatch, execution
from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from farm.cron.periods import next_boundary
from farm.cron.tenants import tenant_zone
from instances import services
from tests import cron_tasks
from tests.factories import make_instance

pytestmark = pytest.mark.django_db

RECORD = "tests.cron_tasks.record"


def row(instance, name=RECORD, param=""):
    return ScheduledTask.objects.get(instance=instance, name=name, param=param)


def set_next(task, at):
    task.next_run_at, task.next_period_key = next_boundary(task.schedule, at - timedelta(microseconds=1),
                                                           tenant_zone(task.instance))
    task.save()
    return task


def drain():
    while execution.work(max_runs=1000):
        pass


def tick_one(task, now, **options):
    """Tick with the clock at `now`, for this one timetable row only."""
    return dispatch.tick(now=now, filters={"instance_id": task.instance_id, "name": task.name, "param": task.param},
                         **options)


def runs(task, **filters):
    return TaskRun.objects.filter(task=task, **filters)


def test_a_live_site_gets_its_timetable_rows_when_provisioned():
    instance = make_instance("timed", state="publie")
    names = set(ScheduledTask.objects.filter(instance=instance).values_list("name", flat=True))
    assert {RECORD, "instances.sizes.instance_measure_size"} <= names
    assert all(t.next_run_at > timezone.now() - timedelta(seconds=5) for t in instance.scheduled_tasks.all())


def test_an_hourly_task_runs_once_per_hour_over_a_simulated_day():
    instance = make_instance("day", state="publie")
    task = row(instance)
    start = task.next_run_at
    for minutes in range(0, 24 * 60, 10):  # a tick every 10 simulated minutes, twice each time
        now = start + timedelta(minutes=minutes, seconds=5)
        tick_one(task, now, wake=False)
        tick_one(task, now, wake=False)
    drain()
    assert runs(task).count() == 24
    assert runs(task, status=RunStatus.SUCCEEDED).count() == 24
    assert len(set(runs(task).values_list("period_key", flat=True))) == 24
    assert cron_tasks.calls("day") == 24


def test_a_forced_run_does_not_consume_or_shift_the_period():
    instance = make_instance("forced", state="publie")
    task = row(instance)
    next_before = task.next_run_at
    forced = execution.run_now(task=task)
    drain()
    forced.refresh_from_db()
    task.refresh_from_db()
    assert forced.status == RunStatus.SUCCEEDED and forced.forced
    assert task.next_run_at == next_before
    result = tick_one(task, next_before + timedelta(seconds=1), wake=False)
    assert result.queued >= 1
    assert runs(task, forced=False).count() == 1


def test_deactivation_stops_runs_and_reactivation_resumes_without_a_flood():
    instance = make_instance("pausable", state="publie")
    task = row(instance)
    services.instance_deactivate(instance=instance, by=None, reason="holiday")
    assert dispatch.tick(now=task.next_run_at + timedelta(hours=5), filters={"instance_id": instance.pk}).due == 0
    ScheduledTask.objects.filter(pk=task.pk).update(next_run_at=timezone.now() - timedelta(hours=10))

    services.instance_reactivate(instance=instance, by=None)
    task.refresh_from_db()
    assert task.live and task.next_run_at > timezone.now()  # resumes at the next boundary
    assert dispatch.tick(filters={"instance_id": instance.pk}).due == 0
    assert runs(task).count() == 0


def test_missed_periods_are_coalesced_within_the_deadline_and_recorded_as_missed_after_it():
    instance = make_instance("late", state="publie")
    task = row(instance)
    boundary = task.next_run_at
    set_next(task, boundary - timedelta(hours=5))
    result = tick_one(task, boundary + timedelta(minutes=10), wake=False)
    run = runs(task).get()
    assert (result.queued, run.status, run.coalesced, run.scheduled_for) == (1, RunStatus.QUEUED, 5, boundary)

    later = boundary + timedelta(hours=3, minutes=45)  # 45 min into the hour: past the 30 min deadline
    tick_one(task, later, wake=False)
    missed = runs(task).order_by("-scheduled_for").first()
    assert missed.status == RunStatus.MISSED and missed.coalesced == 2
    task.refresh_from_db()
    assert task.next_run_at == boundary + timedelta(hours=4)


def test_backfill_creates_one_run_per_missed_period():
    instance = make_instance("backfill", state="publie")
    task = row(instance)
    task.backfill = True
    boundary = task.next_run_at
    set_next(task, boundary - timedelta(hours=5))
    result = tick_one(task, boundary + timedelta(minutes=1), wake=False)
    assert result.queued == 6


def test_overlap_forbid_records_a_skipped_run_while_the_previous_one_runs():
    instance = make_instance("overlap", state="publie")
    task = row(instance)
    TaskRun.objects.create(task=task, period_key="H:previous", scheduled_for=task.next_run_at - timedelta(hours=1),
                           status=RunStatus.RUNNING, queued_at=timezone.now(), attempt=1,
                           lease_expires_at=task.next_run_at + timedelta(minutes=5))
    tick_one(task, task.next_run_at + timedelta(seconds=1), wake=False)
    skipped = runs(task, period_key=task.next_period_key).get()
    assert skipped.status == RunStatus.SKIPPED and "still running" in skipped.error


def test_overlap_replace_marks_the_old_run_replaced():
    instance = make_instance("replace", state="publie")
    task = row(instance)
    task.overlap = "replace"
    task.save()
    old = TaskRun.objects.create(task=task, period_key="H:previous", scheduled_for=task.next_run_at,
                                 status=RunStatus.RUNNING, queued_at=timezone.now(), attempt=1,
                                 lease_expires_at=task.next_run_at + timedelta(minutes=5))
    tick_one(task, task.next_run_at + timedelta(seconds=1), wake=False)
    old.refresh_from_db()
    assert old.status == RunStatus.REPLACED
    assert runs(task, status=RunStatus.QUEUED).count() == 1


def test_a_retryable_error_is_retried_with_backoff_until_it_succeeds():
    instance = make_instance("flaky", state="publie")
    task = row(instance, "tests.cron_tasks.flaky", "2")
    run = execution.run_now(task=task)
    for _ in range(200):
        drain()
        run.refresh_from_db()
        if run.status != RunStatus.QUEUED:
            break
    assert (run.status, run.attempt) == (RunStatus.SUCCEEDED, 3)
    assert cron_tasks.calls("flaky", "flaky") == 1


def test_other_errors_fail_the_run_at_once_and_count_consecutive_failures():
    instance = make_instance("broken", state="publie")
    task = row(instance, "tests.cron_tasks.broken")
    for _ in range(2):
        execution.run_now(task=task)
        drain()
    task.refresh_from_db()
    assert task.consecutive_failures == 2 and task.last_status == RunStatus.FAILED
    failed = runs(task).first()
    assert failed.attempt == 1 and "this task is broken" in failed.error


def test_a_duplicated_message_finds_the_run_already_claimed():
    instance = make_instance("dupe", state="publie")
    run = execution.run_now(task=row(instance))
    claimed = execution.run_claim(run_id=run.pk)
    assert claimed is not None
    assert execution.run_claim(run_id=run.pk) is None  # the redelivered message does nothing
    execution.run_execute(claimed)
    assert cron_tasks.calls("dupe") == 1


def test_farm_level_tasks_run_in_the_public_schema_once():
    from farm.cron.timetable import timetable_sync_all

    timetable_sync_all()
    task = ScheduledTask.objects.get(instance=None, name="tests.cron_tasks.farm_record")
    dispatch.tick(now=task.next_run_at + timedelta(seconds=1), filters={"instance_id": None, "name": task.name},
                  wake=False)
    drain()
    assert cron_tasks.calls("public", "farm") >= 1
    assert runs(task, status=RunStatus.SUCCEEDED).count() == 1


def test_an_idle_tick_finds_nothing_and_records_its_time():
    make_instance("idle", state="publie")
    result = dispatch.tick(now=timezone.now() - timedelta(days=1))
    assert (result.due, result.queued, result.wakeups) == (0, 0, 0)
    assert dispatch.last_tick_age() < 5


def test_a_worker_does_not_start_a_forbid_task_while_another_run_of_it_holds_a_lease():
    instance = make_instance("busy", state="publie")
    task = row(instance)
    TaskRun.objects.create(task=task, period_key="H:previous", scheduled_for=timezone.now(), status=RunStatus.RUNNING,
                           queued_at=timezone.now(), attempt=1, lease_expires_at=timezone.now() + timedelta(minutes=5))
    waiting = TaskRun.objects.create(task=task, period_key="H:next", scheduled_for=timezone.now(),
                                     status=RunStatus.QUEUED, queued_at=timezone.now())
    claimed = execution.run_claim()
    assert claimed is None or claimed.task_id != task.pk
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.QUEUED


def test_clicking_run_now_twice_queues_one_run():
    instance = make_instance("clicky", state="publie")
    task = row(instance)
    first, second = execution.run_now(task=task), execution.run_now(task=task)
    assert first.pk == second.pk and first.priority == task.priority
    assert runs(task, forced=True).count() == 1


def test_the_sweeper_fails_a_run_past_its_time_limit_instead_of_running_it_twice():
    from farm.cron import sweeper

    instance = make_instance("overrun", state="publie")
    task = row(instance)
    long_ago = timezone.now() - timedelta(seconds=task.time_limit + 5)
    run = TaskRun.objects.create(task=task, period_key=task.next_period_key, scheduled_for=timezone.now(),
                                 status=RunStatus.RUNNING, queued_at=long_ago, started_at=long_ago, attempt=1,
                                 lease_expires_at=timezone.now() - timedelta(seconds=1))
    result = sweeper.runs_sweep(wake=False)
    run.refresh_from_db()
    assert (result.requeued, result.failed, run.status) == (0, 1, RunStatus.FAILED)
    assert "time limit" in run.error
    task.refresh_from_db()
    assert task.consecutive_failures == 1


def test_the_cli_farm_filter_runs_only_farm_level_tasks():
    from io import StringIO

    from django.core.management import call_command

    from farm.cron.timetable import timetable_sync_all

    instance = make_instance("not-me", state="publie")
    timetable_sync_all()
    ScheduledTask.objects.update(next_run_at=timezone.now() - timedelta(minutes=1))
    out = StringIO()
    call_command("run_scheduled_tasks", "--farm", stdout=out)
    assert "farm" in out.getvalue()
    assert not TaskRun.objects.filter(task__instance=instance).exists()


ARCHIVE = "analytics.reports.tasks.archive_reports"


def test_a_spread_task_starts_at_each_sites_own_minute_once_an_hour_and_the_sync_keeps_it():
    """Sixty sites' hourly archiving is due at sixty different minutes, not all at :00; each still
    runs once an hour; a registry sync leaves the minutes alone and spreads a row still at :00."""
    from farm.cron.registry import registered, spread_minute
    from farm.cron.timetable import timetable_sync_all

    sites = [make_instance(f"spread{n}", state="publie") for n in range(60)]
    rows = [row(site, ARCHIVE) for site in sites]
    spec = registered()[(ARCHIVE, "")]
    assert len({r.minute for r in rows}) == 60 and all(r.minute == spread_minute(spec, r.instance_id) for r in rows)
    assert all(r.next_run_at.minute == r.minute for r in rows)
    stale = rows[0]
    ScheduledTask.objects.filter(pk=stale.pk).update(minute=(spread_minute(spec, stale.instance_id) + 1) % 60)
    timetable_sync_all()
    assert [row(site, ARCHIVE).minute for site in sites] == [r.minute for r in rows]
    for hour in range(2):  # through two hours, one site's run a minute, each once an hour
        for due in sorted(r.next_run_at for r in rows):
            at = due + timedelta(hours=hour)
            assert dispatch.tick(now=at, filters={"name": ARCHIVE}, wake=False).queued == 1, at
    runs = TaskRun.objects.filter(task__name=ARCHIVE)
    assert runs.count() == 120 and runs.values("task_id", "period_key").distinct().count() == 120
