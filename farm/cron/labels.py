"""What a person reads for the cron's codes, in the active language: task labels, schedules, run statuses.

The registry, the timetable and the run history keep codes (dotted names, "hourly", "succeeded"),
which the CLI and the admin show as they are; the site's Scheduled tasks page reads them through here.
"""
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext, ngettext, pgettext_lazy

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
    if schedule.period == "minutes":
        return ngettext("every minute", "every %(count)d minutes", schedule.every) % {"count": schedule.every}
    if schedule.period == "hourly":
        return gettext("hourly at :%(minute)02d") % {"minute": schedule.minute}
    if schedule.period == "daily":
        return gettext("daily at %(time)s") % {"time": at}
    if schedule.period == "weekly":
        return gettext("weekly on %(weekday)s at %(time)s") % {"weekday": WEEKDAYS[schedule.weekday], "time": at}
    return gettext("monthly on day %(day)s at %(time)s") % {"day": schedule.day, "time": at}


def run_result_label(result) -> str:
    """What a run reported, in a few words: "HTTP 200 · 1.2 KB" for a call; other keys as key=value."""
    if not isinstance(result, dict) or not result:
        return ""
    from django.template.defaultfilters import filesizeformat

    parts = []
    if "status_code" in result:
        parts.append(f"HTTP {result['status_code']}")
    if "bytes_read" in result:
        size = str(filesizeformat(result["bytes_read"]))
        parts.append(gettext("%(size)s read, truncated") % {"size": size} if result.get("truncated")
                     else gettext("%(size)s read") % {"size": size})
    known = {"status_code", "bytes_read", "truncated", "duration_ms", "error"}
    parts.extend(f"{key}={value}" for key, value in result.items() if key not in known)
    return " · ".join(parts)


def status_label(status: str) -> str:
    """A run status in words ("succeeded" / "réussie"); an unknown code reads as itself, none as a dash."""
    if not status:
        return "—"
    return str(RUN_STATUS_LABELS.get(status, status))
