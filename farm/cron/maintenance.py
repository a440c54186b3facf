"""Farm-level housekeeping tasks of the cron itself."""
from datetime import timedelta

from django.utils import timezone

from farm.conf import farm_setting
from farm.cron.models import RunStatus, TaskRun


def prune_run_history() -> int:
    """Delete finished runs older than FARM_CRON_HISTORY_DAYS (default 30); returns how many."""
    days = farm_setting("FARM_CRON_HISTORY_DAYS")
    old = TaskRun.objects.filter(queued_at__lt=timezone.now() - timedelta(days=days)).exclude(
        status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
    deleted, _rows = old.delete()
    return deleted
