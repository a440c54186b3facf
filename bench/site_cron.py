"""Benchmark: the super cron calling 10,000 sites' cron URLs every minute.

A local server stands in for the sites (a process of its own): it listens on --hosts loopback
addresses (127.0.1.1, 127.0.1.2, …), so the per-host limit works as on real hosts, and answers
each call after a random 50–500 ms. Then, in the same run, one site in 97 answers after 12 s (past
the 10 s timeout, so it is retried within the minute) to show that slow sites do not hold up the
others. Each site (no schema: calling its URL needs none) has a cron
URL called every minute. At each minute boundary the bench runs the super cron's tick, as Beat's
crontab entry does, which hands the due runs to a real worker started with `make up`'s command line
for the sites' cron queue. Prints, per minute: calls received (one per site is the goal), the lag
from the boundary to each call's arrival and to its answer, the runs recorded; and the CPU and
memory of the worker, the server and the tick.

    .venv/bin/python bench/site_cron.py    # --sites 10000 --hosts 100 --minutes 3 --slow-minutes 2
"""
import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def host_address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def serve(port: int, hosts: int, seed: int) -> None:
    """The sites' stand-in: answers /cron?site=N after 50–500 ms; /_stats returns what it saw."""
    from aiohttp import web

    calls, rng = [], random.Random(seed)

    async def cron(request):
        arrived = time.time()
        await asyncio.sleep(12.0 if "slow" in request.query else rng.uniform(0.05, 0.5))
        calls.append((int(request.query.get("site", -1)), arrived, time.time()))
        return web.Response(text="cron done")

    async def stats(_request):
        return web.json_response(calls)

    async def main():
        app = web.Application()
        app.router.add_get("/cron", cron)
        app.router.add_get("/_stats", stats)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for index in range(hosts):
            await web.TCPSite(runner, host_address(index), port, backlog=1024).start()
        print("serving", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--slow-minutes", type=int, default=2,
                        help="minutes more with one site in 97 answering after 12 s (past the 10 s timeout)")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.hosts, seed=11)
        return 0

    from common import django_in_own_database

    queue = f"farm-sitecron-bench-{uuid.uuid4().hex[:6]}"
    django_in_own_database("sitecronbench", FARM_SITE_CRON_QUEUE=queue, FARM_CELERY_QUEUE=f"{queue}-default",
                           FARM_CRON_URL_ALLOW="127.0.0.0/8")
    from django.core.management import call_command
    from django.db import connection
    from rich.console import Console
    from rich.progress import track

    from farm.cli import _programs
    from farm.cron import dispatch
    from farm.cron.models import TaskRun
    from farm.cron.timetable import timetable_task_set
    from instances.models import Instance
    from instances.site_cron import TASK_NAME, site_cron_schedule
    from tests.factories import make_user

    console = Console(width=160)
    call_command("farm_init", verbosity=0)
    owner = make_user("sitecronbench")
    Instance.objects.bulk_create(
        [Instance(name=f"s{i}", slug=f"s{i:05d}", schema_name=f"s{i:05d}", owner=owner, status="publie",
                  schema_state="ready", cron_url=f"http://{host_address(i % args.hosts)}:{args.port}/cron?site={i}")
         for i in range(args.sites)], batch_size=2000)
    for site in track(list(Instance.objects.filter(owner=owner)), description="scheduling the cron URLs",
                      console=console):
        timetable_task_set(tenant=site, name=TASK_NAME, schedule=site_cron_schedule(site.pk, 1))
    connection.cursor().execute("VACUUM ANALYZE")

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port), "--hosts",
                               str(args.hosts)], stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "serving"
    worker_log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "site_cron_bench_worker.log", "w")
    worker = subprocess.Popen(_programs(env, host="127.0.0.1", port="0")["crons"], env=env, cwd=ROOT,
                              stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        return measure(args, console, server, worker, dispatch, TaskRun, Instance)
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)


