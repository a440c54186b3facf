"""Tenant isolation under concurrent load: three sites' hits sent at once over real HTTP (single
hits on the portal and on each site's host, bulk posts mixing sites) and drained by two ingesters
at the same time (a real Celery worker and this process) — every hit lands once, in its own site."""
import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.db import connection

from analytics.models import Action
from analytics.tracking import queue
from farm.tenancy import in_tenant
from tests.conftest import wait_for
from tests.factories import make_instance

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
HITS_PER_SITE = 150


def _params(site, n: int) -> dict:
    return {"idsite": site.pk, "rec": 1, "url": f"https://{site.slug}.example/p{n}", "action_name": f"{site.slug}-{n}",
            "_id": f"{site.pk:04x}{n % 7:012x}", "send_image": 0}


def _send(port: int, site, numbers: list[int], mixed_with=None) -> int:
    """Send these hits of `site` one way or another; returns how many the server accepted."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    accepted = 0
    if mixed_with is not None:  # one bulk post holding two sites' hits, interleaved
        other_site, other_numbers = mixed_with
        requests = [item for pair in zip(numbers, other_numbers, strict=True) for item in
                    ("?" + urlencode(_params(site, pair[0])), "?" + urlencode(_params(other_site, pair[1])))]
        conn.request("POST", "/matomo.php", json.dumps({"requests": requests}),
                     {"Host": "localhost", "Content-Type": "application/json"})
        response = conn.getresponse()
        accepted = json.loads(response.read())["tracked"]
    else:
        for i, n in enumerate(numbers):
            host = "localhost" if i % 2 else f"{site.slug}.localhost"  # portal by idsite, or the site's own host
            conn.request("GET", "/matomo.php?" + urlencode(_params(site, n)), headers={"Host": host})
            response = conn.getresponse()
            response.read()
            accepted += response.status == 204
    conn.close()
    return accepted


def test_concurrent_hits_for_three_sites_each_land_once_in_their_own_schema(live_server, celery_worker_process):
    sites = [make_instance(slug, state="publie") for slug in ("ant", "bee", "cow")]
    port = live_server.thread.port
    jobs = []
    for index, site in enumerate(sites):
        singles, bulk = list(range(0, 100)), list(range(100, HITS_PER_SITE))
        jobs += [(site, singles[k::4], None) for k in range(4)]
        other = sites[(index + 1) % 3]
        jobs.append((site, bulk[:25], (other, list(range(HITS_PER_SITE + 25 * index, HITS_PER_SITE + 25 * index + 25)))))
        jobs.append((site, bulk[25:], None))

    stop = threading.Event()

    def drain_here():  # a second ingester racing the worker
        try:
            while not stop.is_set():
                queue.ingest_drain(batch=50, max_batches=5)
        finally:
            connection.close()  # this thread's own connection, or the test database cannot be dropped

    drainer = threading.Thread(target=drain_here, daemon=True)
    drainer.start()
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            accepted = sum(pool.map(lambda job: _send(port, *job), jobs))
        expected = {site.slug: HITS_PER_SITE + 25 for site in sites}  # its own hits + the 25 another site's bulk carried
        assert accepted == sum(expected.values())

        def counts():
            found = {}
            for site in sites:
                with in_tenant(site):
                    found[site.slug] = Action.objects.count()
            return found

        wait_for(lambda: counts() == expected, timeout=60, interval=0.3)
    finally:
        stop.set()
        drainer.join(timeout=30)

    for site in sites:
        with in_tenant(site):
            titles = list(Action.objects.values_list("title", flat=True))
            urls = set(Action.objects.values_list("url", flat=True))
        assert len(titles) == len(set(titles))  # each hit once
        assert all(title.startswith(f"{site.slug}-") for title in titles)
        assert all(url.startswith(f"https://{site.slug}.example/") for url in urls)
    assert queue.queue_depth() == {"queued": 0, "dead": 0}
