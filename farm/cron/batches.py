"""Claiming and recording runs in batches, for runners: tasks whose runs are executed many at once
(a site's cron URL called for 10,000 sites a minute) rather than one by one by the workers.

The guarantees are the workers' own: a claim is a compare-and-set (queued → running, with a
lease), so a duplicated message claims nothing twice; an outcome is written only while the run is
still this claim's (same attempt, still running); a run that waited past its period is recorded
as missed instead of being executed late; a tenant that stopped being live gets its run skipped.
Each batch costs a few statements, whatever its size.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from farm.cron.execution import period_end, worker_name
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
        cursor.execute("""
            UPDATE cron_taskrun r
               SET status = 'running', attempt = r.attempt + 1, started_at = %s, worker = %s,
                   lease_expires_at = %s
             WHERE r.id = ANY(%s) AND r.status = 'queued' AND (r.not_before IS NULL OR r.not_before <= %s)
         RETURNING r.id""", [now, worker_name(), now + timedelta(seconds=lease_seconds), run_ids, now])
        claimed = [row[0] for row in cursor.fetchall()]
    runs = list(TaskRun.objects.filter(pk__in=claimed).select_related("task", "task__instance").order_by("pk"))
    late = [run for run in runs if period_end(run) <= now]
    if late:
        runs_finish_many([Outcome(run=run, status=RunStatus.MISSED,
                                  error="missed: its period was over before a runner took it") for run in late])
    return [run for run in runs if period_end(run) > now]


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
         RETURNING r.task_id, v.status, v.duration_ms""",
                       [ids, attempts, statuses, errors, durations, not_befores, finished,
                        [_jsonb(r) for r in results]])
        final = [row for row in cursor.fetchall() if row[1] != RunStatus.QUEUED]
        if not final:
            return []
        task_ids, final_statuses, final_durations = (list(c) for c in zip(*final, strict=True))
        # NB: one row per task in a batch (one run per task and period), so the update sees each once.
        cursor.execute("""
            UPDATE cron_scheduledtask t
               SET last_status = v.status, last_run_at = %s, last_duration_ms = v.duration_ms,
                   run_count = t.run_count + 1,
                   failure_count = t.failure_count + (v.status = 'failed')::int,
                   consecutive_failures = CASE WHEN v.status = 'succeeded' THEN 0
                                               WHEN v.status = 'failed' THEN t.consecutive_failures + 1
                                               ELSE t.consecutive_failures END
              FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS v(id, status, duration_ms)
             WHERE t.id = v.id
         RETURNING t.id, t.instance_id, v.status, t.consecutive_failures""",
                       [now, task_ids, final_statuses, final_durations])
        return [Finished(*row) for row in cursor.fetchall()]


def _jsonb(value):
    from psycopg.types.json import Jsonb

    return None if value is None else Jsonb(value)
