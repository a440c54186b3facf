"""Benchmark: tracking hits accepted over HTTP (single GET and bulk POST, agents from a long tail,
a site with 50 excluded-agent entries), ingest throughput per worker on three kinds of traffic in
the same run, and the write-through path — with granian started as in production and a load
generator on loopback. Runs in a separate database (`<db>_trackbench`, recreated) and its own hit stream.

Ingest lines (each drains the hits queued for it, in one process, as a worker's drain does):
- one agent: one site, one user agent, every hit a new visitor (the easy case);
- realistic, cold: N sites (Zipf-sized), agents from device-detector's fixtures with their last
  version number raised (a browser release: agents no cache has seen) drawn with a Zipf tail,
  varied masked addresses, countries and languages, 60 % of hits from returning visitors;
- realistic, warm: the same visitors and agents the next day (agents now in the farm's cache).

    .venv/bin/python bench/tracking.py [--seconds 10] [--clients 16] [--sites 10] [--hits 60000]
"""
import argparse
import asyncio
import itertools
import json
import multiprocessing
import random
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
from traffic import LANGUAGES  # noqa: E402


def _request(port: int, idsite: int, n: int, seed: int, bulk_size: int, agents: list[str]) -> bytes:
    """The raw HTTP/1.1 request for hit number n (bulk: n-th post of bulk_size hits); each hit has
    its own visitor; the user agent and language are the n-th of a long-tailed draw."""
    def params(i):
        return urlencode({"idsite": idsite, "rec": 1, "url": f"https://bench.example/p{n % 50}",
                          "action_name": f"p{n % 50}", "_id": f"{(seed * 1_000_003 + i) % 2**64:016x}", "send_image": 0})
    agent = agents[(seed * 7919 + n) % len(agents)]
    head = f"Host: localhost\r\nUser-Agent: {agent}\r\nAccept-Language: {LANGUAGES[n % len(LANGUAGES)]},en;q=0.8\r\n"
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


