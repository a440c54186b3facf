"""Host name → instance resolution, cached across requests (in Redis, shared by all processes).

Filled by private helpers, emptied by one public `clear_cache()`, evicted per instance by the
save/delete receivers in instances.signals. Unknown hosts are never cached, so a domain added
later answers at once. A cache hit costs no database query.
"""
import logging

from django.core.cache import cache

from farm.conf import farm_setting
from instances.models import Domain, Instance

_GENERATION_KEY = "hosts:generation"
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


def _cached(key: str, lookup) -> Instance | None:
    """The cached instance at `key`, else lookup() stored there; a miss (None) is never cached."""
    instance = _cache("get", key)
    if instance is None:
        instance = lookup()
        if instance is not None:
            _cache("set", key, instance, timeout=farm_setting("FARM_HOST_CACHE_SECONDS"))
    return instance


def _idsite_key(idsite: int, generation: int) -> str:
    return f"idsite:{generation}:{idsite}"


def instance_for_host(host: str) -> Instance | None:
    """The instance answering at `host` (normalised), or None when no domain matches."""
    return _cached(_key(host, _generation()), lambda: Instance.objects.filter(domains__domain=host).first())


def instance_for_idsite(idsite: int) -> Instance | None:
    """The instance a tracking client names by idsite, cached like hosts."""
    return _cached(_idsite_key(idsite, _generation()), lambda: Instance.objects.filter(pk=idsite).first())


def evict_hosts(hosts) -> None:
    """Forget the cached answers for these host names."""
    generation = _generation()
    _cache("delete_many", [_key(host, generation) for host in hosts])


def evict_instance(instance_id: int) -> None:
    """Forget every cached host of one instance, and its idsite (after its status or schema changed)."""
    evict_hosts(Domain.objects.filter(tenant_id=instance_id).values_list("domain", flat=True))
    _cache("delete", _idsite_key(instance_id, _generation()))


def clear_cache() -> None:
    """Forget every cached host at once (old entries expire on their own)."""
    try:
        cache.incr(_GENERATION_KEY)
    except ValueError:  # no generation yet: start one
        _cache("add", _GENERATION_KEY, 1, timeout=None)
