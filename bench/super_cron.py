"""Benchmark: the super cron's tick over 10,000 sites × 5 tasks, against the naive per-site loop.

Measures an idle tick, a tick with 10,000 due runs (every hourly task at the top of the hour) and
one with 50,000 due (every task), then the naive approach (one query per site, one insert, update
and Celery message per run) on the same timetable. Runs in a separate database (`<db>_cronbench`,
recreated) against real PostgreSQL and Redis; wake-up messages go to a throw-away queue.

    .venv/bin/python bench/super_cron.py [--sites 10000]
"""
import argparse
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def bench_noop(param=""):
    """A task that does nothing: the benchmark measures dispatch, not work."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000)
    args = parser.parse_args()

    from common import django_in_own_database

    queue = f"farm-cronbench-{uuid.uuid4().hex[:6]}"
    django_in_own_database("cronbench", FARM_CELERY_QUEUE=queue)
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from rich.console import Console

    from farm.celery import app as celery_app
    from farm.cron import dispatch, registry
    from farm.cron.models import ScheduledTask, TaskRun
    from farm.cron.timetable import timetable_sync_all
    from instances.models import Instance
    from tests.factories import make_user

    console = Console(width=200)
    this = sys.modules[__name__]
    this.bench_noop.__module__ = "super_cron"
    registry.hourly(bench_noop)
    for param, hour in (("a", 1), ("b", 2)):
        registry.daily(bench_noop, param=param, hour=hour)
    registry.weekly(bench_noop, param="c", weekday=3)
    tenant_tasks = [s for s in registry.registered().values() if s.scope == registry.TENANT]
    call_command("farm_init", verbosity=0)

    owner = make_user("cronbench")
    started = time.perf_counter()
    Instance.objects.bulk_create(
        [Instance(name=f"s{i}", slug=f"s{i:05d}", schema_name=f"s{i:05d}", owner=owner, status="publie",
                  schema_state="ready", timezone=("UTC", "Europe/Paris", "America/New_York")[i % 3])
         for i in range(args.sites)], batch_size=2000)
    created = timetable_sync_all()
    console.print(f"{args.sites} sites × {len(tenant_tasks)} tasks: {created} timetable rows "
                  f"(+ farm tasks) built in {time.perf_counter() - started:.1f} s")

    top_of_hour = (timezone.now() + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    hourly_rows = ScheduledTask.objects.filter(name="super_cron.bench_noop", param="", instance__isnull=False)

    def reset(due_rows=None):
        TaskRun.objects.all().delete()
        ScheduledTask.objects.update(next_run_at=top_of_hour + timedelta(days=3), next_period_key="X")
        if due_rows is not None:
            due_rows.update(next_run_at=top_of_hour, next_period_key="H:" + top_of_hour.strftime("%Y-%m-%dT%H"))
        connection.cursor().execute("VACUUM ANALYZE cron_scheduledtask")
        celery_app.connection().default_channel.client.delete(queue)

    reset()
    idle = []
    for _ in range(20):
        idle.append(dispatch.tick(now=top_of_hour + timedelta(seconds=5)).seconds)

    results = {}
    for label, rows in (("10k", hourly_rows), ("50k", ScheduledTask.objects.filter(instance__isnull=False))):
        reset(rows)
        result = dispatch.tick(now=top_of_hour + timedelta(seconds=5))
        results[label] = result
        assert TaskRun.objects.count() == result.queued, "every due row must give one run"

    reset(hourly_rows)
    naive_started = time.perf_counter()
    naive_runs = naive_tick(top_of_hour + timedelta(seconds=5))
    naive = time.perf_counter() - naive_started
    reset()
    naive_idle_started = time.perf_counter()
    naive_tick(top_of_hour + timedelta(seconds=5))
    naive_idle = time.perf_counter() - naive_idle_started
    reset()

    ten, fifty = results["10k"], results["50k"]
    console.print(f"idle tick                 median {statistics.median(idle) * 1000:8.1f} ms "
                  f"(max {max(idle) * 1000:.1f} ms, 20 ticks)")
    console.print(f"tick, {ten.queued:>6} due runs     {ten.seconds:8.2f} s  ({ten.wakeups} wake-up messages)")
    console.print(f"tick, {fifty.queued:>6} due runs     {fifty.seconds:8.2f} s  ({fifty.wakeups} wake-up messages)")
    console.print(f"naive, {naive_runs:>6} due runs    {naive:8.2f} s  (one message per run)")
    console.print(f"naive idle loop           {naive_idle * 1000:8.1f} ms")
    console.print(f"ratio naive / ours: due {naive / ten.seconds:6.1f}×   idle {naive_idle / statistics.median(idle):6.1f}×")
    return 0


def naive_tick(now) -> int:
    """What a straightforward scheduler does: visit every live site, one query each."""
    from farm.cron.models import ScheduledTask, TaskRun
    from farm.cron.periods import next_boundary
    from farm.cron.tasks import work_task
    from farm.cron.tenants import live_tenants, zone

    count = 0
    for tenant_id, tz_name in live_tenants().values_list("id", "timezone"):
        for task in ScheduledTask.objects.filter(instance_id=tenant_id, enabled=True, next_run_at__lte=now):
            run = TaskRun.objects.create(task=task, period_key=task.next_period_key, scheduled_for=task.next_run_at,
                                         queued_at=now, priority=task.priority)
            task.next_run_at, task.next_period_key = next_boundary(task.schedule, now, zone(tz_name))
            task.save(update_fields=["next_run_at", "next_period_key"])
            work_task.apply_async(kwargs={}, headers={"run_id": run.pk})
            count += 1
    return count


if __name__ == "__main__":
    sys.exit(main())
