"""Claiming and recording runs in batches, for runners: tasks whose runs are executed many at once
(a site's cron URL called for 10,000 sites a minute) rather than one by one by the workers.

The guarantees are the workers' own: a claim is a compare-and-set (queued → running, with a
lease), so a duplicated message claims nothing twice; an outcome is written only while the run is
still this claim's (same attempt, still running); a run that waited past its period is recorded
as missed instead of being executed late; a tenant that stopped being live gets its run skipped.
Each batch costs a few statements, whatever its size.
"""
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from farm import metrics
from farm.cron.execution import observe_lag, period_end, tasks_summarise, worker_name
from farm.cron.models import RunStatus, TaskRun
from farm.cron.tenants import live_sql, tenant_table


@dataclass(frozen=True)
class Outcome:
    """How one claimed run went: status succeeded/failed, or queued again (with not_before) to retry."""

    run: TaskRun
    status: str
    error: str = ""
    result: dict | None = None
    duration_ms: int | None = None
    not_before: datetime | None = None


@dataclass(frozen=True)
class Finished:
    """A timetable row after an outcome was recorded: what a runner needs to raise or clear an alert."""

    task_id: int
    instance_id: int | None
    status: str
    consecutive_failures: int


def runs_claim_many(run_ids: list[int], *, lease_seconds: int, now=None) -> list[TaskRun]:
    """Claim the given runs that are still queued and due; returns them with their task and tenant.

    Runs of a tenant no longer live are recorded as skipped, runs whose period is over as missed
    (neither is returned).
    """
    now = now or timezone.now()
    live_condition, live_params = live_sql("i")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            UPDATE cron_taskrun r SET status = 'skipped', finished_at = %s,
                   error = 'skipped: the site is not live (deactivated or not ready)'
              FROM cron_scheduledtask t LEFT JOIN "{tenant_table()}" i ON i.id = t.instance_id
             WHERE r.id = ANY(%s) AND r.status = 'queued' AND t.id = r.task_id
               AND t.instance_id IS NOT NULL AND NOT coalesce(({live_condition}), false)""",
                       [now, run_ids, *live_params])
        # One run per task at a time where the task forbids overlap (a "run now" next to the
        # period's run, two periods' runs handed over together): the newest is claimed, the others
        # wait for the next hand-over.
        cursor.execute("""
            WITH candidates AS (
                SELECT q.id, q.task_id, q.scheduled_for, t.overlap
                  FROM cron_taskrun q JOIN cron_scheduledtask t ON t.id = q.task_id
                 WHERE q.id = ANY(%(ids)s) AND q.status = 'queued'
                   AND (q.not_before IS NULL OR q.not_before <= %(now)s)
                   AND (t.overlap <> 'forbid' OR NOT EXISTS (
                        SELECT 1 FROM cron_taskrun busy WHERE busy.task_id = q.task_id
                           AND busy.status = 'running' AND busy.lease_expires_at > %(now)s))
                   FOR UPDATE OF q SKIP LOCKED
            ), chosen AS (
                SELECT DISTINCT ON (task_id, CASE WHEN overlap = 'forbid' THEN 0 ELSE id END) id
                  FROM candidates
                 ORDER BY task_id, CASE WHEN overlap = 'forbid' THEN 0 ELSE id END, scheduled_for DESC
            )
            UPDATE cron_taskrun r
               SET status = 'running', attempt = r.attempt + 1, started_at = %(now)s, worker = %(worker)s,
                   lease_expires_at = %(lease)s
             WHERE r.id IN (SELECT id FROM chosen)
         RETURNING r.id""", {"now": now, "worker": worker_name(), "lease": now + timedelta(seconds=lease_seconds),
                             "ids": run_ids})
        claimed = [row[0] for row in cursor.fetchall()]
    runs, late = [], []
    for run in TaskRun.objects.filter(pk__in=claimed).select_related("task", "task__instance").order_by("pk"):
        (runs if period_end(run) > now else late).append(run)
    runs_finish_many([Outcome(run=run, status=RunStatus.MISSED, error="missed: its period was over before a "
                              "runner took it") for run in late], now=now)
    observe_lag(runs)
    return runs


def runs_finish_many(outcomes: list[Outcome], *, now=None) -> list[Finished]:
    """Record outcomes (where the run is still the claim's) and the timetable rows' summaries and totals.

    Returns the timetable rows that got a final outcome (not those queued again to retry).
    """
    if not outcomes:
        return []
    now = now or timezone.now()
    rows = [(o.run.pk, o.run.attempt, o.status, o.error[:5000], o.duration_ms, o.not_before,
             None if o.status == RunStatus.QUEUED else now) for o in outcomes]
    results = [o.result for o in outcomes]
    with transaction.atomic(), connection.cursor() as cursor:
        ids, attempts, statuses, errors, durations, not_befores, finished = (list(c) for c in zip(*rows, strict=True))
        cursor.execute("""
            UPDATE cron_taskrun r
               SET status = v.status, error = v.error, duration_ms = v.duration_ms, not_before = v.not_before,
                   finished_at = v.finished_at, lease_expires_at = NULL, result = v.result
              FROM unnest(%s::bigint[], %s::int[], %s::text[], %s::text[], %s::int[], %s::timestamptz[],
                          %s::timestamptz[], %s::jsonb[])
                   AS v(id, attempt, status, error, duration_ms, not_before, finished_at, result)
             WHERE r.id = v.id AND r.status = 'running' AND r.attempt = v.attempt
         RETURNING r.id""",
                       [ids, attempts, statuses, errors, durations, not_befores, finished,
                        [_jsonb(r) for r in results]])
        recorded = {row[0] for row in cursor.fetchall()}
        final = sorted((o for o in outcomes if o.run.pk in recorded and o.status != RunStatus.QUEUED),
                       key=lambda o: (o.run.scheduled_for, o.run.pk))
        rows = tasks_summarise([(o.run.task_id, o.status, o.duration_ms) for o in final], at=now)
    metrics.counts([("farm_runs_finished_total", n, {"status": status})
                    for status, n in Counter(o.status for o in final).items()])
    return [Finished(*row) for row in rows]


def leases_renew(run_ids: list[int], *, lease_seconds: int) -> int:
    """Extend the leases of claimed runs still running (a runner's heartbeat while it waits on its
    calls): a runner that dies stops renewing and the sweeper takes its runs back. Returns rows."""
    return TaskRun.objects.filter(pk__in=run_ids, status=RunStatus.RUNNING).update(
        lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds))


def _jsonb(value):
    from psycopg.types.json import Jsonb

    return None if value is None else Jsonb(value)
