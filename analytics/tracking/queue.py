"""The hit queue: one durable Redis Stream for the farm, read by the ingest workers' consumer group.

The endpoint appends each accepted hit (tagged with its site and a unique hit id) and answers at
once. Workers read batches with XREADGROUP, store them, and only then acknowledge and delete them;
entries a dead worker left pending are reclaimed after FARM_INGEST_RECLAIM_MS. A hit that cannot be
stored (its site was deactivated meanwhile, or it breaks the ingester) is moved to a dead-letter
stream with the reason, so it never blocks the queue and is never silently lost. If Redis is
unavailable, the endpoint writes hits straight to PostgreSQL instead (slower, never lost).
"""
import logging
import os
import socket
import time
from collections import defaultdict
from zoneinfo import ZoneInfo

import orjson
import redis
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django_tenants.utils import get_tenant_model
from redis.backoff import NoBackoff
from redis.retry import Retry

from analytics.tracking import enrich
from analytics.tracking.ingest import Hit, hits_prepare, ingest_site_hits
from farm import metrics
from farm.conf import farm_setting
from farm.tenancy import in_tenant
from instances import quotas

logger = logging.getLogger(__name__)

GROUP = "ingest"
TRANSIENT = (OperationalError, InterfaceError)
# SQLSTATEs of a database that answers but takes no write: read-only (a replica, or
# default_transaction_read_only), disk full, out of memory. No hit is to blame for them.
WRITES_REFUSED = {"25006", "53100", "53200"}
_client = None


def _stream() -> str:
    return farm_setting("FARM_HITS_STREAM")


def _dead() -> str:
    return _stream() + ":dead"


def make_client(url: str) -> redis.Redis:
    """A client that fails fast: when Redis is down (refused) or hangs, the endpoint writes through
    within a second, not after retries; the next call reconnects (the pool drops a broken connection)."""
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=0.5, socket_keepalive=True,
                                retry=Retry(NoBackoff(), 0))


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = make_client(settings.REDIS_URL)
    return _client


# While Redis is known to be away, each web process writes hits through without trying it, so a
# Redis that hangs costs one request its timeout, not every request. Monotonic time.
_redis_away_until = 0.0
_uncounted = {"accepted": 0, "stored": 0}  # hits written through while Redis was away: counted once it is back
REDIS_RETRY_SECONDS = 1.0


def hits_enqueue(entries: list[dict]) -> list[str]:
    """Queue hits for the ingest workers (or, if Redis fails, write them through to PostgreSQL).

    After a failure, Redis is tried again REDIS_RETRY_SECONDS later; hits meanwhile are written
    through. A hit whose XADD reached Redis but whose answer was lost is written through as well:
    both copies carry the same hit id, and ingest stores a hit id once.
    Returns the ids of hits that could not be kept either way (empty when all are safe)."""
    global _redis_away_until
    if time.monotonic() < _redis_away_until:
        return hits_store_now(entries)
    stream = _stream()
    try:
        pipe = client().pipeline(transaction=False)  # NB: one round trip, the metrics' count with it
        for entry in entries:
            pipe.xadd(stream, {"h": orjson.dumps(entry)})
        metrics.add_to(pipe, "farm_hits_accepted_total", len(entries), path="queue")
        written_through = dict(_uncounted)
        if written_through["accepted"]:
            metrics.add_to(pipe, "farm_hits_accepted_total", written_through["accepted"], path="write_through")
            metrics.add_to(pipe, "farm_hits_stored_total", written_through["stored"])
        _raise_unless_counting(pipe.execute(raise_on_error=False), len(entries))
        for key, value in written_through.items():
            _uncounted[key] -= value
    except redis.RedisError as exc:
        _redis_away_until = time.monotonic() + REDIS_RETRY_SECONDS
        logger.warning("Redis unavailable (%s); writing hits through to PostgreSQL, trying Redis again in %.0f s",
                       exc, REDIS_RETRY_SECONDS)
        return hits_store_now(entries)
    _wake_ingest()
    return []


def _raise_unless_counting(results: list, work: int) -> None:
    """Raise the first error among a pipeline's `work` first commands; the metrics' counts after
    them are best effort (farm.metrics): their failure is logged, never the work's."""
    for result in results[:work]:
        if isinstance(result, Exception):
            raise result
    if errors := [result for result in results[work:] if isinstance(result, Exception)]:
        logger.info("metrics not counted: %s", errors[0])


_next_wake = 0.0


def _wake_ingest() -> None:
    """Schedule a drain for the end of this second, at most once a second per web process: every
    hit queued meanwhile is covered by it (≤ 1 s latency), and traffic costs a handful of messages
    a second, not one per hit."""
    global _next_wake
    now = time.monotonic()
    if now < _next_wake:
        return
    _next_wake = now + 1
    from analytics.tasks import ingest_drain_task

    try:
        ingest_drain_task.apply_async(countdown=1)
    except Exception:  # the hits are queued; the periodic drain will take them
        logger.warning("could not send the ingest wake-up; hits wait for the periodic drain")


