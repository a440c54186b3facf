"""The farm console: one admin page (staff) with the farm's state now and its last 24 hours.

Every figure is read in one query over the public schema or one Redis round trip, never one per site,
so the page costs the same on a farm of 10 sites or 10,000. The history comes from the ticks' minute
samples (farm.cron.samples): the queues' depth at each tick, the runs dispatched, and the metrics'
counters for runs failed and hits stored.
"""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import redis
from django.conf import settings
from django.contrib import admin
from django.db.models import Count, Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from farm.cron.models import ScheduledTask, TaskRun
from farm.cron.samples import buckets
from instances.models import Instance, SchemaState, SiteMonthHits, Status
from instances.site_cron import TASK_NAME as SITE_CRON

HOURS = 24
STEP_MINUTES = 10
LARGEST = 10
CRON_URL_FAILURES = 20


def _sites() -> dict:
    """Sites per status (and how many of the validated ones have a schema ready), pending requests,
    and the sites whose provisioning failed."""
    by_status = {status: 0 for status in Status.values}
    ready = 0
    for row in Instance.objects.values("status", "schema_state").annotate(n=Count("id")).order_by():
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        ready += row["n"] if row["status"] == Status.PUBLIE and row["schema_state"] == SchemaState.READY else 0
    failed = list(Instance.objects.filter(schema_state=SchemaState.FAILED).order_by("-updated_at")
                  .only("id", "name", "slug", "provisioning_error", "updated_at")[:20])
    return {"by_status": [{"status": status, "label": Status(status).label, "count": count}
                          for status, count in by_status.items()],
            "total": sum(by_status.values()), "ready": ready, "pending": by_status[Status.PREPA],
            "failed": failed}


def _queues(now: datetime) -> dict:
    """The hit queue (None where Redis does not answer), the run queue and the super cron's last tick."""
    from analytics.tracking import queue
    from farm.cron.dispatch import last_tick_age

    try:
        depth, lag, tick_age = queue.queue_depth(), queue.ingest_lag_seconds(), last_tick_age(now)
    except redis.RedisError:
        depth, lag, tick_age = {"queued": None, "dead": None}, None, None
    runs = TaskRun.objects.filter(status__in=["queued", "running"]).values("status").annotate(n=Count("id")).order_by()
    by_status = {row["status"]: row["n"] for row in runs}
    return {"hits_queued": depth["queued"], "hits_dead": depth["dead"], "ingest_lag_seconds": lag,
            "tick_age_seconds": tick_age, "runs_queued": by_status.get("queued", 0),
            "runs_running": by_status.get("running", 0)}


def _charts(stretches, zone: ZoneInfo) -> list[dict]:
    """The four charts, in the dashboard's chart format (analytics/static/analytics/dashboard.js)."""
    labels = [stretch.start.astimezone(zone).strftime("%H:%M") for stretch in stretches]

    def chart(key, title, kind, values):
        return {"id": f"console-{key}", "title": title,
                "spec": {"type": kind, "labels": labels, "values": values, "label": title}}

    return [
        chart("ticks", _("Super cron ticks, every %(minutes)d minutes") % {"minutes": STEP_MINUTES}, "bar",
              [s.ticks for s in stretches]),
        chart("dispatched", _("Runs dispatched"), "bar", [s.dispatched for s in stretches]),
        chart("runs-queued", _("Runs waiting for a worker (deepest at a tick)"), "line",
              [s.runs_queued for s in stretches]),
        chart("hits-queued", _("Hits waiting for ingest (deepest at a tick)"), "line",
              [s.hits_queued for s in stretches]),
    ]


def console_figures(now: datetime | None = None) -> dict:
    """Everything the console shows, as of `now`."""
    now = now or timezone.now()
    zone = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone)
    # stretches on the clock's ten minutes (12:00, 12:10…), the last one the stretch under way
    until = now.replace(minute=now.minute - now.minute % STEP_MINUTES, second=0, microsecond=0) + timedelta(
        minutes=STEP_MINUTES)
    since = until - timedelta(hours=HOURS)
    stretches = buckets(since=since, until=until, minutes=STEP_MINUTES)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    today = buckets(since=midnight, until=until, minutes=HOURS * 60)
    month = SiteMonthHits.objects.filter(month=local.date().replace(day=1)).aggregate(hits=Sum("hits"))["hits"]
    site_cron = ScheduledTask.objects.filter(name=SITE_CRON, instance__isnull=False,
                                             enabled=True, live=True, consecutive_failures__gt=0)
    return {
        "now": now,
        "sites": _sites(),
        "queues": _queues(now),
        "day": {"ticks": sum(s.ticks for s in stretches), "expected_ticks": int((now - since).total_seconds() // 60),
                "dispatched": sum(s.dispatched for s in stretches), "failed": sum(s.failed for s in stretches),
                "missed": sum(s.missed for s in stretches)},
        "hits": {"today": sum(s.hits_stored for s in today), "month": month or 0},
        "largest": list(Instance.objects.filter(schema_size_bytes__isnull=False).order_by("-schema_size_bytes")
                        .only("id", "name", "slug", "schema_size_bytes", "schema_size_measured_at")[:LARGEST]),
        "cron_failing": list(site_cron.select_related("instance").order_by("-consecutive_failures")[:CRON_URL_FAILURES]),
        "cron_failing_count": site_cron.count(),
        "charts": _charts(stretches, zone),
    }


def console(request):
    """The page (wrapped by admin.site.admin_view in the URLs: staff only, like the rest of the admin)."""
    context = {**admin.site.each_context(request), "title": _("Farm console"), **console_figures()}
    return render(request, "admin/farm_console.html", context)
