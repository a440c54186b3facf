"""Benchmark: a farm of 10,000 real sites (provisioned schemas) in one PostgreSQL (issue #16).

Creates `--sites` sites the way an admin's "Valider" does (request, validate, schema cloned from
the template by the provisioning task, run eagerly here), one owner for all (the farm is measured,
not password hashing), in a database of its own (`<db>_fleet`, dropped at the end unless --keep),
after checking the free disk. At each checkpoint (100, 1,000, 5,000, 10,000 by default) it prints:

- provisioning: p50/p95 of "Valider" → ready for the last sites made before it;
- routing: a request for a small page (`/matomo.js`) on `--sample` random sites' hosts, against
  the same request on the portal's host (p50);
- the hourly `archive reports` of a site with no new data: its first run (today archived, empty),
  then the next one (nothing new: the no-op), p50/p95 over `--sample` random sites, and the
  farm's hour at that p50 (goal ≤ 5 ms a site, ≤ 1 minute for the farm);
- the super cron tick with every site's scheduled tasks due at once (goal: dispatch ≤ 2 s per
  10,000 due runs), then the cost of a run as a worker claims and executes it (the sampled sites'
  hourly archiving, nothing new), and the work a minute it makes for `make up`'s worker processes
  with the hour's runs spread over its minutes (goal: lag p99 ≤ 60 s);
- disk: the database's size per site; and memory: this process's RSS and its PostgreSQL
  backend's after touching `--sample` sites on one connection, then after closing it.

Then, on the whole farm, the farm as `make up` runs it, live for `--live` minutes: its Celery
worker (2 processes), the sites' cron-URL worker (16 threads) and Celery Beat, started with
make up's own command lines (farm/cli.py), `--cron-urls` of the sites calling a loopback HTTP
server every minute. Each run's lag (its period boundary → its start) is read from the run history,
p50/p99/max by task; runs never started by the end count with their wait so far. The RSS of the
web server's and the worker's processes is read before and after they touched 1,000 sites.

    .venv/bin/python bench/fleet.py [--sites 10000] [--checkpoints 100,1000,5000,10000] [--sample 200] \
        [--live 5] [--cron-urls 0.1]
"""
import argparse
import os
import random
import signal
import subprocess
import tempfile
import threading
import uuid
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
MAKE_UP_CONCURRENCY = 2  # farm/cli.py: the tasks worker's --concurrency
ARCHIVE = "analytics.reports.tasks.archive_reports"


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    return (f"p50 {statistics.median(ordered) * 1000:7.1f} ms  "
            f"p95 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000:7.1f} ms")


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--checkpoints", default="100,1000,5000,10000")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--live", type=float, default=5, help="minutes of the live farm at the end (0: none)")
    parser.add_argument("--cron-urls", type=float, default=0.1, help="share of the sites with a cron URL")
    args = parser.parse_args()
    checkpoints = sorted({int(n) for n in args.checkpoints.split(",") if int(n) <= args.sites} | {args.sites})

    from common import database_url, django_in_own_database, recreate_database

    free = shutil.disk_usage("/").free / 1e9
    need = 0.5 + args.sites * 0.0004  # GB: about 0.4 MB an empty site (measured, printed below)
    if free < need:
        print(f"{free:.1f} GB free on /, {need:.1f} GB needed for {args.sites:,} sites: not started")
        return 1
    django_in_own_database("fleet", DEBUG="0", CELERY_TASK_ALWAYS_EAGER="1", LOG_LEVEL="WARNING",
                           FARM_CRON_URL_ALLOW="127.0.0.0/8")
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rich.console import Console
    from rich.progress import Progress

    from analytics.reports.archive import archive_run
    from farm.cron import dispatch, execution
    from farm.cron.models import ScheduledTask, TaskRun
    from farm.tenancy import in_tenant
    from instances import services
    from instances.models import Instance
    from tests.factories import make_user

    console = Console(width=160)
    call_command("farm_init", verbosity=0)
    owner = make_user("fleet-owner")

    def size() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]

    empty_size, made, validations = size(), [], []
    client = Client()
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("provisioning sites", total=args.sites)
        for n in range(1, args.sites + 1):
            site = services.instance_request(owner=owner, name=f"Site {n}", slug=f"site{n}", purpose="bench")
            started = time.perf_counter()
            services.instance_validate(instance=site, by=None)  # NB: eager: the provisioning task runs here
            validations.append(time.perf_counter() - started)
            made.append(site.pk)
            mail.outbox.clear()
            progress.advance(bar)
            if n not in checkpoints:
                continue
            progress.stop()
            console.print(f"\n[bold]{n:,} sites[/bold] ({size() / 1e9:.2f} GB, {(size() - empty_size) / n / 1e6:.2f} MB a site)")
            console.print(f"  provisioning, Valider → ready, last {min(n, args.sample)}: {_ms(validations[-args.sample:])}")
            sample = Instance.objects.filter(pk__in=random.sample(made, min(args.sample, n)))
            times = {"site": [], "portal": []}
            for site in sample:
                for kind, host in (("site", f"{site.slug}.localhost"), ("portal", "localhost")):
                    started = time.perf_counter()
                    assert client.get("/matomo.js", HTTP_HOST=host).status_code == 200
                    times[kind].append(time.perf_counter() - started)
            console.print(f"  a request on a site's host {_ms(times['site'])}   on the portal's {_ms(times['portal'])}")
            first, idle = [], []
            for site in sample:
                with in_tenant(site):
                    started = time.perf_counter()
                    archive_run()
                    first.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    assert archive_run().days == []
                    idle.append(time.perf_counter() - started)
            console.print(f"  archive reports, first run {_ms(first)}   nothing new {_ms(idle)}   "
                          f"→ {statistics.median(idle) * n:.1f} s for the farm's hour (goal ≤ 5 ms a site, ≤ 60 s)")
            backend = _backend_mb(connection)
            console.print(f"  memory after {len(sample)} sites on one connection: this process {_rss_mb():.0f} MB, "
                          f"its PostgreSQL backend {backend:.0f} MB")
            connection.close()
            console.print(f"  after closing the connection: backend {_backend_mb(connection):.0f} MB")
            _tick(console, dispatch, execution, ScheduledTask, TaskRun, timezone, sample, n)
            progress.start()
    try:
        if args.live:
            _live(console, args, made)
    finally:
        if not args.keep:
            connection.close()
            recreate_database(database_url("fleet"))  # NB: dropped and made empty: the disk is given back
    return 0


