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

    .venv/bin/python bench/fleet.py [--sites 10000] [--checkpoints 100,1000,5000,10000] [--sample 200]
"""
import argparse
import random
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
    args = parser.parse_args()
    checkpoints = sorted({int(n) for n in args.checkpoints.split(",") if int(n) <= args.sites} | {args.sites})

    from common import database_url, django_in_own_database, recreate_database

    free = shutil.disk_usage("/").free / 1e9
    need = 0.5 + args.sites * 0.0004  # GB: about 0.4 MB an empty site (measured, printed below)
    if free < need:
        print(f"{free:.1f} GB free on /, {need:.1f} GB needed for {args.sites:,} sites: not started")
        return 1
    django_in_own_database("fleet", DEBUG="0", CELERY_TASK_ALWAYS_EAGER="1", LOG_LEVEL="WARNING")
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


if __name__ == "__main__":
    sys.exit(main())
