"""What a person reads for the cron's codes, in the active language: task labels, schedules, run statuses.

The registry, the timetable and the run history keep codes (dotted names, "hourly", "succeeded"),
which the CLI and the admin show as they are; the site's Scheduled tasks page reads them through here.
"""
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext, pgettext_lazy

from farm.cron.models import RunStatus
from farm.cron.periods import Schedule
from farm.cron.registry import label_for

# A run is "une exécution" in French: the statuses agree with it, hence the context.
RUN_STATUS_LABELS = {
    RunStatus.QUEUED: pgettext_lazy("task run status", "queued"),
    RunStatus.RUNNING: pgettext_lazy("task run status", "running"),
    RunStatus.SUCCEEDED: pgettext_lazy("task run status", "succeeded"),
    RunStatus.FAILED: pgettext_lazy("task run status", "failed"),
    RunStatus.SKIPPED: pgettext_lazy("task run status", "skipped"),
    RunStatus.MISSED: pgettext_lazy("task run status", "missed"),
    RunStatus.REPLACED: pgettext_lazy("task run status", "replaced"),
}


def task_label(task) -> str:
    """A timetable row's (or run's task's) label, e.g. "Archive reports", with its parameter if any."""
    label = label_for(task.name, task.param)
    return f"{label} ({task.param})" if task.param else label


def schedule_label(schedule: Schedule) -> str:
    """When the task runs, e.g. "daily at 03:00" / "tous les jours à 03:00" (times are the site's)."""
    at = f"{schedule.hour:02d}:{schedule.minute:02d}"
    if schedule.period == "hourly":
        return gettext("hourly at :%(minute)02d") % {"minute": schedule.minute}
    if schedule.period == "daily":
        return gettext("daily at %(time)s") % {"time": at}
    if schedule.period == "weekly":
        return gettext("weekly on %(weekday)s at %(time)s") % {"weekday": WEEKDAYS[schedule.weekday], "time": at}
    return gettext("monthly on day %(day)s at %(time)s") % {"day": schedule.day, "time": at}


def status_label(status: str) -> str:
    """A run status in words ("succeeded" / "réussie"); an unknown code reads as itself, none as a dash."""
    if not status:
        return "—"
    return str(RUN_STATUS_LABELS.get(status, status))