def _store(tenant, tenant_id: int, hits: list[Hit]) -> int:
    """Store one site's hits, those its quota allows (instances.quotas), counted per local month."""
    if tenant is None or not tenant.is_live:
        raise LookupError(f"site {tenant_id} is no longer live")
    zone, by_month, stored = ZoneInfo(tenant.timezone), defaultdict(list), 0
    for hit in hits:
        by_month[quotas.month_of(hit.at.astimezone(zone).date())].append(hit)
    limits = quotas.site_limits(tenant)
    for month, of_month in sorted(by_month.items()):
        allowed = quotas.hits_allowed(tenant, month, limits)
        if allowed is not None and allowed < len(of_month):
            logger.info("site %s is over its quota: %d hit(s) of %s not stored", tenant.slug, len(of_month) - allowed,
                        month.strftime("%Y-%m"))
            of_month = of_month[:allowed]
        if of_month:
            with in_tenant(tenant):
                count = ingest_site_hits(tenant, of_month)
            quotas.hits_count(tenant, month, count, limits)
            stored += count
    return stored


def _store_by_site(hits: list[Hit], *, reraise=()) -> tuple[int, list[tuple[dict, Exception]]]:
    """Store hits grouped by site; a failing group is retried hit by hit so one bad hit cannot
    block the others. Returns (hits stored, [(entry, error)] for those that could not be).

    Each site's part is its own transaction (ingest_site_hits): a worker's other process stores
    a site this one has finished while this one goes on with the next. One transaction for the
    whole batch saved commits to a single process (warm traffic on ten sites: 4,127 → 4,941 hits/s)
    but made the worker's two processes wait for each other's whole batch (15,054 against 21,384
    hits/s with a transaction per site, docs/benchmarks.md), and deadlocked when two batches
    locked their sites in different orders; a process now holds one site's lock at a time."""
    by_site, stored, failures = defaultdict(list), 0, []
    for hit in hits:
        by_site[hit.entry["t"]].append(hit)
    try:
        tenants = get_tenant_model().objects.in_bulk(list(by_site))
    except reraise:
        raise
    except Exception as exc:  # the database is away: nothing stored, every hit reported (write-through)
        return 0, [(hit.entry, exc) for hit in hits]
    for tenant_id, group in by_site.items():
        tenant = tenants.get(tenant_id)
        try:
            stored += _store(tenant, tenant_id, group)
        except reraise:
            raise
        except Exception as exc:  # retried one at a time just below
            _raise_if_writes_refused(exc, reraise)
            for hit in group:
                try:
                    stored += _store(tenant, tenant_id, [hit])
                except reraise:
                    raise
                except Exception as exc:  # reported to the caller, with the hit
                    _raise_if_writes_refused(exc, reraise)
                    failures.append((hit.entry, exc))
    return stored, failures


def _raise_if_writes_refused(exc: Exception, reraise) -> None:
    """A database refusing every write fails each hit for no fault of its own: when the caller keeps
    its batch on a database error (`reraise`), it keeps it for this too, instead of setting every
    hit aside as unstorable."""
    if reraise and getattr(exc.__cause__, "sqlstate", None) in WRITES_REFUSED:
        raise exc


def hits_store_now(entries: list[dict]) -> list[str]:
    """Write hits through to their sites' tables at once (the path when Redis is down).

    Returns the ids of the hits that could not be stored, so the endpoint can say so instead of
    pretending (the client may retry them); one site's failure never stops another's hits.
    """
    hits, failures = hits_prepare(entries)
    stored, store_failures = _store_by_site(hits)
    for entry, exc in failures + store_failures:
        logger.warning("write-through of hit %s failed: %s", entry["id"], exc)
    _uncounted["accepted"] += len(entries)  # NB: counted with the next hits queued (Redis is away now)
    _uncounted["stored"] += stored
    return [entry["id"] for entry, _exc in failures + store_failures]


