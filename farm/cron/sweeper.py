"""The sweeper (run by every tick): recovers runs whose worker died and wakes workers for waiting runs.

A run still "running" after its lease lost its worker (workers renew leases while they run): it is
queued again while it has attempts left and its period has not ended, else failed. A run past its
time limit is failed, not retried, so an overrunning task never runs twice at once. Runs queued for longer than
FARM_CRON_STALE_QUEUED seconds (their wake-up was lost or all workers were busy) get new wake-ups.
"""
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from farm.conf import farm_setting
from farm.cron.execution import period_end, summarise
from farm.cron.models import RunStatus, TaskRun


@dataclass
class SweepResult:
    requeued: int = 0
    failed: int = 0
    woken: int = 0


def runs_sweep(*, now=None, wake: bool = True) -> SweepResult:
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        expired = (TaskRun.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(status=RunStatus.RUNNING, lease_expires_at__lt=now)
                   .select_related("task", "task__instance"))
        for run in expired:
            overran = run.started_at + timedelta(seconds=run.task.time_limit) <= now
            lost = f"attempt {run.attempt}: the worker was lost (lease expired at {run.lease_expires_at:%H:%M:%S})"
            if overran:
                run.status, run.finished_at = RunStatus.FAILED, now
                run.error = f"attempt {run.attempt}: exceeded its time limit of {run.task.time_limit} s"
            elif run.attempt <= run.task.max_retries and now < period_end(run):
                run.status, run.lease_expires_at, run.not_before, run.error = RunStatus.QUEUED, None, None, lost
                result.requeued += 1
            else:
                run.status, run.finished_at, run.error = RunStatus.FAILED, now, lost + "; no attempt left"
            run.save(update_fields=["status", "lease_expires_at", "not_before", "error", "finished_at"])
            if run.status == RunStatus.FAILED:
                result.failed += 1
                summarise(run.task_id, status=RunStatus.FAILED, at=now, duration_ms=None)
    stale = timedelta(seconds=farm_setting("FARM_CRON_STALE_QUEUED"))
    waiting = TaskRun.objects.filter(status=RunStatus.QUEUED, queued_at__lt=now - stale)
    requeued = [run.pk for run in expired if run.status == RunStatus.QUEUED]
    if wake:
        from farm.cron.dispatch import runs_wake

        # Bounded like a tick's wake-ups: a backlog of runs gets at most this many messages a tick.
        cap = farm_setting("FARM_CRON_MAX_WAKEUPS") * farm_setting("FARM_CRON_RUNS_PER_WAKEUP")
        ids = requeued + list(waiting.exclude(pk__in=requeued).values_list("pk", flat=True)[:cap])
        if ids:
            result.woken = runs_wake(ids)
    return result
