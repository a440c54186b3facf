"""Executing runs: claim (compare-and-set queued → running with a lease), run, record, retry.

A worker woken by a message claims the next queued run in priority order with FOR UPDATE SKIP
LOCKED; a duplicated or redelivered message simply finds nothing left to claim. The result is
written only if the run is still this worker's (same attempt, still running): a run whose lease
expired and was retried, or that was replaced, does not have its outcome overwritten.
"""
import logging
import os
import random
import socket
import threading
import time
import traceback
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from farm import metrics
from farm.conf import farm_setting
from farm.cron import registry
from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from farm.cron.periods import next_boundary
from farm.cron.tenants import TenantNotLive, entered, tenant_zone

logger = logging.getLogger(__name__)

# A worker's claim skips runs whose task forbids overlap while another run of it holds a live lease;
# claiming one run by id (the CLI, after its own lock check) does not.
_NOT_BUSY = """
               AND (qt.overlap <> 'forbid' OR NOT EXISTS (
                    SELECT 1 FROM cron_taskrun busy WHERE busy.task_id = q.task_id
                       AND busy.status = 'running' AND busy.lease_expires_at > %(now)s))"""
_CLAIM = """
    UPDATE cron_taskrun r
       SET status = 'running', attempt = r.attempt + 1, started_at = %(now)s, worker = %(worker)s,
           lease_expires_at = %(now)s + make_interval(secs => LEAST(t.time_limit, %(lease)s))
      FROM cron_scheduledtask t
     WHERE t.id = r.task_id AND r.id = (
            SELECT q.id FROM cron_taskrun q JOIN cron_scheduledtask qt ON qt.id = q.task_id
             WHERE q.status = 'queued' AND (q.not_before IS NULL OR q.not_before <= %(now)s) {only}
             ORDER BY q.priority, q.queued_at, q.id
             LIMIT 1 FOR UPDATE OF q SKIP LOCKED)
 RETURNING r.id"""


def lease_seconds() -> int:
    """How long a claim holds without a heartbeat: a dead worker's run is retried after this."""
    return farm_setting("FARM_CRON_LEASE_SECONDS")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_claim(*, run_id: int | None = None, worker: str | None = None, now=None) -> TaskRun | None:
    """Claim one queued run (the given one, or the next by priority); None if there is none to claim."""
    now = now or timezone.now()
    # Runs of a task with a runner are that runner's (farm.cron.batches), unless claimed by id.
    only = "AND q.id = %(run_id)s" if run_id is not None else "AND qt.runner = ''" + _NOT_BUSY
    params = {"now": now, "worker": worker or worker_name(), "run_id": run_id, "lease": lease_seconds()}
    with transaction.atomic(), connection.cursor() as cursor:
        # NB: the queue read in its index's order (cron_queued_idx): right after a tick, the table's
        # statistics still say it is nearly empty and the planner would sort every queued run at
        # every claim (measured: 8 ms a claim with 4,000 queued, about 80 ms with 40,000; 0.4 ms so)
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(_CLAIM.format(only=only), params)
        row = cursor.fetchone()
    if not row:
        return None
    run = TaskRun.objects.select_related("task").get(pk=row[0])
    observe_lag([run])
    return run


def observe_lag(runs: list[TaskRun]) -> None:
    """The dispatch lag of scheduled runs started for the first time: from their period's boundary."""
    metrics.observe("farm_dispatch_lag_seconds", *(
        max(0.0, (run.started_at - run.scheduled_for).total_seconds())
        for run in runs if run.attempt == 1 and not run.forced and run.started_at))


def period_end(run: TaskRun):
    """Retries must finish inside the run's period: its end is the next boundary."""
    if run.forced:
        return run.scheduled_for + timedelta(seconds=run.task.schedule.nominal_seconds)
    tenant = run.task.instance if run.task.instance_id else None
    return next_boundary(run.task.schedule, run.scheduled_for, tenant_zone(tenant))[0]


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^attempt)] seconds."""
    base = farm_setting("FARM_CRON_RETRY_BASE_SECONDS")
    cap = farm_setting("FARM_CRON_RETRY_CAP_SECONDS")
    return random.uniform(0, min(cap, base * 2 ** attempt))


def _finish(run: TaskRun, *, status: str, error: str = "", not_before=None, result=None) -> bool:
    """Record the outcome if the run is still ours; returns False when someone else took it over."""
    now = timezone.now()
    duration = int((now - run.started_at).total_seconds() * 1000) if run.started_at else None
    fields = {"status": status, "error": error[:5000], "finished_at": None if status == "queued" else now,
              "duration_ms": duration, "lease_expires_at": None, "not_before": not_before, "result": result}
    with transaction.atomic():
        updated = TaskRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempt=run.attempt).update(**fields)
        if updated and status != RunStatus.QUEUED:
            summarise(run.task_id, status=status, at=now, duration_ms=duration)
    if updated and status != RunStatus.QUEUED:
        metrics.count("farm_runs_finished_total", status=status)
    return bool(updated)


def summarise(task_id: int, *, status: str, at, duration_ms) -> None:
    """Keep the timetable row's last-run summary (status, time, duration, failures in a row, totals)."""
    tasks_summarise([(task_id, status, duration_ms)], at=at)


