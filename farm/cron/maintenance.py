"""Farm-level housekeeping tasks of the cron itself."""
from datetime import timedelta

from django.utils import timezone

from farm.conf import farm_setting
from farm.cron.models import RunStatus, TaskRun

PRUNE_BATCH = 20_000


def prune_run_history() -> int:
    """Delete finished runs older than FARM_CRON_HISTORY_DAYS (default 30); returns how many."""
    days = farm_setting("FARM_CRON_HISTORY_DAYS")
    old = TaskRun.objects.filter(queued_at__lt=timezone.now() - timedelta(days=days)).exclude(
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    deleted, _rows = old.delete()
    return deleted


def prune_minute_run_history() -> int:
    """Delete finished runs of minute tasks older than FARM_CRON_MINUTE_HISTORY_HOURS, in batches;
    returns how many. Their timetable rows keep the totals and the last run."""
    cutoff = timezone.now() - timedelta(hours=farm_setting("FARM_CRON_MINUTE_HISTORY_HOURS"))
    old = TaskRun.objects.filter(task__period="minutes", queued_at__lt=cutoff).exclude(
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    deleted = 0
    while True:
        ids = list(old.values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        deleted += TaskRun.objects.filter(pk__in=ids).delete()[0]
