"""Two ingest processes at once, as `make up`'s worker runs them (concurrency 2), on batches that
cover the same sites in opposite orders: every hit stored once, by both, and no deadlock (a
transaction per batch that locked its sites in the batch's order deadlocked here)."""
import pytest

from analytics.models import Action
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics import processes

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


@pytest.mark.django_db(transaction=True)
def test_two_workers_storing_batches_of_the_same_sites_in_opposite_orders_store_every_hit_once():
    sites = [make_instance(f"both-{name}", state="publie") for name in ("a", "b", "c")]
    stream = processes.own_stream("both")
    # Batches of 30: each lists the three sites in the opposite order of the one before, so two
    # workers reading consecutive batches meet the sites in opposite orders (they deadlocked so).
    hits = []
    for batch in range(40):
        order = sites if batch % 2 else sites[::-1]
        hits += [(site, f"{batch:08x}{n:08x}", UA) for site in order for n in range(10)]
    processes.queue_hits(stream, hits)
    workers = [processes.start("drain", "30", stream, stream=stream) for _ in range(2)]
    processes.release(stream, 2)
    stored = [processes.result(worker)["stored"] for worker in workers]
    assert sum(stored) == len(hits) and min(stored) > 0, stored
    for site in sites:
        with in_tenant(site):
            assert Action.objects.count() == 400
            assert Action.objects.values("hit_id").distinct().count() == 400
