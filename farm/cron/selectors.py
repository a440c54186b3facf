"""Reads over the timetable and run history, for the CLI, the admin and the site dashboards."""
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, IntegerField, OuterRef, QuerySet, Subquery
from django.db import connection
from django.db.models.functions import Coalesce
from django.utils import timezone

from farm.cron.models import RunStatus, ScheduledTask, TaskRun


def timetable(*, instance_id=None, farm_only: bool = False) -> QuerySet:
    rows = ScheduledTask.objects.filter(enabled=True).select_related("instance")
    if farm_only:
        return rows.filter(instance__isnull=True)
    if instance_id is not None:
        rows = rows.filter(instance_id=instance_id)
    return rows.order_by("instance_id", "priority", "next_run_at", "name")


def runs_waiting() -> tuple[int, int]:
    """(runs queued, runs running) now. Each is counted on its own partial index: one count over
    `status IN (…)` can use neither and reads the whole run history (millions of rows at 10,000 sites)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM cron_taskrun WHERE status = 'queued'), "
                       "(SELECT count(*) FROM cron_taskrun WHERE status = 'running')")
        return cursor.fetchone()


def run_history(*, instance_id, limit: int = 20) -> QuerySet:
    return TaskRun.objects.filter(task__instance_id=instance_id).select_related("task").order_by("-queued_at", "-id")[
        :limit]


def instance_cron_annotate(tenants: QuerySet) -> QuerySet:
    """Annotate tenants with cron_last_run_at, cron_failures_24h and cron_dispatch_lag (latest run)."""
    since = timezone.now() - timedelta(hours=24)
    runs = TaskRun.objects.filter(task__instance_id=OuterRef("pk"))
    started = runs.filter(started_at__isnull=False).order_by("-started_at")
    latest = started.filter(forced=False)
    failures = (runs.filter(status=RunStatus.FAILED, queued_at__gte=since).order_by().values("task__instance_id")
                .annotate(n=Count("id")).values("n"))
    return tenants.annotate(
        cron_last_run_at=Subquery(started.values("started_at")[:1]),
        cron_failures_24h=Coalesce(Subquery(failures, output_field=IntegerField()), 0),
        cron_dispatch_lag=Subquery(latest.annotate(lag=ExpressionWrapper(
            F("started_at") - F("scheduled_for"), output_field=DurationField())).values("lag")[:1]),
    )


def humanize_delta(delta: timedelta) -> str:
    """'in 3 h 5 min' / '12 s ago': what a person reads in a timetable."""
    seconds = int(delta.total_seconds())
    sign, seconds = ("in ", abs(seconds)) if seconds >= 0 else ("", abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes and not days
             else "", f"{secs} s" if not (days or hours or minutes) else ""]
    text = " ".join(p for p in parts if p)
    return f"{sign}{text}" if sign else f"{text} ago"