def tasks_summarise(outcomes: list[tuple[int, str, int | None]], *, at) -> list[tuple]:
    """Fold final outcomes — (task id, status, duration ms), oldest period first — into their timetable
    rows in one statement: last status and duration, totals, failures in a row (a success resets
    them; a skipped or missed run leaves them). A task may come several times (a runner's batch).

    Returns (task id, tenant id, last status, failures in a row) per row updated.
    """
    by_task: dict[int, list] = {}
    for task_id, status, duration_ms in outcomes:
        entry = by_task.setdefault(task_id, [task_id, status, duration_ms, 0, 0, False, 0])
        entry[1], entry[2], entry[3] = status, duration_ms, entry[3] + 1
        if status == RunStatus.SUCCEEDED:
            entry[5], entry[6] = True, 0
        elif status == RunStatus.FAILED:
            entry[4], entry[6] = entry[4] + 1, entry[6] + 1
    if not by_task:
        return []
    columns = [list(c) for c in zip(*by_task.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute("""
            UPDATE cron_scheduledtask t
               SET last_status = v.status, last_run_at = %s, last_duration_ms = v.duration_ms,
                   run_count = t.run_count + v.runs, failure_count = t.failure_count + v.failures,
                   consecutive_failures = CASE WHEN v.reset THEN 0 ELSE t.consecutive_failures END + v.in_a_row
              FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::int[], %s::int[], %s::bool[], %s::int[])
                   AS v(id, status, duration_ms, runs, failures, reset, in_a_row)
             WHERE t.id = v.id
         RETURNING t.id, t.instance_id, v.status, t.consecutive_failures""", [at, *columns])
        return cursor.fetchall()


@contextmanager
def _heartbeat(run: TaskRun):
    """Renew the run's lease while it runs, up to its time limit (then the lease lapses).

    A worker that dies stops renewing, so the sweeper retries its run one lease later; a run that
    overruns its time limit is failed by the sweeper, never run twice at once.
    """
    stop = threading.Event()
    interval = max(lease_seconds() / 3, 0.2)
    deadline = run.started_at + timedelta(seconds=run.task.time_limit)

    def renew():
        try:
            while not stop.wait(interval):
                now = timezone.now()
                if now >= deadline:
                    return
                TaskRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, attempt=run.attempt).update(
                    lease_expires_at=min(deadline, now + timedelta(seconds=lease_seconds())))
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"lease-{run.pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_execute(run: TaskRun) -> str:
    """Run a claimed run's function in its tenant's schema and record how it went; returns the status."""
    task = run.task
    spec = registry.spec_for(task.name, task.param)
    if spec is None:
        _finish(run, status=RunStatus.FAILED, error=f"{task.name} is not registered in this worker's code")
        return RunStatus.FAILED
    try:
        with _heartbeat(run), entered(task.instance_id):
            outcome = spec.func(task.param) if task.param else spec.func()
    except registry.RetryableError as exc:
        now = timezone.now()
        delay = backoff_seconds(run.attempt)
        if run.attempt <= task.max_retries and now + timedelta(seconds=delay) < period_end(run):
            if _finish(run, status=RunStatus.QUEUED, error=f"attempt {run.attempt}: {exc}",
                       not_before=now + timedelta(seconds=delay)):
                from farm.cron.tasks import work_task

                transaction.on_commit(lambda: work_task.apply_async(countdown=delay))
            return RunStatus.QUEUED
        _finish(run, status=RunStatus.FAILED, error=f"gave up after {run.attempt} attempt(s): {exc}")
        return RunStatus.FAILED
    except TenantNotLive as exc:
        _finish(run, status=RunStatus.SKIPPED, error=str(exc))
        return RunStatus.SKIPPED
    except Exception:  # any task error is recorded on the run; the worker carries on with the next
        logger.exception("scheduled task %s failed", task.name)
        _finish(run, status=RunStatus.FAILED, error=traceback.format_exc(limit=8))
        return RunStatus.FAILED
    _finish(run, status=RunStatus.SUCCEEDED, result=outcome if isinstance(outcome, dict) else None)
    return RunStatus.SUCCEEDED


def work(*, max_runs: int = 25, max_seconds: float = 300.0) -> int:
    """Claim and execute queued runs until none is left, or the batch or time budget is spent."""
    worker, done, started = worker_name(), 0, time.monotonic()
    while done < max_runs and time.monotonic() - started < max_seconds:
        run = run_claim(worker=worker)
        if run is None:
            break
        run_execute(run)
        done += 1
    return done


@transaction.atomic
def run_now(*, task: ScheduledTask, ignore_lock: bool = False, now=None) -> TaskRun:
    """Queue a forced run: it runs at once and neither consumes nor shifts the task's period.

    Honours the overlap lock: with "forbid" and a run in progress it is recorded as skipped,
    unless `ignore_lock`.
    """
    now = now or timezone.now()
    task = ScheduledTask.objects.select_for_update().get(pk=task.pk)  # one "run now" at a time per task
    waiting = TaskRun.objects.filter(task=task, forced=True, status=RunStatus.QUEUED).first()
    if waiting is not None:
        return waiting  # a forced run is already waiting: clicking again queues nothing more
    busy = TaskRun.objects.filter(task=task, status=RunStatus.RUNNING, lease_expires_at__gt=now).exists()
    skipped = busy and task.overlap == "forbid" and not ignore_lock
    return TaskRun.objects.create(
        task=task, period_key=f"forced:{now:%Y-%m-%dT%H:%M:%S.%f}", scheduled_for=now, forced=True,
        status=RunStatus.SKIPPED if skipped else RunStatus.QUEUED, priority=task.priority, queued_at=now,
        error="skipped: the previous run is still running" if skipped else "",
    )
