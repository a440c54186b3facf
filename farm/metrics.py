"""The farm's Prometheus metrics, added up over every web and worker process, on every node.

Counters and histograms live in one Redis hash (FARM_METRICS_KEY): each process adds to it where the event
happens, in the round trip it makes anyway when there is one (the door's XADD, ingest's
acknowledgement) — so the numbers of a dozen granian and Celery processes add up without a
multiprocess directory on each machine. Counting is best effort: while Redis is down an event is
not counted (hits are written through then, and /healthz says Redis is down), and a failure to
count never stops the work counted. Gauges are read when /metrics is scraped: sites per status
from the database, the hit queue from its stream, the super cron's last tick.

    metrics.count("farm_super_cron_ticks_total")
    metrics.observe("farm_archive_run_seconds", 1.8)
    generate_latest(metrics.registry())                 # the text /metrics answers
"""
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry

from farm.conf import farm_setting
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Metric:
    kind: str  # "counter" or "histogram"
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0)
CATALOGUE = {
    "farm_super_cron_ticks_total": Metric("counter", "Super cron ticks (full ones, every minute)."),
    "farm_runs_due_total": Metric("counter", "Scheduled runs the ticks found due."),
    "farm_runs_dispatched_total": Metric("counter", "Runs the ticks queued for workers."),
    "farm_runs_missed_total": Metric("counter", "Periods the ticks recorded as missed."),
    "farm_runs_finished_total": Metric("counter", "Runs ended, by outcome.", ("status",)),
    "farm_dispatch_lag_seconds": Metric("histogram", "From a scheduled run's period boundary to its start.",
                                        buckets=_SECONDS),
    "farm_hits_accepted_total": Metric("counter", "Tracking hits the endpoint accepted, by path.", ("path",)),
    "farm_hits_stored_total": Metric("counter", "Hits ingest stored in their sites' tables."),
    "farm_hits_dead_total": Metric("counter", "Hits set aside as unstorable (dead letters)."),
    "farm_archive_run_seconds": Metric("histogram", "One site's hourly archiving run.", buckets=_SECONDS),
}
_client: redis.Redis | None = None


def _key() -> str:
    return farm_setting("FARM_METRICS_KEY")


def _redis() -> redis.Redis:
    global _client
    if _client is None:  # NB: the hit queue's fail-fast client: counting never holds the work up
        from analytics.tracking.queue import make_client

        _client = make_client(settings.REDIS_URL)
    return _client


def _field(name: str, labels: dict) -> str:
    if name not in CATALOGUE or set(labels) != set(CATALOGUE[name].labels):
        raise KeyError(f"{name} with labels {sorted(labels)} is not in the catalogue")
    return name + "".join(f"|{key}={labels[key]}" for key in sorted(labels))


def add_to(pipe, name: str, amount: float = 1, **labels) -> None:
    """Count into a pipeline the caller sends anyway (same round trip)."""
    pipe.hincrbyfloat(_key(), _field(name, labels), amount)


def count(name: str, amount: float = 1, **labels) -> None:
    counts([(name, amount, labels)])


def counts(items: list[tuple[str, float, dict]]) -> None:
    """Several counts in one round trip; nothing when Redis does not answer (logged)."""
    items = [(name, amount, labels) for name, amount, labels in items if amount]
    if not items:
        return
    try:
        pipe = _redis().pipeline(transaction=False)
        for name, amount, labels in items:
            add_to(pipe, name, amount, **labels)
        pipe.execute()
    except redis.RedisError as exc:
        logger.info("metrics not counted (Redis: %s)", exc)


