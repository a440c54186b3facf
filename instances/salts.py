"""Day salts for visitor recognition: one random salt per day, kept while that day's hits may still
arrive, then deleted (Matomo's fingerprint salts: core/Tracker/FingerprintSalt.php).

A salt keys the digest that stands for a visitor's full address from the door on
(analytics.tracking.visitors.address_digest). Once it is deleted, nobody — the farm included — can
tell whether two digests of different days came from the same address.

Why PostgreSQL (a public-schema table) and not Redis: a salt must survive a restart while its
day's hits may still arrive, and the door needs it even when Redis is down (hits are then written
through to PostgreSQL). Why a cache per process: the door reads a salt for every hit; a day's salt
never changes while it exists, so each process asks the database once per day and per
CACHE_SECONDS, which also bounds how long a deleted salt lingers in a process's memory.
"""
import secrets
import time
from datetime import date, datetime, timedelta

from django.utils import timezone

from instances.models import DaySalt

SALT_BYTES = 32
CACHE_SECONDS = 300
# Hits of day D arrive until D 00:00 UTC + 60 h: D ends at D+1 12:00 UTC on UTC-12, and the
# tracker may send cdt up to 24 h old without a token. A salt created for an older day (a log
# import with a token) is kept two days from its creation, so an import in progress keeps its visits.
LAST_ARRIVAL = timedelta(hours=60)
KEEP_AFTER_CREATION = timedelta(days=2)

_cache: dict[date, tuple[bytes, float]] = {}


def day_salt(*, day: date) -> bytes:
    """The salt of `day` (the hit's own day in its site's timezone), created on first use.

    A day whose salt was deleted gets a fresh one: its late hits simply cannot be linked to the
    earlier ones (as in Matomo)."""
    now = time.monotonic()
    cached = _cache.get(day)
    if cached is not None and cached[1] > now:
        return cached[0]
    salt = _stored_salt(day)
    if len(_cache) > 64:  # a long import of old days: forget what has expired
        # NB: list() copies in one step: granian's other threads may add days meanwhile.
        for old, (_salt, until) in list(_cache.items()):
            if until <= now:
                _cache.pop(old, None)
    _cache[day] = (salt, now + CACHE_SECONDS)
    return salt


def _stored_salt(day: date) -> bytes:
    found = DaySalt.objects.filter(day=day).values_list("salt", flat=True).first()
    if found is None:
        # NB: two processes may create the same day's salt at once: the first one stored wins and
        # both read it back, so every process uses the same salt for a day.
        DaySalt.objects.bulk_create([DaySalt(day=day, salt=secrets.token_bytes(SALT_BYTES))], ignore_conflicts=True)
        found = DaySalt.objects.values_list("salt", flat=True).get(day=day)
    return bytes(found)


def day_salts_expire(*, now: datetime | None = None) -> int:
    """Delete the salts whose day's hits can no longer arrive (and that were created more than
    two days ago); returns how many. The farm's cron runs it hourly (instances.scheduled_tasks)."""
    now = now or timezone.now()
    last_day = (now - LAST_ARRIVAL).date()
    deleted, _rows = DaySalt.objects.filter(day__lte=last_day, created_at__lt=now - KEEP_AFTER_CREATION).delete()
    _cache.clear()  # this process forgets them at once; the others within CACHE_SECONDS
    return deleted


def salts_forget_cached() -> None:
    """Empty this process's cache (tests, and code that deletes salts by hand)."""
    _cache.clear()
