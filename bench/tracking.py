"""Benchmark: tracking hits accepted over HTTP (single GET and bulk POST), ingest throughput per
worker, and the write-through path — with gunicorn started as in production and a load generator
on loopback. Runs in a separate database (`<db>_trackbench`, recreated) and its own hit stream.

    .venv/bin/python bench/tracking.py [--seconds 10] [--clients 16]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
WARM_UP_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"


def _client_loop(args) -> tuple[int, list[float]]:
    """One load-generating thread's worth of requests on a keep-alive connection; returns (hits, latencies)."""
    port, idsite, seconds, bulk_size, seed = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, hits, n, deadline = [], 0, 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        n += 1
        visitor = f"{(seed * 1_000_003 + n) % 2**64:016x}"
        params = {"idsite": idsite, "rec": 1, "url": f"https://bench.example/p{n % 50}", "action_name": f"p{n % 50}",
                  "_id": visitor, "send_image": 0}
        started = time.perf_counter()
        if bulk_size:
            body = json.dumps({"requests": ["?" + urlencode({**params, "_id": f"{(seed * 7919 + n * bulk_size + i) % 2**64:016x}"})
                                            for i in range(bulk_size)]})
            conn.request("POST", "/matomo.php", body, {"Host": "localhost", "Content-Type": "application/json",
                                                       "User-Agent": UA})
        else:
            conn.request("GET", "/matomo.php?" + urlencode(params), headers={"Host": "localhost", "User-Agent": UA})
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status in (200, 204):
            hits += bulk_size or 1
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()
    return hits, latencies


def _load(port, idsite, seconds, clients, bulk_size) -> tuple[float, list[float]]:
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_client_loop, [(port, idsite, seconds, bulk_size, i) for i in range(clients)])
    hits = sum(r[0] for r in results)
    latencies = sorted(lat for r in results for lat in r[1])
    return hits / seconds, latencies


def _pct(values, q):
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--bulk-size", type=int, default=100)
    args = parser.parse_args()

    from provisioning import _bench_database_url, _recreate_database

    os.environ["DATABASE_URL"] = _bench_database_url().replace("_bench", "_trackbench")
    os.environ["FARM_HITS_STREAM"] = f"farm-trackbench-{uuid.uuid4().hex[:6]}"
    os.environ["FARM_CELERY_QUEUE"] = os.environ["FARM_INGEST_QUEUE"] = f"trackbench-{uuid.uuid4().hex[:6]}"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    _recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from rich.console import Console

    from analytics.tracking import enrich, queue
    from instances import provisioning, services
    from tests.factories import make_user

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    owner = make_user("trackbench")
    site = services.instance_validate(instance=services.instance_request(owner=owner, name="b", slug="bench"), by=None)
    site = provisioning.instance_provision(instance_id=site.pk)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "farm.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3",
         "--worker-class", "gthread", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, "DEBUG": "0"})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        _load(port, site.pk, 1, 2, 0)  # warm up every gunicorn worker
        single_rate, single_lat = _load(port, site.pk, args.seconds, args.clients, 0)
        bulk_rate, bulk_lat = _load(port, site.pk, args.seconds, max(2, args.clients // 4), args.bulk_size)
    finally:
        server.terminate()
        server.wait(timeout=30)

    accepted = queue.client().xlen(os.environ["FARM_HITS_STREAM"])
    # A worker loads device-detector's and the country data's rule sets once in its life, not per
    # drain: load them (with another user agent than the bench's) before timing, and say how long.
    started = time.perf_counter()
    enrich.device(WARM_UP_UA)
    enrich.country("192.0.0.0")
    warm_up_seconds = time.perf_counter() - started
    started = time.perf_counter()
    stored = queue.ingest_drain(batch=1000, max_batches=10_000)
    ingest_seconds = time.perf_counter() - started

    entries = [{"id": str(uuid.uuid4()), "t": site.pk, "at": time.time(), "ip": "192.0.0.0", "ua": UA, "lang": "en",
                "p": {"idsite": str(site.pk), "rec": "1", "url": "https://bench.example/wt", "_id": f"{i:016x}"}}
               for i in range(300)]
    started = time.perf_counter()
    for entry in entries:
        queue.hits_store_now([entry])
    write_through = len(entries) / (time.perf_counter() - started)
    queue.client().delete(os.environ["FARM_HITS_STREAM"], os.environ["FARM_HITS_STREAM"] + ":dead")

    console.print(f"single GET hits: {single_rate:8.0f} hits/s accepted   latency p50 {_pct(single_lat, .5):.1f} ms, "
                  f"p95 {_pct(single_lat, .95):.1f} ms, p99 {_pct(single_lat, .99):.1f} ms ({args.clients} clients)")
    console.print(f"bulk POST ({args.bulk_size}/req): {bulk_rate:8.0f} hits/s accepted   latency p50 "
                  f"{_pct(bulk_lat, .5):.1f} ms, p95 {_pct(bulk_lat, .95):.1f} ms per request")
    console.print(f"queued {accepted} hits; ingest (one process): {stored} stored in {ingest_seconds:.1f} s = "
                  f"{stored / ingest_seconds:8.0f} hits/s; device cache hit rate {enrich.cache_hit_rate():.1%} "
                  f"(rule sets loaded before, in {warm_up_seconds:.1f} s)")
    console.print(f"write-through (Redis down path), one hit per call: {write_through:8.0f} hits/s")
    return 0 if stored == accepted else 1


if __name__ == "__main__":
    sys.exit(main())