def observe(name: str, *values: float) -> None:
    """Observations of a histogram, in one round trip: each one's bucket (the first upper bound at or
    above it) and the sum (the count is the buckets' total)."""
    if not values:
        return
    buckets, by_bound = CATALOGUE[name].buckets, {}
    for value in values:
        bound = next((str(le) for le in buckets if value <= le), "+Inf")
        by_bound[bound] = by_bound.get(bound, 0) + 1
    try:
        pipe = _redis().pipeline(transaction=False)
        for bound, n in by_bound.items():
            pipe.hincrbyfloat(_key(), f"{name}|le={bound}", n)
        pipe.hincrbyfloat(_key(), f"{name}|sum", sum(values))
        pipe.execute()
    except redis.RedisError as exc:
        logger.info("metrics not counted (Redis: %s)", exc)


def _stored() -> dict[str, float]:
    return {field.decode(): float(value) for field, value in _redis().hgetall(_key()).items()}


def counters() -> dict[str, float] | None:
    """Every counter's cumulative value, by field (`name|label=value`); None when Redis does not answer."""
    try:
        stored = _stored()
    except redis.RedisError:
        return None
    return {field: value for field, value in stored.items()
            if CATALOGUE.get(field.partition("|")[0], Metric("", "")).kind == "counter"}


def _counter_families(stored: dict[str, float]):
    for name, metric in CATALOGUE.items():
        if metric.kind != "counter":
            continue
        family = CounterMetricFamily(name.removesuffix("_total"), metric.help, labels=metric.labels)
        for field, value in stored.items():
            base, *pairs = field.split("|")
            if base == name:
                family.add_metric([pair.partition("=")[2] for pair in pairs], value)
        if not metric.labels and not family.samples:
            family.add_metric([], 0)
        yield family


def _histogram_families(stored: dict[str, float]):
    for name, metric in CATALOGUE.items():
        if metric.kind != "histogram":
            continue
        cumulative, buckets = 0.0, []
        for le in (*(str(b) for b in metric.buckets), "+Inf"):
            cumulative += stored.get(f"{name}|le={le}", 0)
            buckets.append((le, cumulative))
        yield HistogramMetricFamily(name, metric.help, buckets=buckets, sum_value=stored.get(f"{name}|sum", 0))


def _gauge_families():
    """What is true at the moment of the scrape (each one left out when its source does not answer)."""
    from django.db import DatabaseError

    from farm.queues import queues_now
    from instances.selectors import sites_by_state

    sites = GaugeMetricFamily("farm_sites", "Sites by status and schema state.", labels=("status", "schema_state"))
    try:
        for row in sites_by_state():
            sites.add_metric([row["status"], row["schema_state"]], row["n"])
        yield sites
    except DatabaseError:  # NB: the scrape still answers; /healthz says the database is down
        pass
    queues = queues_now()
    if queues is None:
        return
    hits = GaugeMetricFamily("farm_ingest_queue_hits", "Hits waiting in the queue, and set aside.", labels=("queue",))
    hits.add_metric(["queued"], queues["hits_queued"])
    hits.add_metric(["dead"], queues["hits_dead"])
    yield hits
    yield GaugeMetricFamily("farm_ingest_lag_seconds", "How long the oldest queued hit has waited.",
                            value=queues["ingest_lag_seconds"])
    if queues["tick_age_seconds"] is not None:
        yield GaugeMetricFamily("farm_super_cron_last_tick_age_seconds", "Seconds since the last full tick.",
                                value=queues["tick_age_seconds"])


def registry():
    """The registry /metrics renders: this collector alone (no process metrics: they would describe
    the one web process that answers, not the farm)."""
    global _registry
    if _registry is None:
        _registry = CollectorRegistry(auto_describe=False)
        _registry.register(FarmCollector())
    return _registry


_registry = None


class FarmCollector:
    """The prometheus_client collector /metrics renders."""

    def collect(self):
        try:
            stored = _stored()
        except redis.RedisError:
            stored = None
        if stored is not None:
            yield from _counter_families(stored)
            yield from _histogram_families(stored)
        up = GaugeMetricFamily("farm_metrics_store_up", "Whether the counters' store (Redis) answered this scrape.",
                               value=1 if stored is not None else 0)
        yield up
        yield from _gauge_families()
