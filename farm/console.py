"""The farm console: one admin page (staff) with the farm's state now and its last 24 hours.

Every figure is read in one query over the public schema or one Redis round trip, never one per site,
so the page costs the same on a farm of 10 sites or 10,000. The history comes from the ticks' minute
samples (farm.cron.samples): the queues' depth at each tick, the runs dispatched, and the metrics'
counters for runs failed and hits stored.
"""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from farm.cron.models import ScheduledTask, TickSample
from farm.cron.samples import buckets
from farm.cron.selectors import runs_waiting
from farm.queues import queues_now
from instances.models import Instance, SchemaState, SiteMonthHits, Status
from instances.selectors import sites_by_state
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
    for row in sites_by_state():
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        ready += row["n"] if row["status"] == Status.PUBLIE and row["schema_state"] == SchemaState.READY else 0
    failed = list(Instance.objects.filter(schema_state=SchemaState.FAILED).order_by("-updated_at")
                  .only("id", "name", "slug", "provisioning_error", "updated_at")[:20])
    return {"by_status": [{"status": status, "label": Status(status).label, "count": count}
                          for status, count in by_status.items()],
            "total": sum(by_status.values()), "ready": ready, "pending": by_status[Status.PREPA],
            "failed": failed}


def _queues() -> dict:
    """The hit queue and the last tick (None each where Redis does not answer), and the run queue."""
    queued, running = runs_waiting()
    return {**(queues_now() or dict.fromkeys(("hits_queued", "hits_dead", "ingest_lag_seconds", "tick_age_seconds"))),
            "runs_queued": queued, "runs_running": running}


def _month_hits(now: datetime) -> int:
    """Hits stored this month: each site's row of its own current month (sites count hits by their
    local month, instances.quotas), so a site behind UTC is not left out on the 1st."""
    months = Q()
    for zone in Instance.objects.order_by().values_list("timezone", flat=True).distinct():
        months |= Q(instance__timezone=zone, month=now.astimezone(ZoneInfo(zone)).date().replace(day=1))
    if not months:
        return 0
    return SiteMonthHits.objects.filter(months).aggregate(hits=Sum("hits"))["hits"] or 0


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
    minute = now.replace(second=0, microsecond=0)
    # the window's minutes before this one (its tick may not have run yet), and those with a tick:
    # racing Beats tick a minute twice, which only the count of ticks shows
    ticked = TickSample.objects.filter(at__gte=since, at__lt=minute).aggregate(minutes=Count("id"),
                                                                              ticks=Sum("ticks"))
    site_cron = ScheduledTask.objects.filter(name=SITE_CRON, instance__isnull=False,
                                             enabled=True, live=True, consecutive_failures__gt=0)
    return {
        "now": now,
        "sites": _sites(),
        "queues": _queues(),
        "day": {"minutes_ticked": ticked["minutes"], "ticks": ticked["ticks"] or 0,
                "minutes": int((minute - since).total_seconds() // 60),
                "dispatched": sum(s.dispatched for s in stretches), "failed": sum(s.failed for s in stretches),
                "missed": sum(s.missed for s in stretches)},
        "hits": {"today": sum(s.hits_stored for s in today), "month": _month_hits(now)},
        "largest": list(Instance.objects.filter(schema_size_bytes__isnull=False).order_by("-schema_size_bytes")
                        .only("id", "name", "slug", "schema_size_bytes", "schema_size_measured_at")[:LARGEST]),
        "cron_failing": list(site_cron.select_related("instance").order_by("-consecutive_failures")[:CRON_URL_FAILURES]),
        "cron_failing_count": site_cron.count(),
        "charts": _charts(stretches, zone),
    }


def console(request):
    """The page (wrapped by admin.site.admin_view in the URLs: staff only, like the rest of the admin),
    for staff who may see the sites: it names every site of the farm."""
    if not request.user.has_perm("instances.view_instance"):
        raise PermissionDenied
    context = {**admin.site.each_context(request), "title": _("Farm console"), **console_figures()}
    return render(request, "admin/farm_console.html", context)