def _backend_mb(connection) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        return float(cursor.fetchone()[0]) / 1e6


def _tick(console, dispatch, execution, ScheduledTask, TaskRun, timezone, sample, sites: int) -> None:
    """Every site's tasks due at once: one tick dispatches them all; then the archive runs of the
    sampled sites (archived once already: nothing new) are claimed and executed one by one, as a
    worker does, for the cost of a run; the lag follows for an hour's runs spread over its minutes
    (registry.spread_minute) and for all of them due at once (a farm back from an outage)."""
    now = timezone.now()
    ScheduledTask.objects.filter(instance__isnull=False, enabled=True).update(next_run_at=now)
    started = time.perf_counter()
    result = dispatch.tick(now=now, wake=False)
    seconds = time.perf_counter() - started
    console.print(f"  super cron tick, every site's tasks due: {result.due:,} due, {result.queued:,} queued in "
                  f"{seconds:.2f} s ({seconds / max(result.queued, 1) * 10_000:.2f} s per 10,000; goal ≤ 2 s)")
    runs = list(TaskRun.objects.filter(task__instance__in=sample, task__name=ARCHIVE, status="queued")
                .values_list("pk", flat=True))
    started = time.perf_counter()
    for run_id in runs:
        execution.run_execute(execution.run_claim(run_id=run_id))
    per_run = (time.perf_counter() - started) / max(len(runs), 1)
    spread = per_run * sites / 60 / MAKE_UP_CONCURRENCY
    console.print(f"  a site's hourly archiving with nothing new, claimed and run by a worker: {per_run * 1000:.1f} ms "
                  f"({len(runs)} runs) → spread over the hour, {spread:.1f} s of work a minute for make up's "
                  f"{MAKE_UP_CONCURRENCY} processes (lag p99 under a minute while this stays under 60 s); all "
                  f"{result.queued:,} runs due at once: {per_run * result.queued / MAKE_UP_CONCURRENCY:.0f} s")
    TaskRun.objects.all().delete()


