"""Host name → instance resolution, cached across requests: in Redis (shared by all processes)
and, in front of it, for FARM_HOST_LOCAL_CACHE_SECONDS in each process.

The local layer exists for the tracking endpoint, the request the farm serves most: without it
every hit paid two Redis round trips (generation, entry) before anything else. It is emptied at
once in the process that changes a site (the receivers in instances.signals evict both layers),
so another process sees a status or settings change within those few seconds.

Filled by private helpers, emptied by one public `clear_cache()`, evicted per instance by the
save/delete receivers. Unknown hosts are never cached, so a domain added later answers at once.
A cache hit costs no database query.
"""
import logging
import time

from django.core.cache import cache

from farm.conf import farm_setting
from instances.models import Domain, Instance

_GENERATION_KEY = "hosts:generation"
_LOCAL_MAX_ENTRIES = 10_000
_local: dict[str, tuple[float, Instance]] = {}  # "host:<name>" / "idsite:<n>" → (expires, instance)
logger = logging.getLogger(__name__)


def _cache(method: str, *args, default=None, **kwargs):
    """The cache, degraded to a no-op while Redis is down: routing then reads PostgreSQL directly."""
    try:
        return getattr(cache, method)(*args, **kwargs)
    except Exception as exc:  # any cache backend error: serve from the database instead
        logger.warning("host cache unavailable (%s: %s); using the database", type(exc).__name__, exc)
        return default


def _generation() -> int:
    generation = _cache("get", _GENERATION_KEY)
    if generation is None:
        _cache("add", _GENERATION_KEY, 1, timeout=None)
        generation = _cache("get", _GENERATION_KEY, 1, default=1)
    return generation


def _key(host: str, generation: int) -> str:
    return f"hosts:{generation}:{host}"


def normalise_host(raw_host: str) -> str:
    """Lowercase host without port or trailing dot ("Blog.Example.org.:8000" → "blog.example.org")."""
    host = raw_host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def is_portal_host(host: str) -> bool:
    return host == farm_setting("FARM_DOMAIN") or host in farm_setting("FARM_PORTAL_ALIASES")


def _cached(local_key: str, shared_key, lookup) -> Instance | None:
    """The instance cached here or in Redis (at shared_key()), else lookup() stored in both; a
    miss (None) is never cached."""
    now = time.monotonic()
    found = _local.get(local_key)
    if found is not None and found[0] > now:
        return found[1]
    key = shared_key()
    instance = _cache("get", key)
    if instance is None:
        instance = lookup()
        if instance is not None:
            _cache("set", key, instance, timeout=farm_setting("FARM_HOST_CACHE_SECONDS"))
    if instance is not None:
        if len(_local) >= _LOCAL_MAX_ENTRIES:
            _local.clear()
        _local[local_key] = (now + farm_setting("FARM_HOST_LOCAL_CACHE_SECONDS"), instance)
    return instance


def _idsite_key(idsite: int, generation: int) -> str:
    return f"idsite:{generation}:{idsite}"


def instance_for_host(host: str) -> Instance | None:
    """The instance answering at `host` (normalised), or None when no domain matches."""
    return _cached(f"host:{host}", lambda: _key(host, _generation()),
                   lambda: Instance.objects.filter(domains__domain=host).first())


def instance_for_idsite(idsite: int) -> Instance | None:
    """The instance a tracking client names by idsite, cached like hosts."""
    return _cached(f"idsite:{idsite}", lambda: _idsite_key(idsite, _generation()),
                   lambda: Instance.objects.filter(pk=idsite).first())


def evict_hosts(hosts) -> None:
    """Forget the cached answers for these host names."""
    for host in hosts:
        _local.pop(f"host:{host}", None)
    generation = _generation()
    _cache("delete_many", [_key(host, generation) for host in hosts])


def evict_instance(instance_id: int) -> None:
    """Forget every cached host of one instance, and its idsite (after its status or schema changed)."""
    evict_hosts(Domain.objects.filter(tenant_id=instance_id).values_list("domain", flat=True))
    _local.pop(f"idsite:{instance_id}", None)
    _cache("delete", _idsite_key(instance_id, _generation()))


def clear_cache() -> None:
    """Forget every cached host at once (old entries expire on their own)."""
    _local.clear()
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # no generation yet: start one
        _cache("add", _GENERATION_KEY, 1, timeout=None)