async def _connection(port, idsite, deadline, bulk_size, seed, counter, hits_and_latencies, agents):
    """One keep-alive connection sending requests back to back (raw HTTP: the generator must cost
    the two shared cores as little as possible, so what is measured is the server)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while time.monotonic() < deadline:
        n = next(counter)
        started = time.perf_counter()
        writer.write(_request(port, idsite, n, seed, bulk_size, agents))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        await _read_body(reader, head.lower())
        hits_and_latencies.append((bulk_size or 1 if status in (200, 204) else 0, time.perf_counter() - started))
        if b"connection: close" in head.lower():
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()


def _generator_process(args) -> list[tuple[int, float]]:
    port, idsite, seconds, connections, bulk_size, seed, agents = args
    results, counter = [], itertools.count()
    deadline = time.monotonic() + seconds

    async def run():
        await asyncio.gather(*(_connection(port, idsite, deadline, bulk_size, seed * 1000 + c, counter, results, agents)
                               for c in range(connections)))

    asyncio.run(run())
    return results


def _load(port, idsite, seconds, clients, bulk_size, agents, processes=2) -> tuple[float, list[float]]:
    """`clients` keep-alive connections spread over `processes` asyncio load generators."""
    per_process = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_generator_process, [(port, idsite, seconds, c, bulk_size, i + 1, agents)
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


# One of the worker's ingest processes: loads its rules (as a running worker has), waits for the
# start, drains the stream with the others, reports what it did and what it cost.
_DRAINER = """
import json, os, sys, time
import django
django.setup()
from django.db import connection
from analytics.tracking import agents, enrich, queue
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
from tracking import _tree_cpu_seconds
enrich.warm_up()
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
open(sys.argv[1], "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
cpu, db, started = time.process_time(), _tree_cpu_seconds(backend), time.perf_counter()
stored = queue.ingest_drain(max_batches=10_000)
print(json.dumps({"stored": stored, "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                  "db": _tree_cpu_seconds(backend) - db, **agents.counts}))
"""


def _drain(processes: int) -> dict:
    """Drain the stream with `processes` processes at once, as the worker's pool does; their sums."""
    with tempfile.TemporaryDirectory() as folder:
        go = os.path.join(folder, "go")
        ready = [os.path.join(folder, f"ready{i}") for i in range(processes)]
        drainers = [subprocess.Popen([sys.executable, "-c", _DRAINER, flag, go], cwd=ROOT, stdout=subprocess.PIPE,
                                     text=True) for flag in ready]
        while not all(os.path.exists(flag) for flag in ready):
            if any(drainer.poll() is not None for drainer in drainers):
                raise RuntimeError("an ingest process exited before the start")
            time.sleep(0.02)
        started = time.perf_counter()
        Path(go).touch()
        reports = [json.loads(drainer.communicate()[0].strip().splitlines()[-1]) for drainer in drainers]
    total = {key: sum(report.get(key, 0) for report in reports)
             for key in ("stored", "cpu", "db", "memory", "table", "parsed")}
    return {**total, "seconds": time.perf_counter() - started}


def _ingest_line(console, name, entries, processes: int, baseline=None) -> float:
    """Queue `entries`, drain them as the worker does (`processes` at once), print the line; returns hits/s."""
    from analytics.tracking import queue

    queue.client().delete(os.environ["FARM_HITS_STREAM"])
    pipe = queue.client().pipeline(transaction=False)
    for entry in entries:
        pipe.xadd(os.environ["FARM_HITS_STREAM"], {"h": orjson.dumps(entry)})
    pipe.execute()
    done = _drain(processes)
    stored, seconds = done["stored"], done["seconds"]
    distinct = len({(e.get("ua"), e["p"].get("uadata")) for e in entries})
    lookups = done["memory"] + done["table"] + done["parsed"]
    rate = stored / seconds
    console.print(f"{name:<34} {rate:8.0f} hits/s  ({stored} stored of {len(entries)} in {seconds:.1f} s by "
                  f"{processes} processes; {len({e['t'] for e in entries})} sites, {distinct} distinct agents, "
                  f"{done['parsed']} parsed; agent cache hit rate {1 - done['parsed'] / max(1, lookups):.1%} of "
                  f"{lookups} lookups (memory {done['memory']}, farm table {done['table']}); CPU per hit: ingest "
                  f"{done['cpu'] / stored * 1e6:.0f} µs, PostgreSQL {done['db'] / stored * 1e6:.0f} µs"
                  + (f"; {rate / baseline:.2f}× the one-agent line)" if baseline else ")"))
    return rate


def _lag_under_cold_traffic(console, traffic, seconds: float, rate: int) -> float:
    """Cold traffic queued at `rate` hits/s for `seconds` through the door's own enqueue (which
    wakes the ingest worker), against a Celery worker started as `make up` starts it; samples the
    oldest queued hit's wait every half second. Returns the longest wait seen."""
    from analytics.tracking import queue
    from farm.cli import _programs  # the command lines `make up` runs

    command = _programs({**os.environ}, host="127.0.0.1", port="0")["worker"]
    worker = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "DEBUG": "0"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(8)  # the worker starts and loads its rule sets
        worst, sent, started = 0.0, 0, time.monotonic()
        entries = traffic.day(int(seconds * rate), start=time.time(), seconds=seconds)
        while (elapsed := time.monotonic() - started) < seconds:
            due = min(len(entries), int(elapsed * rate))
            if due > sent:
                queue.hits_enqueue([{**entry, "at": time.time()} for entry in entries[sent:due]])
                sent = due
            worst = max(worst, queue.ingest_lag_seconds())
            time.sleep(0.5)
        drained_at = time.monotonic()
        while queue.queue_depth()["queued"] and time.monotonic() - drained_at < 300:
            worst = max(worst, queue.ingest_lag_seconds())
            time.sleep(0.5)
        console.print(f"ingest lag, cold traffic at {rate} hits/s for {seconds:.0f} s through a worker as `make up` "
                      f"runs it: oldest queued hit waited at most {worst:.1f} s; queue empty "
                      f"{time.monotonic() - drained_at:.1f} s after the last hit ({sent} hits)")
        return worst
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--bulk-size", type=int, default=100)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--hits", type=int, default=60_000)
    parser.add_argument("--agents", type=int, default=7_000, help="agents in the long tail (about 4,000 are drawn)")
    parser.add_argument("--processes", type=int, default=2, help="ingest processes (`make up`'s worker runs 2)")
    parser.add_argument("--lag-seconds", type=float, default=60, help="cold traffic through a real worker (0: skip)")
    parser.add_argument("--lag-rate", type=int, default=1000)
    args = parser.parse_args()

    from common import django_in_own_database, live_site

    queue_name = f"trackbench-{uuid.uuid4().hex[:6]}"
    django_in_own_database("trackbench", FARM_HITS_STREAM=f"farm-{queue_name}", FARM_CELERY_QUEUE=queue_name,
                           FARM_INGEST_QUEUE=queue_name)
    from django.core.management import call_command
    from rich.console import Console

    from analytics.tracking import enrich, queue
    from traffic import Traffic

    from analytics.tracking.agent_corpus import agent_pool

    console = Console(width=220)
    call_command("farm_init", verbosity=0)
    site = live_site("trackbench", name="b", slug="bench")
    site.excluded_user_agents = "\n".join(f"excluded-crawler-{i}/" for i in range(50))
    site.save()
    others = [live_site(f"trackbench{i}", name=f"b{i}", slug=f"bench{i}") for i in range(1, args.sites)]
    # Agents no cache has seen: a release number of their own for every run.
    release = int(time.time()) % 1000 + 1
    pool = agent_pool(args.agents, seed=11, release=release)
    traffic = Traffic([site.pk] + [s.pk for s in others], pool, returning=0.6, seed=5)
    http_agents = [ua for ua, _hints in random.Random(3).choices(pool, cum_weights=traffic.agent_weights, k=5000)]

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
        _load(port, site.pk, 1, 2, 0, http_agents)  # warm up every web worker
        cpu_before = _tree_cpu_seconds(server.pid)
        single_rate, single_lat = _load(port, site.pk, args.seconds, args.clients, 0, http_agents)
        single_cpu = (_tree_cpu_seconds(server.pid) - cpu_before) / (single_rate * args.seconds)
        bulk_rate, bulk_lat = _load(port, site.pk, args.seconds, max(4, args.clients // 2), args.bulk_size,
                                    http_agents)
    finally:
        server.terminate()
        server.wait(timeout=30)

    console.print(f"single GET hits: {single_rate:8.0f} hits/s accepted   latency p50 {_pct(single_lat, .5):.1f} ms, "
                  f"p95 {_pct(single_lat, .95):.1f} ms, p99 {_pct(single_lat, .99):.1f} ms ({args.clients} clients, "
                  f"{len(set(http_agents))} agents, 50 excluded-agent entries); "
                  f"server CPU {single_cpu * 1e6:.0f} µs per hit")
    console.print(f"bulk POST ({args.bulk_size}/req): {bulk_rate:8.0f} hits/s accepted   latency p50 "
                  f"{_pct(bulk_lat, .5):.1f} ms, p95 {_pct(bulk_lat, .95):.1f} ms per request")
    accepted = queue.client().xlen(os.environ["FARM_HITS_STREAM"])
    # A worker loads device-detector's and the country data's rule sets once in its life, not per
    # drain (the first drain does): load them before timing, and say how long.
    warm_up_seconds = enrich.warm_up()
    started = time.perf_counter()
    accepted_stored = queue.ingest_drain(max_batches=10_000)
    console.print(f"ingest of the {accepted} hits accepted over HTTP: {accepted_stored} stored in "
                  f"{time.perf_counter() - started:.1f} s (rule sets loaded before, in {warm_up_seconds:.1f} s)")

    day = 86_400
    now = time.time()
    one_agent = Traffic([site.pk], [(UA, ())], returning=0.0, seed=9)
    baseline = _ingest_line(console, "ingest, one agent, one site", one_agent.day(args.hits, start=now - day,
                                                                                   seconds=3600), args.processes)
    first_day = traffic.day(args.hits, start=now - day, seconds=3600)
    cold = _ingest_line(console, "ingest, realistic, cold agents", first_day, args.processes, baseline)
    # The same traffic the next day: the same visitors (all returning now) with the same browsers.
    next_day = [{**entry, "id": str(uuid.uuid4()), "at": entry["at"] + day - 3600} for entry in first_day]
    warm = _ingest_line(console, "ingest, realistic, warm (next day)", next_day, args.processes, baseline)

    # Returning visitors: 20,000 visitors × 5 page views a minute apart, queued round by round, so
    # after the first rounds every batch extends visits stored by earlier ones (lookups + UPDATE).
    returning = _ingest_line(console, "ingest, 5 views per visitor", [
        {"id": str(uuid.uuid4()), "t": site.pk, "at": now - 300 + 60 * view, "ip": "192.0.0.0", "ua": UA, "lang": "en",
         "p": {"idsite": str(site.pk), "rec": "1", "_id": f"{v + 2**40:016x}", "url": f"https://bench.example/p{view}"}}
        for view in range(5) for v in range(20_000)], args.processes, baseline)

    entries = [{"id": str(uuid.uuid4()), "t": site.pk, "at": time.time(), "ip": "192.0.0.0", "ua": UA, "lang": "en",
                "p": {"idsite": str(site.pk), "rec": "1", "url": "https://bench.example/wt", "_id": f"{i:016x}"}}
               for i in range(300)]
    started = time.perf_counter()
    for entry in entries:
        queue.hits_store_now([entry])
    write_through = len(entries) / (time.perf_counter() - started)
    queue.client().delete(os.environ["FARM_HITS_STREAM"], os.environ["FARM_HITS_STREAM"] + ":dead")
    console.print(f"write-through (Redis down path), one hit per call: {write_through:8.0f} hits/s")
    lag = 0.0
    if args.lag_seconds:
        fresh = agent_pool(args.agents, seed=12, release=release + 500)  # agents neither line has seen
        lag = _lag_under_cold_traffic(console, Traffic([site.pk] + [s.pk for s in others], fresh, returning=0.6,
                                                       seed=6), args.lag_seconds, args.lag_rate)
    console.print(f"cold ≥ 5,000 hits/s: {'yes' if cold >= 5000 else 'NO'}; warm ≥ 18,000 hits/s: "
                  f"{'yes' if warm >= 18000 else 'NO'}; warm ≥ 0.8× one agent: {'yes' if warm >= 0.8 * baseline else 'NO'}"
                  f"; accept ≥ 1,500 hits/s: {'yes' if single_rate >= 1500 else 'NO'}"
                  + (f"; lag < 60 s at {args.lag_rate} hits/s cold: {'yes' if lag < 60 else 'NO'}" if args.lag_seconds else ""))
    return 0 if accepted_stored == accepted and returning > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