def _ensure_group(r: redis.Redis) -> None:
    try:
        r.xgroup_create(_stream(), GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decoded(messages: list) -> tuple[list[Hit], list[tuple[bytes, str]]]:
    """A batch read from the stream, decoded, validated and enriched; and the entries to set
    aside, each as (raw entry, why)."""
    entries, aside = [], []
    for _message_id, fields in messages:
        try:
            entry = orjson.loads(fields[b"h"])
            if not isinstance(entry, dict) or type(entry.get("t")) is not int:
                raise ValueError("no site id")
            entries.append(entry)
        except (KeyError, ValueError, TypeError) as exc:
            aside.append((fields.get(b"h", b""), f"unreadable entry: {exc}"))
    hits, invalid = hits_prepare(entries)
    return hits, aside + [_aside(entry, exc) for entry, exc in invalid]


def _aside(entry: dict, exc: Exception) -> tuple[bytes, str]:
    return orjson.dumps(entry), f"{type(exc).__name__}: {exc}"[:1000]


def _process(r: redis.Redis, messages: list) -> int:
    """Store a batch grouped by site, set aside the hits that cannot be stored, then acknowledge."""
    ids = [message_id for message_id, _fields in messages]
    # An entry of our pending list that was deleted meanwhile comes back without fields: only its
    # acknowledgement is missing.
    hits, aside = _decoded([(message_id, fields) for message_id, fields in messages if fields])
    # NB: a database outage is re-raised before anything is acknowledged: the batch stays pending
    # and is read again (ingest_drain), instead of every hit being set aside as if it were poison.
    stored, failures = _store_by_site(hits, reraise=TRANSIENT)
    for raw, why in aside + [_aside(entry, exc) for entry, exc in failures]:
        logger.warning("hit set aside: %s", why)
        r.xadd(_dead(), {"h": raw, "error": why})
    if ids:
        # NB: one transaction: if Redis goes away here, either both happen or neither (the batch
        # stays pending, is read again, and ingest skips the hit ids it already stored). An entry
        # acknowledged but not deleted would stay first in the stream for ever (the lag /healthz reports).
        # The metrics' counts go with the acknowledgement: counted once, as the batch is.
        pipe = r.pipeline(transaction=True)
        pipe.xack(_stream(), GROUP, *ids)
        pipe.xdel(_stream(), *ids)
        metrics.add_to(pipe, "farm_hits_stored_total", stored)
        metrics.add_to(pipe, "farm_hits_dead_total", len(aside) + len(failures))
        _raise_unless_counting(pipe.execute(raise_on_error=False), 2)
    return stored


def ingest_drain(*, batch: int = 5000, max_batches: int = 40) -> int:
    """Read, store and acknowledge queued hits until the stream is empty (or max_batches); returns hits stored.

    Batches of 5,000: traffic spread over many sites gives each site a group of hits per batch,
    and each group costs its own round trips (lock, known ids, latest visits, COPY): 1,000-hit
    batches over ten sites ran at about four fifths of the speed (docs/benchmarks.md, tracking)."""
    enrich.warm_up()
    r = client()
    _ensure_group(r)
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    reclaim_ms = farm_setting("FARM_INGEST_RECLAIM_MS")
    stored = 0
    # First what this process read but could not finish (Redis or PostgreSQL went away mid-batch):
    # at once, rather than after FARM_INGEST_RECLAIM_MS as another consumer would.
    own = r.xreadgroup(GROUP, consumer, {_stream(): "0"}, count=batch)
    if own and own[0][1]:
        stored += _process(r, own[0][1])
    _next, reclaimed, *_rest = r.xautoclaim(_stream(), GROUP, consumer, min_idle_time=reclaim_ms, count=batch)
    if reclaimed:
        stored += _process(r, reclaimed)
    for _ in range(max_batches):
        response = r.xreadgroup(GROUP, consumer, {_stream(): ">"}, count=batch)
        if not response:
            break
        stored += _process(r, response[0][1])
    return stored


def dead_letters(*, limit: int = 100) -> list[dict]:
    """The hits set aside, oldest first: {id, site, hit, error, at} (hit None when unreadable)."""
    letters = []
    for message_id, fields in client().xrange(_dead(), count=limit):
        try:
            hit = orjson.loads(fields.get(b"h", b""))
        except ValueError:
            hit = None
        letters.append({"id": message_id.decode(), "site": hit.get("t") if isinstance(hit, dict) else None,
                        "hit": hit if isinstance(hit, dict) else None,
                        "error": fields.get(b"error", b"").decode(errors="replace"),
                        "at": int(message_id.split(b"-")[0]) / 1000})
    return letters


def dead_letters_replay(ids: list[str]) -> tuple[int, list[str]]:
    """Queue these set-aside hits again (after the cause was fixed: a site reactivated, a bug
    deployed); returns (replayed, ids that cannot be: unknown or unreadable). Replaying a hit that
    was in fact stored adds nothing: ingest skips known hit ids."""
    r, replayed, refused = client(), 0, []
    for message_id in ids:
        found = r.xrange(_dead(), min=message_id, max=message_id)
        raw = found[0][1].get(b"h") if found else None
        try:
            hit = orjson.loads(raw) if raw else None
        except ValueError:
            hit = None
        if not isinstance(hit, dict) or type(hit.get("t")) is not int:
            refused.append(message_id)
            continue
        pipe = r.pipeline(transaction=True)
        pipe.xadd(_stream(), {"h": orjson.dumps(hit)})
        pipe.xdel(_dead(), message_id)
        pipe.execute()
        replayed += 1
    if replayed:
        _wake_ingest()
    return replayed, refused


def dead_letters_discard(ids: list[str]) -> int:
    return client().xdel(_dead(), *ids) if ids else 0


def queue_depth() -> dict:
    r = client()
    return {"queued": r.xlen(_stream()), "dead": r.xlen(_dead())}


def ingest_lag_seconds(*, now: float | None = None) -> float:
    """How long the oldest hit still in the stream has waited (0 when none waits): ingest's delay.

    Stored hits are deleted from the stream, so its first entry is the oldest not yet stored, and
    its id starts with the millisecond it was queued."""
    first = client().xrange(_stream(), count=1)
    if not first:
        return 0.0
    queued_at = int(first[0][0].split(b"-")[0]) / 1000
    return max(0.0, (time.time() if now is None else now) - queued_at)
