"""The farm-wide cache of parsed user agents: each agent is parsed once per farm.

Ingest asks for a whole batch's agents at once (`devices`): first this process's memory, then one
query to the farm's table (farm.models.ParsedAgent: shared by every worker, kept across restarts
and deploys), and only agents nobody has read are parsed (enrich.detect, device-detector) and
stored. Two workers meeting the same new agent at once both parse it, but the table keeps the
first reading stored and both use that one: one entry, identical results.

If the table cannot be read or written (PostgreSQL restarting), agents are parsed here and the
batch goes on: the cache saves time, it never decides whether a hit is stored.
"""
import hashlib
import itertools
import logging
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from importlib.metadata import version

import orjson
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from analytics.tracking.enrich import DEVICE_FIELDS, detect
from farm.conf import farm_setting
from farm.models import ParsedAgent

logger = logging.getLogger(__name__)

Agent = tuple[str, tuple[tuple[str, str], ...]]  # (user agent, client hints as enrich.client_hints gives them)

# What a reading holds and how it is read: bump when enrich.detect stores other fields or cuts them
# otherwise, or when the screen in front of device-detector (analytics.tracking.detector) changes an
# answer, so readings made before are not trusted. 2: the screen left non-ASCII agents to `regex`.
READING_FORMAT = 2
UNKNOWN = {"bot": False, **dict.fromkeys(DEVICE_FIELDS, "")}  # a reading that failed: stored without a device
LOCAL_MAX = 20_000  # agents kept in each process's memory (about 4 MB)

_local: dict[Agent, dict] = {}
_lock = threading.Lock()
_same: dict[tuple, dict] = {}  # identical readings (most agents are a common browser) share one dict
counts = Counter()  # "memory", "table", "parsed": where the agents looked up were found


@cache
def detector_version() -> str:
    return f"device-detector {version('device_detector')} / {READING_FORMAT}"


def agent_key(user_agent: str, hints: tuple = ()) -> str:
    """The table's key for an agent: its text, its hints and the parser's version (128 bits)."""
    return hashlib.sha256(orjson.dumps([detector_version(), user_agent, hints])).hexdigest()[:32]


def _table() -> str:
    qn = connection.ops.quote_name
    return f"{qn(get_public_schema_name())}.{qn(ParsedAgent._meta.db_table)}"


def _read(keys: list[str]) -> dict[str, dict]:
    # NB: atomic (a savepoint inside a caller's transaction): a failure here never leaves the
    # caller's transaction aborted behind Django's back.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT key, device::text FROM {_table()} WHERE key = ANY(%s)", [keys])
        return {key: orjson.loads(device) for key, device in cursor.fetchall()}


def _write(unseen: dict[str, Agent], parsed: dict[str, dict]) -> dict[str, dict]:
    """Store new readings; returns the readings the table holds for these keys (another worker's
    where it stored the same agent first)."""
    rows = [{"key": key, "user_agent": unseen[key][0], "hints": unseen[key][1], "device": parsed[key]}
            for key in sorted(unseen)]  # NB: one order for every worker: two batches never wait on each other in a cycle
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table()} (key, user_agent, hints, device, detector, created_at) "
            "SELECT key, user_agent, hints, device, %s, now() FROM jsonb_to_recordset(%s::jsonb) "
            "AS r(key varchar, user_agent text, hints jsonb, device jsonb) ON CONFLICT (key) DO NOTHING RETURNING key",
            [detector_version(), orjson.dumps(rows).decode()])
        inserted = {row[0] for row in cursor.fetchall()}
    stored = {key: parsed[key] for key in inserted}
    if lost := [key for key in unseen if key not in inserted]:
        stored.update(_read(lost))
    return {key: stored.get(key, parsed[key]) for key in unseen}  # (a reading deleted meanwhile: ours)


def _remember(agent: Agent, device: dict) -> dict:
    with _lock:  # NB: web processes write through from several threads
        device = _same.setdefault(tuple(device.items()), device)
        if len(_local) >= LOCAL_MAX:  # forget the oldest tenth (insertion order): cheaper than an LRU's bookkeeping per hit
            for old in list(itertools.islice(_local, LOCAL_MAX // 10)):
                del _local[old]
            if len(_same) >= LOCAL_MAX:
                _same.clear()
        _local[agent] = device
        return device


def devices(agents: Iterable[Agent]) -> dict[Agent, dict]:
    """device-detector's reading ({bot, device_type, …}) of each agent, parsing only those the farm
    has never seen."""
    found, missing = {}, {}
    for agent in set(agents):
        if (device := _local.get(agent)) is not None:
            found[agent] = device
        else:
            missing[agent_key(*agent)] = agent
    counts["memory"] += len(found)
    if not missing:
        return found
    try:
        stored = _read(list(missing))
    except DatabaseError as exc:
        logger.warning("parsed agents unreadable (%s): parsing %d agents here", exc, len(missing))
        stored = {}
    counts["table"] += len(stored)
    if unseen := {key: agent for key, agent in missing.items() if key not in stored}:
        parsed, failed = {}, {}
        for key, agent in list(unseen.items()):
            try:
                parsed[key] = detect(*agent)
            except Exception:  # a parser bug on some agent: its hits are stored without a device; not in the table
                logger.exception("device-detector failed on %r", agent[0][:200])
                failed[key] = UNKNOWN
                del unseen[key]
        counts["parsed"] += len(parsed) + len(failed)
        stored.update(failed)
        try:
            stored.update(_write(unseen, parsed) if unseen else {})
        except DatabaseError as exc:
            logger.warning("parsed agents not stored (%s)", exc)
            stored.update(parsed)
    for key, agent in missing.items():
        found[agent] = _remember(agent, stored[key])
    return found


def forget_local() -> None:
    """Empty this process's memory of agents (tests; a process restarted starts empty too)."""
    _local.clear()
    _same.clear()


def parsed_agents_expire(*, now: datetime | None = None) -> int:
    """Delete readings older than FARM_AGENT_CACHE_DAYS or made by another device-detector version
    (they are parsed again when their agent comes back); returns how many went."""
    before = (now or timezone.now()) - timedelta(days=farm_setting("FARM_AGENT_CACHE_DAYS"))
    old = ParsedAgent.objects.filter(created_at__lt=before) | ParsedAgent.objects.exclude(detector=detector_version())
    deleted, _rows = old.delete()
    return deleted
