"""The hit queue's transport when Redis is away: a refused or hanging Redis costs a hit at most its
short timeout (then hits are written through at once), and a batch cut short by an outage is
finished by the next drain of the same process, each hit stored once."""
import os
import socket
import time
from datetime import datetime, timezone

import pytest
from django.conf import settings

from analytics.models import Action
from analytics.tracking import enrich, queue
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics.test_ingest import hit

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def site():
    # NB: the rule sets are loaded first: a process's first write-through loads them (seconds),
    # which is not the transport's cost measured here.
    enrich.warm_up()
    return make_instance("outage", state="publie")


def actions(site) -> int:
    with in_tenant(site):
        return Action.objects.count()


@pytest.fixture
def refusing_redis(monkeypatch):
    """The queue's client aimed at a loopback port where nothing listens (Redis stopped)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(queue, "_client", queue.make_client(f"redis://127.0.0.1:{port}/0"))


@pytest.fixture
def hanging_redis(monkeypatch):
    """A Redis that accepts connections and never answers (a stalled server, a dead peer)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # never accepted: the kernel completes the connections, nobody answers
    monkeypatch.setattr(queue, "_client", queue.make_client(f"redis://127.0.0.1:{server.getsockname()[1]}/0"))
    yield
    server.close()


def timed(call):
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def test_hits_are_written_through_at_once_while_redis_refuses_connections(site, refusing_redis):
    for _ in range(5):
        lost, seconds = timed(lambda: queue.hits_enqueue([hit(site, T0)]))
        assert lost == [] and seconds < 1.0
    assert actions(site) == 5


def test_a_hanging_redis_costs_one_hit_its_timeout_and_the_next_hits_none(site, hanging_redis):
    lost, first = timed(lambda: queue.hits_enqueue([hit(site, T0)]))
    assert lost == [] and first < 2.0
    lost, second = timed(lambda: queue.hits_enqueue([hit(site, T0), hit(site, T0)]))
    assert lost == [] and second < 0.5, "Redis is not tried again for a second: the hits go straight through"
    assert actions(site) == 3


def test_redis_is_tried_again_once_the_pause_is_over(site, refusing_redis, monkeypatch):
    assert queue.hits_enqueue([hit(site, T0)]) == []
    monkeypatch.setattr(queue, "_client", queue.make_client(settings.REDIS_URL))  # Redis is back
    queue.hits_enqueue([hit(site, T0)])
    assert queue.queue_depth()["queued"] == 0, "within the pause, hits are written through"
    monkeypatch.setattr(queue, "_redis_away_until", time.monotonic() - 1)
    queue.hits_enqueue([hit(site, T0)])
    assert queue.queue_depth()["queued"] == 1
    assert queue.ingest_drain() == 1
    assert actions(site) == 3


def _read_without_finishing(count: int) -> list:
    """What a drain that stopped half-way leaves: entries read by this process, not acknowledged."""
    r = queue.client()
    queue._ensure_group(r)
    consumer = f"{socket.gethostname()}:{os.getpid()}"
    return r.xreadgroup(queue.GROUP, consumer, {settings.FARM_HITS_STREAM: ">"}, count=count)[0][1]


def test_a_batch_cut_short_before_storing_is_stored_by_the_next_drain_at_once(site):
    queue.hits_enqueue([hit(site, T0) for _ in range(4)])
    assert len(_read_without_finishing(10)) == 4  # then Redis or PostgreSQL went away
    assert queue.ingest_drain() == 4, "not after FARM_INGEST_RECLAIM_MS: this process's own entries come first"
    assert actions(site) == 4
    assert queue.queue_depth() == {"queued": 0, "dead": 0}


def test_a_batch_stored_whose_acknowledgement_was_lost_is_acknowledged_and_not_stored_again(site):
    entries = [hit(site, T0) for _ in range(3)]
    queue.hits_enqueue(entries)
    _read_without_finishing(10)
    assert queue.hits_store_now(entries) == []  # stored, then Redis went away before XACK
    assert queue.ingest_drain() == 0
    assert actions(site) == 3
    assert queue.queue_depth() == {"queued": 0, "dead": 0}
    assert queue.ingest_lag_seconds() == 0.0


def test_an_entry_deleted_but_still_pending_is_only_acknowledged(site):
    queue.hits_enqueue([hit(site, T0), hit(site, T0)])
    read = _read_without_finishing(10)
    queue.client().xdel(settings.FARM_HITS_STREAM, read[0][0])
    assert queue.ingest_drain() == 1
    assert queue.queue_depth() == {"queued": 0, "dead": 0}, "the deleted entry is not set aside as unreadable"
    assert queue.client().xpending(settings.FARM_HITS_STREAM, queue.GROUP)["pending"] == 0


@pytest.mark.django_db(transaction=True)
def test_write_through_while_postgres_refuses_names_every_hit_and_raises_nothing():
    """Redis and PostgreSQL both away: the endpoint's write-through cannot keep the hits and says
    which (the client may retry them). Agents never seen are parsed here meanwhile (the farm's
    table of readings is away too), so nothing raises on the way."""
    from django.db import connection

    from analytics.tracking import agents

    site = make_instance("dbaway", state="publie")
    entries = [{**hit(site, T0), "ua": f"Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.{n}"}
               for n in range(3)]
    agents.forget_local()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens there once closed: connections are refused
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = port
    try:
        refused = queue.hits_store_now(entries)
    finally:
        connection.close()
        connection.settings_dict["PORT"] = saved
    assert refused == [entry["id"] for entry in entries]
    assert actions(site) == 0
