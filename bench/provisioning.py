"""Benchmark: provisioning by cloning the template vs by running migrations, and "Valider" → ready.

Runs against DATABASE_URL's server in a separate database (`<name>_bench`, recreated each run) and
REDIS_URL, with a real Celery worker process for the validate → ready measurement.

    make bench                                   # embedded services unless URLs are given
    .venv/bin/python bench/provisioning.py -n 20 # against DATABASE_URL / REDIS_URL
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def _ms(values):
    return statistics.median(values) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="instances per method (default 10)")
    args = parser.parse_args()

    from common import django_in_own_database

    django_in_own_database("bench", FARM_CELERY_QUEUE=f"farm-bench-{uuid.uuid4().hex[:6]}")
    from django.core.management import call_command
    from rich.console import Console
    from rich.progress import track

    from farm.celery import app as celery_app
    from instances import provisioning, services
    from instances.models import Instance, SchemaState
    from tests.factories import make_user

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    owner = make_user("bench-owner")
    admin = make_user("bench-admin", superuser=True)
    timings = {"clone": [], "migrate": []}
    # Warm the process (migration graph, clone function) so the first sample is not an outlier.
    provisioning.instance_provision(
        instance_id=services.instance_validate(
            instance=services.instance_request(owner=owner, name="warm", slug="warm-up"), by=admin).pk)

    for i in track(range(args.n * 2), description="provisioning in-process", console=console):
        method = "clone" if i % 2 == 0 else "migrate"
        instance = services.instance_request(owner=owner, name=f"b{i}", slug=f"bench-{method}-{i}")
        instance = services.instance_validate(instance=instance, by=admin)
        started = time.perf_counter()
        done = provisioning.instance_provision(instance_id=instance.pk, method=method)
        timings[method].append(time.perf_counter() - started)
        assert done.schema_state == SchemaState.READY, done.provisioning_error

    worker_name = f"bench-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "farm", "worker", "--loglevel", "WARNING", "--concurrency", "2",
         "-Q", os.environ["FARM_CELERY_QUEUE"], "-n", worker_name],
        cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.inspect(destination=[worker_name], timeout=0.5).ping():
            if time.monotonic() > deadline:
                console.print("[red]the Celery worker did not start")
                return 1
        latencies = []
        for i in track(range(args.n), description="Valider → ready via worker", console=console):
            instance = services.instance_request(owner=owner, name=f"v{i}", slug=f"bench-valider-{i}")
            started = time.perf_counter()
            services.instance_validate(instance=instance, by=admin)
            while Instance.objects.filter(pk=instance.pk).values_list("schema_state", flat=True)[0] != "ready":
                if time.perf_counter() - started > 60:
                    console.print(f"[red]{instance.slug} not ready after 60 s")
                    return 1
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(timeout=30)

    clone, migrate = _ms(timings["clone"]), _ms(timings["migrate"])
    lat = sorted(latencies)
    console.print(f"instances per method: {args.n}")
    console.print(f"provision by clone    median {clone:8.1f} ms   (min {min(timings['clone'])*1000:.1f}, "
                  f"max {max(timings['clone'])*1000:.1f})")
    console.print(f"provision by migrate  median {migrate:8.1f} ms   (min {min(timings['migrate'])*1000:.1f}, "
                  f"max {max(timings['migrate'])*1000:.1f})")
    console.print(f"migrate / clone ratio        {migrate / clone:8.2f}")
    console.print(f"Valider → ready (worker) p50 {_ms(lat):8.1f} ms   p90 {lat[int(len(lat) * 0.9) - 1]*1000:.1f} ms"
                  f"   max {lat[-1]*1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
