"""The ticks' minute samples (TickSample): written by every full tick, read by the farm console.

The console's charts need history that nothing else keeps: the queues' depth is only ever true at
a moment, and minute tasks' runs are pruned after a few hours. One row a minute is cheap at any
size of farm (two counts on the run queue's partial indexes and a few Redis reads), and the tick
is the one process that runs every minute.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import F
from django.utils import timezone

from farm import metrics
from farm.conf import farm_setting
from farm.cron.models import TickSample
from farm.cron.selectors import runs_waiting
from farm.queues import queues_now

FAILED = "farm_runs_finished_total|status=failed"
STORED = "farm_hits_stored_total"


def tick_sample_record(*, now: datetime, due: int, dispatched: int, missed: int) -> None:
    """Add one full tick to its minute's sample, with the queues as they stand after it."""
    queued, running = runs_waiting()
    queues = queues_now() or {}
    counters = metrics.counters()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO cron_ticksample (at, ticks, due, dispatched, missed, runs_queued, runs_running, hits_queued, "
            "ingest_lag_seconds, counters, counters_at) VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s) "
            "ON CONFLICT (at) DO UPDATE SET ticks = cron_ticksample.ticks + 1, due = cron_ticksample.due + EXCLUDED.due, "
            "dispatched = cron_ticksample.dispatched + EXCLUDED.dispatched, "
            "missed = cron_ticksample.missed + EXCLUDED.missed, runs_queued = EXCLUDED.runs_queued, "
            "runs_running = EXCLUDED.runs_running, hits_queued = EXCLUDED.hits_queued, "
            "ingest_lag_seconds = EXCLUDED.ingest_lag_seconds, "
            "counters = coalesce(EXCLUDED.counters, cron_ticksample.counters), "
            "counters_at = CASE WHEN EXCLUDED.counters IS NULL THEN cron_ticksample.counters_at "
            "ELSE EXCLUDED.counters_at END",
            [now.replace(second=0, microsecond=0), due, dispatched, missed, queued, running,
             queues.get("hits_queued"), queues.get("ingest_lag_seconds"),
             None if counters is None else json.dumps(counters), timezone.now()])


def tick_samples_prune() -> int:
    """Delete samples older than FARM_CRON_SAMPLE_DAYS; returns how many."""
    cutoff = timezone.now() - timedelta(days=farm_setting("FARM_CRON_SAMPLE_DAYS"))
    deleted, _rows = TickSample.objects.filter(at__lt=cutoff).delete()
    return deleted


@dataclass
class Bucket:
    """A stretch of the console's charts: its ticks, the runs dispatched, failed and missed in it,
    the hits stored, and the deepest the two queues were at its ticks (None: never known)."""

    start: datetime
    ticks: int = 0
    dispatched: int = 0
    failed: int = 0
    missed: int = 0
    hits_stored: int = 0
    runs_queued: int | None = None
    hits_queued: int | None = None


def _increase(before: dict | None, after: dict | None, field: str) -> float:
    """How much a counter grew between two samples; a counter that went down was reset (Redis
    emptied) and counts from zero, as in Prometheus."""
    if before is None or after is None or field not in after:
        return 0.0
    old, new = before.get(field, 0.0), after[field]
    return new - old if new >= old else new


def _deeper(current: int | None, value: int | None) -> int | None:
    return value if current is None else current if value is None else max(current, value)


def buckets(*, since: datetime, until: datetime, minutes: int) -> list[Bucket]:
    """The samples of [since, until) gathered in stretches of `minutes`, the first at `since`. The
    counters' increase into the first sample is read from the sample before it."""
    step = timedelta(minutes=minutes)
    count = max(1, -(-(until - since) // step))
    stretches = [Bucket(start=since + i * step) for i in range(count)]
    # NB: counters are compared in the order they were read, not by their ticks' minutes: a late
    # tick can read them after the next minute's tick did, and would look like a reset
    previous = (TickSample.objects.filter(at__lt=since, counters__isnull=False).order_by("-counters_at")
                .values_list("counters", flat=True).first())
    rows = TickSample.objects.filter(at__gte=since, at__lt=until).order_by(F("counters_at").asc(nulls_last=True),
                                                                           "at").values_list(
        "at", "ticks", "dispatched", "missed", "runs_queued", "hits_queued", "counters")
    for at, ticks, dispatched, missed, runs_queued, hits_queued, counters in rows.iterator(chunk_size=2000):
        bucket = stretches[min(count - 1, (at - since) // step)]
        bucket.ticks += ticks
        bucket.dispatched += dispatched
        bucket.missed += missed
        bucket.failed += round(_increase(previous, counters, FAILED))
        bucket.hits_stored += round(_increase(previous, counters, STORED))
        bucket.runs_queued = _deeper(bucket.runs_queued, runs_queued)
        bucket.hits_queued = _deeper(bucket.hits_queued, hits_queued)
        if counters is not None:
            previous = counters
    return stretches
