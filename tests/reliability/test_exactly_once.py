"""Exactly once at scale: two racing "Beats" (processes ticking the same hours), every wake-up sent
by both, two real Celery workers of which one is SIGKILLed at random moments and started again, and
the sweeper running as the super cron runs it. Over SITES × HOURS periods of an hourly task: every
period has exactly one run, and it succeeded — none doubled, none missed.

A run killed between its task's work and its bookkeeping is run again (a second attempt): the
run is still one, but its effect can happen twice, which the test counts and prints. Tasks must be
idempotent for that window (docs/reliability.md says so).

Short version in make test (20 sites × 15 hours = 300 periods); `make reliability`: 100 × 100 = 10,000.
"""
import os
import random
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter

import pytest
from django.conf import settings

from farm.cron import sweeper
from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from tests import cron_tasks
from tests.conftest import _test_database_url, wait_for
from tests.factories import make_instance
from tests.reliability.conftest import scale

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
RECORD = "tests.cron_tasks.record"
SITES, HOURS = scale((20, 15), (100, 100))
ENV = {"FARM_CRON_LEASE_SECONDS": "2"}


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "farm", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "-n", f"chaos-{uuid.uuid4().hex[:6]}@%h", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--without-gossip",
         "--without-mingle"], env=env, cwd=settings.BASE_DIR, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_two_beats_duplicated_wakeups_and_a_killed_worker_run_every_period_exactly_once(transactional_db, settings):
    settings.FARM_CRON_STALE_QUEUED = 2  # queued runs whose wake-up died with a worker are woken again soon
    sites = [make_instance(f"once{i}", state="publie") for i in range(SITES)]
    tasks = list(ScheduledTask.objects.filter(name=RECORD, instance__in=sites))
    start = min(task.next_run_at for task in tasks)
    env = {**os.environ, "DATABASE_URL": _test_database_url(), **ENV}
    workers = [_worker(env), _worker(env)]
    kills, done = Counter(), threading.Event()

    def chaos():  # SIGKILL one worker at a random moment, start a new one at once
        rng = random.Random(17)
        while not done.wait(rng.uniform(0.3, 2.5)):
            n = rng.randrange(len(workers))
            os.killpg(workers[n].pid, signal.SIGKILL)
            workers[n].wait()
            kills["worker"] += 1
            workers[n] = _worker(env)

    killer = threading.Thread(target=chaos, daemon=True)
    beats = []
    try:
        killer.start()
        key = f"once-{uuid.uuid4().hex[:8]}"
        beats += [subprocess.Popen([sys.executable, "-m", "tests.reliability.ticker", start.isoformat(), str(HOURS),
                                   RECORD, "2", key], env=env, cwd=settings.BASE_DIR, start_new_session=True)
                  for _ in range(2)]
        assert [beat.wait(timeout=600) for beat in beats] == [0, 0]

        def finished():
            sweeper.runs_sweep()  # as every super cron tick does
            return not TaskRun.objects.filter(task__in=tasks, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
                                              ).exists()
        wait_for(finished, timeout=scale(300, 1800), interval=1.0)
    finally:
        done.set()
        killer.join(timeout=10)
        for process in workers + beats:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)

    runs = TaskRun.objects.filter(task__in=tasks, forced=False)
    per_period = Counter(runs.values_list("task_id", "period_key"))
    statuses = Counter(runs.values_list("status", flat=True))
    retried = runs.filter(attempt__gt=1).count()
    effects = sum(cron_tasks.calls(site.schema_name) for site in sites)
    print(f"\n{SITES} sites × {HOURS} hours = {SITES * HOURS} periods: {len(per_period)} with a run, "
          f"{sum(n > 1 for n in per_period.values())} doubled; statuses {dict(statuses)}; {kills['worker']} worker "
          f"kills, {retried} runs retried after one; the task's effect ran {effects} times "
          f"({effects - SITES * HOURS} more than the periods)")
    assert len(per_period) == SITES * HOURS, "a period was missed"
    assert set(per_period.values()) == {1}, "a period was run twice"
    assert statuses == {RunStatus.SUCCEEDED: SITES * HOURS}, statuses
    assert SITES * HOURS <= effects <= SITES * HOURS + retried
    assert kills["worker"] >= 1
