"""Benchmark: tracking hits accepted over HTTP (single GET and bulk POST), ingest throughput per
worker (the accepted hits, each a new visitor; then returning visitors extending their visits), and
the write-through path — with granian started as in production and a load generator on loopback. Runs in a separate database (`<db>_trackbench`, recreated) and its own hit stream.

    .venv/bin/python bench/tracking.py [--seconds 10] [--clients 16]
"""
import argparse
import asyncio
import itertools
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


def _request(port: int, idsite: int, n: int, seed: int, bulk_size: int) -> bytes:
    """The raw HTTP/1.1 request for hit number n (bulk: n-th post of bulk_size hits); each hit has its own visitor."""
    def params(i):
        return urlencode({"idsite": idsite, "rec": 1, "url": f"https://bench.example/p{n % 50}",
                          "action_name": f"p{n % 50}", "_id": f"{(seed * 1_000_003 + i) % 2**64:016x}", "send_image": 0})
    head = f"Host: localhost\r\nUser-Agent: {UA}\r\n"
    if not bulk_size:
        return f"GET /matomo.php?{params(n)} HTTP/1.1\r\n{head}\r\n".encode()
    body = json.dumps({"requests": ["?" + params(n * bulk_size + i) for i in range(bulk_size)]}).encode()
    return (f"POST /matomo.php HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_body(reader, head: bytes) -> None:
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.startswith(b"content-length:")), None)
    if length is not None:
        await reader.readexactly(length)
    elif b"transfer-encoding: chunked" in head:
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")