def measure(args, console, server, worker, dispatch, TaskRun, Instance) -> int:
    from farm.celery import app as celery_app

    deadline = time.monotonic() + 60
    while not celery_app.control.ping(timeout=0.5):
        assert time.monotonic() < deadline and worker.poll() is None, "the worker did not start"
    console.print(f"{args.sites} sites on {args.hosts} loopback hosts, a call every minute each; "
                  f"worker: {' '.join(worker.args[3:])}")
    start_cpu = {"worker": cpu_seconds(worker.pid), "server": cpu_seconds(server.pid)}
    ticks, boundaries = [], []
    started_wall = time.time()
    slow = {i for i in range(args.sites) if i % 97 == 0}
    for minute in range(args.minutes + args.slow_minutes):
        boundary = (int(time.time()) // 60 + 1) * 60
        if minute == args.minutes:  # from the next minute on, some sites answer too late
            time.sleep(max(0.0, boundary - 5 - time.time()))  # the last easy minute's calls are done
            for site in Instance.objects.filter(slug__in=[f"s{i:05d}" for i in slow]):
                Instance.objects.filter(pk=site.pk).update(cron_url=site.cron_url + "&slow=1")
        time.sleep(max(0.0, boundary + 0.1 - time.time()))  # Beat's crontab fires on the minute
        cpu = time.process_time()
        result = dispatch.tick()
        ticks.append((result.queued, result.seconds, time.process_time() - cpu, result.wakeups))
        boundaries.append(boundary)
    time.sleep(max(0.0, boundaries[-1] + 60 - time.time()))
    wall = time.time() - started_wall
    cpu = {name: cpu_seconds(p.pid) - start_cpu[name] for name, p in (("worker", worker), ("server", server))}
    calls = json.load(urllib.request.urlopen(f"http://{host_address(0)}:{args.port}/_stats"))

    console.print("minute  | tick: runs, s (CPU s) | calls  sites called once | arrival lag p50 / p95 / p99 / max s"
                  " | answered by (max) s | runs succeeded")
    ok = True
    for minute, ((queued, seconds, tick_cpu, _), boundary) in enumerate(zip(ticks, boundaries, strict=True)):
        if minute == args.minutes:
            console.print(f"with {len(slow)} sites (one in 97) answering after 12 s; the lags and counts are the "
                          f"other {args.sites - len(slow)} sites'; the slow ones:")
        slowed = minute >= args.minutes
        every = [c for c in calls if boundary <= c[1] < boundary + 60]
        mine = [c for c in every if not (slowed and c[0] in slow)]
        if slowed:
            slow_calls = len(every) - len(mine)
            key = "N:" + datetime.fromtimestamp(boundary, timezone.utc).strftime("%Y-%m-%dT%H:%M")
            failed = TaskRun.objects.filter(period_key=key, status="failed").count()
            console.print(f"          {slow_calls} calls to the {len(slow)} slow sites (retries included), "
                          f"{failed} runs failed after their retries")
        per_site = Counter(c[0] for c in mine)
        arrival = [c[1] - boundary for c in mine]
        done = [c[2] - boundary for c in mine]
        key = "N:" + datetime.fromtimestamp(boundary, timezone.utc).strftime("%Y-%m-%dT%H:%M")
        succeeded = TaskRun.objects.filter(period_key=key, status="succeeded").count()
        once = sum(1 for n in per_site.values() if n == 1)
        expected = args.sites - (len(slow) if slowed else 0)
        ok &= once == expected == len(mine) == succeeded
        console.print(f"{datetime.fromtimestamp(boundary, timezone.utc):%H:%M}   | {queued:>6} {seconds:5.2f} "
                      f"({tick_cpu:4.2f})      | {len(mine):>6} {once:>6}              | "
                      f"{percentile(arrival, .5):5.2f} / {percentile(arrival, .95):5.2f} / "
                      f"{percentile(arrival, .99):5.2f} / {max(arrival, default=float('nan')):5.2f}     | "
                      f"{max(done, default=float('nan')):6.2f}             | {succeeded}")
    console.print(f"CPU over {wall:.0f} s: worker {cpu['worker']:.1f} s ({100 * cpu['worker'] / wall:.0f} % of a core, "
                  f"{1000 * cpu['worker'] / max(1, len(calls)):.2f} ms per call), server {cpu['server']:.1f} s; "
                  f"worker RSS {rss_mb(worker.pid):.0f} MB")
    console.print(f"mean tick CPU per due run: {1000 * statistics.mean(t[2] for t in ticks) / args.sites:.3f} ms; "
                  f"messages per tick: {ticks[0][3]}")
    console.print("every site called exactly once each minute" if ok else "[red]NOT every site called once a minute")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
