"""The operators' endpoints. GET /healthz: is the farm able to serve? JSON for each dependency and
for the hit queue's backlog; 200 only if DB and Redis answer. GET /metrics: Prometheus' text
(farm.metrics), for the bearer of FARM_METRICS_TOKEN only."""
import hmac
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from farm.celery import app as celery_app
from farm.queues import queues_now


def _database() -> str:
    """"ok", or why not: it does not answer, or it answers but refuses writes (a read-only server:
    ingest then keeps hits queued, and nothing else the farm does can be saved)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_read_only")
            read_only = cursor.fetchone()[0] == "on"
        return "error: read-only, refuses writes" if read_only else "ok"
    except Exception as exc:  # reported, not raised: the probe must answer
        return f"error: {type(exc).__name__}"


def _redis() -> str:
    try:
        cache.get("healthz")
        return "ok"
    except Exception as exc:  # reported, not raised: the probe must answer
        return f"error: {type(exc).__name__}"


# NB: a broadcast ping waits its whole timeout for replies, so asking on every request would make the
# (unauthenticated) probe cost half a second of a web worker each time, and let anyone flood the broker.
# Each process keeps the last answer for a few seconds: probes every 5-10 s still see fresh numbers.
WORKERS_CACHE_SECONDS = 5.0
_workers_cache: tuple[float, int | None] | None = None  # (monotonic time it expires, workers seen)


def _ping_workers() -> int | None:
    """Workers answering a broadcast ping within half a second (None if the broker is down)."""
    try:
        replies = celery_app.control.inspect(timeout=0.5).ping() or {}
    except Exception:  # a broker outage is already reported as redis
        return None
    return len(replies)


def _workers_seen() -> int | None:
    """The workers seen by the last ping, pinging again only once it is WORKERS_CACHE_SECONDS old."""
    global _workers_cache
    now = time.monotonic()
    if _workers_cache is None or _workers_cache[0] <= now:
        _workers_cache = (now + WORKERS_CACHE_SECONDS, _ping_workers())
    return _workers_cache[1]


STALE_TICK_SECONDS = 180
STALE_INGEST_SECONDS = 300  # workers wake within a second of a hit and a periodic drain runs every 10 s


def _tracking(queues: dict | None) -> dict:
    """Hits waiting in the queue, set aside, and how long the oldest has waited (nulls if Redis is down)."""
    if queues is None:  # Redis down is reported as redis
        return {"hits_queued": None, "hits_dead": None, "ingest_lag_seconds": None, "ingest": "unknown"}
    lag = queues["ingest_lag_seconds"]
    return {"hits_queued": queues["hits_queued"], "hits_dead": queues["hits_dead"], "ingest_lag_seconds": round(lag, 1),
            "ingest": f"stale: the oldest queued hit has waited {lag:.0f} s (are ingest workers running?)"
            if lag > STALE_INGEST_SECONDS else "ok"}


@require_GET
def healthz(request):
    queues = queues_now()
    age = queues and queues["tick_age_seconds"]  # None: never ran, or Redis is down
    body = {
        "database": _database(),
        "redis": _redis(),
        "celery_workers": _workers_seen(),
        "super_cron_last_tick_age_seconds": None if age is None else round(age, 1),
    }
    body["super_cron"] = ("never ran" if age is None else
                          f"stale: no tick for {age:.0f} s (is Celery Beat running?)" if age > STALE_TICK_SECONDS
                          else "ok")
    body.update(_tracking(queues))
    healthy = body["database"] == "ok" and body["redis"] == "ok"
    body["status"] = "ok" if healthy else "degraded"
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def metrics(request):
    """404 while FARM_METRICS_TOKEN is unset (nothing to find), 401 without the right bearer token."""
    token = settings.FARM_METRICS_TOKEN
    if not token:
        raise Http404("no metrics here")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("The metrics need the farm's bearer token (FARM_METRICS_TOKEN).\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="farm metrics"'
        return response
    from farm import metrics as farm_metrics

    # NB: the text format every Prometheus reads (0.0.4); the names are plain ASCII, so it is the same text
    return HttpResponse(generate_latest(farm_metrics.registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
