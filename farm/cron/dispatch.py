"""The super cron's tick: plan the runs that are due, exactly once per period, and wake workers.

One indexed query per batch selects due rows (`next_run_at <= now`, enabled, tenant live) with
FOR UPDATE SKIP LOCKED, so racing ticks split the work instead of doubling it; runs are inserted
with ON CONFLICT DO NOTHING on the unique (task, period key), so a row seen twice still yields one
run; `next_run_at` moves to the next boundary in the same transaction. After commit, workers get
wake-up messages — one per FARM_CRON_RUNS_PER_WAKEUP runs, not one per run — and claim runs from
the database in priority order. The cost grows with the number of due runs, not of tenants.
"""
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from celery import current_app
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from farm import metrics
from farm.conf import farm_setting
from farm.cron.models import TaskRun
from farm.cron.periods import Schedule, boundaries_between, current_boundary, next_boundary
from farm.cron.samples import tick_sample_record
from farm.cron.tenants import live_sql, tenant_table, timezone_field, zone

logger = logging.getLogger(__name__)

LAST_TICK_KEY = "cron:last-tick"
BATCH_SIZE = 1000
BACKFILL_LIMIT = 100


def runs_per_wakeup() -> int:
    return farm_setting("FARM_CRON_RUNS_PER_WAKEUP")


@dataclass
class TickResult:
    due: int = 0
    queued: int = 0
    skipped: int = 0
    missed: int = 0
    wakeups: int = 0
    seconds: float = 0.0
    run_ids: list = field(default_factory=list)
    handed: dict = field(default_factory=dict)  # runner task name → queued run ids it executes


def _due_rows(now, limit: int, filters: dict) -> list[tuple]:
    live_condition, live_params = live_sql("i")
    extra, extra_params = "", []
    if filters.get("farm_only"):
        extra += " AND t.instance_id IS NULL"
    for column in ("instance_id", "name", "param"):
        if filters.get(column) is not None:
            extra += f" AND t.{column} = %s"
            extra_params.append(filters[column])
    sql = f"""
        SELECT t.id, t.period, t.minute, t.hour, t.weekday, t.day, t.priority, t.overlap, t.backfill,
               t.start_deadline, t.next_run_at, t.next_period_key, i."{timezone_field()}", t.every, t.runner
          FROM cron_scheduledtask t
          LEFT JOIN "{tenant_table()}" i ON i.id = t.instance_id
         WHERE t.enabled AND t.live AND t.next_run_at <= %s
           AND (t.instance_id IS NULL OR ({live_condition})){extra}
         ORDER BY t.next_run_at
         LIMIT %s
           FOR UPDATE OF t SKIP LOCKED"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *live_params, *extra_params, limit])
        return cursor.fetchall()


def _plan(row, now):
    """Decide the run(s) for one due row: [(period_key, scheduled_for, status, coalesced)], next boundary."""
    (_id, period, minute, hour, weekday, day, _priority, _overlap, backfill, start_deadline, next_run_at,
     next_key, tz_name, every, _runner) = row
    schedule, tz = Schedule(period, minute, hour, weekday, day, every), zone(tz_name)
    following = next_boundary(schedule, now, tz)
    if backfill:
        periods = boundaries_between(schedule, next_run_at, now, tz, limit=BACKFILL_LIMIT)
        return [(key, at, "queued", 0) for at, key in periods] or [(next_key, next_run_at, "queued", 0)], following
    latest_at, latest_key = current_boundary(schedule, now, tz)
    if latest_at <= next_run_at:
        latest_at, latest_key, coalesced = next_run_at, next_key, 0
    else:
        coalesced = len(boundaries_between(schedule, next_run_at, latest_at, tz, limit=BACKFILL_LIMIT)) - 1
    # A minute task's deadline is its whole period: a tick a few seconds late still runs this minute.
    nominal = schedule.nominal_seconds
    deadline = timedelta(seconds=start_deadline or (nominal if period == "minutes" else nominal // 2))
    status = "queued" if now - latest_at <= deadline else "missed"
    return [(latest_key, latest_at, status, coalesced)], following


def _running_task_ids(task_ids, now) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT task_id FROM cron_taskrun WHERE status = 'running' AND task_id = ANY(%s)"
                       " AND lease_expires_at > %s", [task_ids, now])
        return {r[0] for r in cursor.fetchall()}


def _insert_runs(runs, now) -> list[tuple[int, str]]:
    if not runs:
        return []
    columns = list(zip(*runs, strict=True))  # task_id, period_key, scheduled_for, status, priority, coalesced, error
    sql = """
        INSERT INTO cron_taskrun (task_id, period_key, scheduled_for, status, priority, coalesced, error,
                                  forced, attempt, queued_at, worker)
        SELECT v.task_id, v.period_key, v.scheduled_for, v.status, v.priority, v.coalesced, v.error,
               false, 0, %s, ''
          FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[], %s::int[], %s::int[], %s::text[])
               AS v(task_id, period_key, scheduled_for, status, priority, coalesced, error)
        ON CONFLICT (task_id, period_key) WHERE NOT forced DO NOTHING
        RETURNING id, status, task_id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, *[list(c) for c in columns]])
        return cursor.fetchall()