async def _connection(port, idsite, deadline, bulk_size, seed, counter, hits_and_latencies):
    """One keep-alive connection sending requests back to back (raw HTTP: the generator must cost
    the two shared cores as little as possible, so what is measured is the server)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < deadline:
        n = next(counter)
        started = time.perf_counter()
        writer.write(_request(port, idsite, n, seed, bulk_size))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        await _read_body(reader, head.lower())
        hits_and_latencies.append((bulk_size or 1 if status in (200, 204) else 0, time.perf_counter() - started))
        if b"connection: close" in head.lower():
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


def _generator_process(args) -> list[tuple[int, float]]:
    port, idsite, seconds, connections, bulk_size, seed = args
    results, counter = [], itertools.count()
    deadline = time.monotonic() + seconds

    async def run():
        await asyncio.gather(*(_connection(port, idsite, deadline, bulk_size, seed * 1000 + c, counter, results)
                               for c in range(connections)))

    asyncio.run(run())
    return results


def _load(port, idsite, seconds, clients, bulk_size, processes=2) -> tuple[float, list[float]]:
    """`clients` keep-alive connections spread over `processes` asyncio load generators."""
    per_process = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_generator_process, [(port, idsite, seconds, c, bulk_size, i + 1)
                                                for i, c in enumerate(per_process) if c])
    hits = sum(h for r in results for h, _lat in r)
    latencies = sorted(lat for r in results for _h, lat in r)
    return hits / seconds, latencies


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children, from /proc: the cost of
    serving, whatever else the shared cores were doing meanwhile."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1] is the parent pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _pct(values, q):
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--bulk-size", type=int, default=100)
    args = parser.parse_args()

    from common import django_in_own_database, live_site

    queue_name = f"trackbench-{uuid.uuid4().hex[:6]}"
    django_in_own_database("trackbench", FARM_HITS_STREAM=f"farm-{queue_name}", FARM_CELERY_QUEUE=queue_name,
                           FARM_INGEST_QUEUE=queue_name)
    from django.core.management import call_command
    from rich.console import Console

    from analytics.tracking import enrich, queue

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    site = live_site("trackbench", name="b", slug="bench")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(  # as in production (README), sized for 2 cores
        [str(Path(sys.executable).parent / "granian"), "--interface", "wsgi", "farm.wsgi:application",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--blocking-threads", "4",
         "--log-level", "warning"], cwd=ROOT, env={**os.environ, "DEBUG": "0"})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        _load(port, site.pk, 1, 2, 0)  # warm up every web worker
        cpu_before = _tree_cpu_seconds(server.pid)
        single_rate, single_lat = _load(port, site.pk, args.seconds, args.clients, 0)
        single_cpu = (_tree_cpu_seconds(server.pid) - cpu_before) / (single_rate * args.seconds)
        bulk_rate, bulk_lat = _load(port, site.pk, args.seconds, max(4, args.clients // 2), args.bulk_size)
    finally:
        server.terminate()
        server.wait(timeout=30)

    accepted = queue.client().xlen(os.environ["FARM_HITS_STREAM"])
    # A worker loads device-detector's and the country data's rule sets once in its life, not per
    # drain (the first drain does): load them before timing, and say how long.
    warm_up_seconds = enrich.warm_up()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def ingest() -> tuple[int, float, float, float]:
        """Drain the stream: (hits stored, seconds, CPU seconds of this process, of its PostgreSQL backend)."""
        cpu_before, started = (time.process_time(), _tree_cpu_seconds(backend)), time.perf_counter()
        stored = queue.ingest_drain(batch=1000, max_batches=10_000)
        seconds = time.perf_counter() - started
        return stored, seconds, time.process_time() - cpu_before[0], _tree_cpu_seconds(backend) - cpu_before[1]

    stored, ingest_seconds, ingest_cpu, database_cpu = ingest()
    # Returning visitors: 20,000 visitors × 5 page views a minute apart, queued round by round, so
    # after the first rounds every batch extends visits stored by earlier ones (lookups + UPDATE).
    now = time.time()
    queue.hits_enqueue([{"id": str(uuid.uuid4()), "t": site.pk, "at": now - 300 + 60 * view, "ip": "192.0.0.0",
                         "ua": UA, "lang": "en", "p": {"idsite": str(site.pk), "rec": "1", "_id": f"{v + 2**40:016x}",
                                                       "url": f"https://bench.example/p{view}"}}
                        for view in range(5) for v in range(20_000)])
    returning = ingest()

    entries = [{"id": str(uuid.uuid4()), "t": site.pk, "at": time.time(), "ip": "192.0.0.0", "ua": UA, "lang": "en",
                "p": {"idsite": str(site.pk), "rec": "1", "url": "https://bench.example/wt", "_id": f"{i:016x}"}}
               for i in range(300)]
    started = time.perf_counter()
    for entry in entries:
        queue.hits_store_now([entry])
    write_through = len(entries) / (time.perf_counter() - started)
    queue.client().delete(os.environ["FARM_HITS_STREAM"], os.environ["FARM_HITS_STREAM"] + ":dead")

    console.print(f"single GET hits: {single_rate:8.0f} hits/s accepted   latency p50 {_pct(single_lat, .5):.1f} ms, "
                  f"p95 {_pct(single_lat, .95):.1f} ms, p99 {_pct(single_lat, .99):.1f} ms ({args.clients} clients); "
                  f"server CPU {single_cpu * 1e6:.0f} µs per hit")
    console.print(f"bulk POST ({args.bulk_size}/req): {bulk_rate:8.0f} hits/s accepted   latency p50 "
                  f"{_pct(bulk_lat, .5):.1f} ms, p95 {_pct(bulk_lat, .95):.1f} ms per request")
    console.print(f"queued {accepted} hits; ingest (one process): {stored} stored in {ingest_seconds:.1f} s = "
                  f"{stored / ingest_seconds:8.0f} hits/s; device cache hit rate {enrich.cache_hit_rate():.1%} "
                  f"(rule sets loaded before, in {warm_up_seconds:.1f} s); CPU per hit: ingest process "
                  f"{ingest_cpu / stored * 1e6:.1f} µs, its PostgreSQL backend {database_cpu / stored * 1e6:.1f} µs")
    console.print(f"ingest, returning visitors (5 page views each, interleaved): {returning[0]} stored in "
                  f"{returning[1]:.1f} s = {returning[0] / returning[1]:8.0f} hits/s; CPU per hit: ingest process "
                  f"{returning[2] / returning[0] * 1e6:.1f} µs, its PostgreSQL backend "
                  f"{returning[3] / returning[0] * 1e6:.1f} µs")
    console.print(f"write-through (Redis down path), one hit per call: {write_through:8.0f} hits/s")
    return 0 if stored == accepted and returning[0] == 100_000 else 1


if __name__ == "__main__":
    sys.exit(main())