def _tree_rss_mb(pid: int) -> list[float]:
    """RSS of a process and of each of its descendants (MB), read from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(next(line for line in (entry / "status").read_text().splitlines()
                                                    if line.startswith("PPid:")).split()[1])
            except (OSError, StopIteration):
                continue
    tree, found = [pid], True
    while found:
        found = [child for child, parent in parents.items() if parent in tree and child not in tree]
        tree += found
    sizes = []
    for member in tree:
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024)
    return sizes


def _mbs(sizes: list[float]) -> str:
    return "/".join(f"{size:.0f}" for size in sizes) + " MB"


class _CronTarget(BaseHTTPRequestHandler):
    """The sites' cron URLs: a loopback server answering 200 at once, counting the calls."""

    calls = 0

    def do_GET(self):
        type(self).calls += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _live(console, args, made: list[int]) -> None:
    """The farm as `make up` runs it, for `--live` minutes: lag of every run, and processes' RSS."""
    from django.conf import settings
    from django.utils import timezone

    from farm.cli import _programs
    from farm.embedded import _free_port
    from farm.cron.models import TaskRun
    from instances.models import Instance
    from instances.site_cron import instance_cron_url_set

    server = ThreadingHTTPServer(("127.0.0.1", 0), _CronTarget)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with_url = random.sample(made, int(len(made) * args.cron_urls))
    for site in Instance.objects.filter(pk__in=with_url):
        instance_cron_url_set(instance=site, url=f"http://127.0.0.1:{server.server_port}/cron/{site.slug}")
    TaskRun.objects.all().delete()
    state = Path(tempfile.mkdtemp(prefix="fleet-live-"))
    # NB: queues and stream of their own: a farm on the same Redis neither takes nor loses messages
    tag = f"fleet-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "FARM_STATE_DIR": str(state), "PYTHONUNBUFFERED": "1", "FARM_CELERY_QUEUE": tag,
           "FARM_INGEST_QUEUE": f"{tag}-ingest", "FARM_SITE_CRON_QUEUE": f"{tag}-site-cron",
           "FARM_HITS_STREAM": f"{tag}:hits", "FARM_METRICS_KEY": f"{tag}:metrics"}
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    port = str(_free_port())
    programs = _programs(env, host="127.0.0.1", port=port)
    logs = {name: open(state / f"{name}.log", "w") for name in programs}  # noqa: SIM115
    processes = {name: subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, stdout=logs[name],
                                        stderr=subprocess.STDOUT) for name, argv in programs.items()}
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (len(_tree_rss_mb(processes["worker"].pid)) < 1 + MAKE_UP_CONCURRENCY
                                               or len(_tree_rss_mb(processes["web"].pid)) < 3):
            time.sleep(1)  # the processes start: granian's 2 workers, Celery's pool
        time.sleep(5)
        web_before = _tree_rss_mb(processes["web"].pid)
        slugs = list(Instance.objects.filter(pk__in=random.sample(made, min(1000, len(made))))
                     .values_list("slug", flat=True))
        for slug in slugs:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/matomo.js",
                                             headers={"Host": f"{slug}.{settings.FARM_DOMAIN}"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
        web_after = _tree_rss_mb(processes["web"].pid)
        worker_before = _tree_rss_mb(processes["worker"].pid)
        start = timezone.now()
        console.print(f"\n[bold]The farm live[/bold] ({len(made):,} sites, {len(with_url):,} with a cron URL every "
                      f"minute), {args.live:g} minutes from {start:%H:%M:%S} UTC")
        time.sleep(args.live * 60)
        end = timezone.now()
        os.killpg(processes["beat"].pid, signal.SIGTERM)  # no more ticks: what is due is drained
        deadline = time.monotonic() + 300
        window = TaskRun.objects.filter(forced=False, scheduled_for__gte=start, scheduled_for__lt=end)
        while window.filter(status__in=["queued", "running"]).exists() and time.monotonic() < deadline:
            time.sleep(2)
        worker_after = _tree_rss_mb(processes["worker"].pid)
        waited = timezone.now()
        by_task: dict[str, list[float]] = {}
        late = 0
        for name, scheduled, started in window.values_list("task__name", "scheduled_for", "started_at"):
            late += started is None
            by_task.setdefault(name.rsplit(".", 1)[-1], []).append(((started or waited) - scheduled).total_seconds())
        every = sorted(lag for lags in by_task.values() for lag in lags)
        if not every:
            console.print("  no run was due in the window: nothing to measure (did Beat start?)")
            return
        for name, lags in sorted(by_task.items()) + [("all runs", every)]:
            lags.sort()
            console.print(f"  {name:<24} {len(lags):>6} runs  lag p50 {statistics.median(lags):6.1f} s  "
                          f"p99 {lags[int(len(lags) * 0.99)]:6.1f} s  max {lags[-1]:6.1f} s")
        console.print(f"  lag p99 {every[int(len(every) * 0.99)]:.1f} s (goal ≤ 60 s); not started by the end: {late}; "
                      f"cron URLs called: {_CronTarget.calls:,}")
        console.print(f"  web (granian: main, workers) RSS before {_mbs(web_before)}, after requests on "
                      f"{len(slugs)} sites' hosts {_mbs(web_after)}")
        touched = window.exclude(task__name__endswith="site_cron_call").values("task__instance").distinct().count()
        console.print(f"  Celery worker (main, pool) RSS before {_mbs(worker_before)}, after {args.live:g} minutes "
                      f"and runs in {touched:,} sites {_mbs(worker_after)}")
    finally:
        for process in processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        server.shutdown()
        for log in logs.values():
            log.close()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