def _advance(rows_next) -> None:
    ids, ats, keys = (list(c) for c in zip(*rows_next, strict=True))
    with connection.cursor() as cursor:
        cursor.execute("""
            UPDATE cron_scheduledtask t SET next_run_at = v.at, next_period_key = v.key
              FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[]) AS v(id, at, key)
             WHERE t.id = v.id""", [ids, ats, keys])


def _tick_batch(now, filters, result: TickResult) -> int:
    with transaction.atomic():
        rows = _due_rows(now, BATCH_SIZE, filters)
        if not rows:
            return 0
        running = _running_task_ids([r[0] for r in rows], now)
        runners = {r[0]: r[14] for r in rows if r[14]}
        runs, rows_next, replace = [], [], []
        for row in rows:
            task_id, priority, overlap = row[0], row[6], row[7]
            planned, (next_at, next_key) = _plan(row, now)
            rows_next.append((task_id, next_at, next_key))
            for key, at, status, coalesced in planned:
                error = ""
                if status == "queued" and task_id in running:
                    if overlap == "forbid":
                        status, error = "skipped", "skipped: the previous run is still running"
                    elif overlap == "replace":
                        replace.append(task_id)
                elif status == "missed":
                    error = "missed: the period started longer ago than the start deadline"
                runs.append((task_id, key, at, status, priority, coalesced, error))
        if replace:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE cron_taskrun SET status = 'replaced', finished_at = %s, "
                               "error = 'replaced by a newer run' WHERE status = 'running' AND task_id = ANY(%s)",
                               [now, replace])
        inserted = _insert_runs(runs, now)
        _advance(rows_next)
    result.due += len(rows)
    for run_id, status, task_id in inserted:
        if status == "queued":
            result.queued += 1
            result.run_ids.append(run_id)
            if task_id in runners:
                result.handed.setdefault(runners[task_id], []).append(run_id)
        elif status == "skipped":
            result.skipped += 1
        elif status == "missed":
            result.missed += 1
    return len(rows)


def wake_workers(runs: int) -> int:
    """Send enough wake-up messages for `runs` queued runs; returns how many were sent."""
    from farm.cron.tasks import work_task

    count = min(math.ceil(runs / runs_per_wakeup()), farm_setting("FARM_CRON_MAX_WAKEUPS"))
    for _ in range(count):
        work_task.apply_async()
    return count


def hand_over(runs_by_runner: dict[str, list[int]]) -> int:
    """Send each runner (a Celery task name) the ids of its queued runs, FARM_CRON_RUNNER_BATCH per
    message; returns the messages sent. The runner claims them itself: a duplicate message finds
    nothing left to claim."""
    size = farm_setting("FARM_CRON_RUNNER_BATCH")
    sent = 0
    for runner, ids in runs_by_runner.items():
        for start in range(0, len(ids), size):
            current_app.send_task(runner, args=[ids[start:start + size]])
            sent += 1
    return sent


def runs_wake(run_ids: list[int]) -> int:
    """Wake whoever executes these queued runs (their runner, else the workers); returns messages sent."""
    by_runner: dict[str, list[int]] = {}
    generic = 0
    for run_id, runner in TaskRun.objects.filter(pk__in=run_ids).values_list("pk", "task__runner"):
        if runner:
            by_runner.setdefault(runner, []).append(run_id)
        else:
            generic += 1
    return hand_over(by_runner) + (wake_workers(generic) if generic else 0)


def tick(*, now=None, filters: dict | None = None, wake: bool = True) -> TickResult:
    """Plan every due run (in batches) and wake workers (and runners) once the batches are committed."""
    started = time.perf_counter()
    now = now or timezone.now()
    result = TickResult()
    while _tick_batch(now, filters or {}, result) == BATCH_SIZE:
        pass
    handed = sum(len(ids) for ids in result.handed.values())
    if wake and result.queued > handed:
        result.wakeups = wake_workers(result.queued - handed)
    if wake and handed:
        result.wakeups += hand_over(result.handed)
    if not filters:
        cache.set(LAST_TICK_KEY, timezone.now().timestamp(), timeout=None)
    metrics.counts([("farm_super_cron_ticks_total", 0 if filters else 1, {}), ("farm_runs_due_total", result.due, {}),
                    ("farm_runs_dispatched_total", result.queued, {}), ("farm_runs_missed_total", result.missed, {})])
    if not filters:
        try:
            tick_sample_record(now=now, due=result.due, dispatched=result.queued, missed=result.missed)
        except Exception:  # NB: the runs are queued and woken already; the console's sample is not worth a failed tick
            logger.warning("the tick's sample for the farm console was not written", exc_info=True)
    result.seconds = time.perf_counter() - started
    return result


def last_tick_age(now=None) -> float | None:
    """Seconds since the last full tick finished, or None if none ever ran."""
    stamp = cache.get(LAST_TICK_KEY)
    if stamp is None:
        return None
    return max(0.0, (now or timezone.now()).timestamp() - stamp)
