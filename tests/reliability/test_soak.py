"""Soak: `farm up` (web, Celery worker, cron-URL worker, Beat) on a PostgreSQL and a Redis of the
test's own, under steady loopback load on the tracking endpoint, a site's dashboard and the Reporting
API, with ingest and the super cron running (the site's archiving every 2 minutes). Each process's
RSS is read every 5 s; after the warm-up its slope (MB a minute, least squares) is reported, the
ingest lag is read from /healthz.

The warm-up is the work each process does once and keeps the cost of: it starts with one hit from
each of the traffic's 2,000 browsers (ingest compiles the patterns an agent needs the first time),
and lasts until each Celery pool process has run the site's archiving once, forced from the
timetable as an admin's "Run now" if the schedule has not got there. A process's first archiving
leaves it 4 to 8 MB bigger for good, its later ones nothing (docs/reliability.md): measured in the
window, that one-off step read as a slope of about 1 MB a minute.

What must hold: no error (no 5xx, no refused connection), the oldest queued hit never older than
60 s, and (long version) every process's RSS growing by at most 1 MB a minute after the warm-up.
Short version in make test (90 s, the slopes printed but not judged: too short to tell a leak from
an allocator settling); `make reliability`: 10 minutes after a warm-up of at least 2 minutes.
"""
import itertools
import json
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import numpy
import pytest

from farm.settings import BASE_DIR
from tests.integration.test_resilience import farm  # noqa: F401  (the fixture: farm up on services of its own)
from tests.reliability.conftest import LONG, scale
from tests.reliability.http import http_get

pytestmark = pytest.mark.worker
WARM_UP, MEASURED = scale((30, 60), (120, 600))
SAMPLE_EVERY = 5.0
ARCHIVED_BY, FORCE_EVERY = 300, 15  # the warm-up's longest extension; a forced archiving run at most so often
MAX_SLOPE_MB_A_MINUTE = 1.0
PROCESSES = (("web", "granian"), ("worker", "celery -A farm worker --loglevel INFO --concurrency"),
             ("crons", "crons@"), ("beat", "celery -A farm beat"))


def _farm_shell(farm, code: str) -> str:
    done = subprocess.run([sys.executable, "-m", "farm.cli", "shell", "-c", code], env=farm["env"], cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _processes(root: int) -> dict[int, str]:
    """Every process under `farm up` with a name: web, worker, crons, beat (and their children)."""
    found = subprocess.run(["ps", "-e", "-ww", "-o", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in found.splitlines() if line.strip()]
    parents = {int(pid): int(ppid) for pid, ppid, *_ in rows}
    args = {int(pid): rest[0] if rest else "" for pid, _ppid, *rest in rows}
    named = {}
    for pid in parents:
        ancestor = pid
        while ancestor in parents and parents[ancestor] != root and ancestor != root:
            ancestor = parents[ancestor]
        if parents.get(ancestor) != root:
            continue
        for name, marker in PROCESSES:
            if marker in args[ancestor]:
                named[pid] = f"{name}{'' if pid == ancestor else ' child'} {pid}"
    return named


def _archivers(farm) -> set[int]:
    """The pids of the processes that have run the site's archiving to the end (a run names its
    worker `host:pid`)."""
    found = farm["postgres"].query(
        "SELECT string_agg(DISTINCT r.worker, ' ') FROM cron_taskrun r JOIN cron_scheduledtask t ON t.id = r.task_id "
        "WHERE t.instance_id IS NOT NULL AND t.name LIKE %s AND r.status = 'succeeded'", "%archive_reports")[0]
    return {int(worker.rpartition(":")[2]) for worker in (found or "").split()}


def _archive_now(farm) -> None:
    """A forced run of the site's archiving, as the admin's "Run now" queues one, and its wake-up."""
    _farm_shell(farm, "from farm.cron import execution; from farm.cron.dispatch import runs_wake; "
                      "from farm.cron.models import ScheduledTask; run = execution.run_now(task=ScheduledTask.objects"
                      ".get(instance__isnull=False, name__endswith='archive_reports')); "
                      "print(run.status, run.status == 'queued' and runs_wake([run.pk]))")


def _rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


class Visitors:
    """Tracking hits as a site's audience sends them: most hits go on a visit of the last minute or
    so (a visitor reading on, or back), the rest open a new visitor; each visitor keeps one browser
    from device-detector's fixture agents, drawn with a long tail. Visits stay a few pages long, as
    on a real site, so the latest visits (Live, the visitor log) keep their size: 50 visitors
    browsing without end instead made every visit grow to the 500 actions Live shows of one, and the
    web workers' memory with it (the first long run, in docs/reliability.md)."""

    GOING_ON = 0.7
    RECENT = 300

    def __init__(self, seed: int = 17):
        from analytics.tracking.agent_corpus import agent_pool

        self.rng = random.Random(seed)
        # NB: those an HTTP header can carry as they are (a few fixtures are apps' non-ASCII names)
        self.agents = [agent for agent, _hints in agent_pool(2100, seed=seed) if agent.isascii()][:2000]
        assert len(self.agents) == 2000
        self.agent_weights = list(itertools.accumulate(1 / rank for rank in range(1, len(self.agents) + 1)))
        self.visitors: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def meet_every_browser(self, port: int) -> None:
        """One hit from each browser of the pool, as part of the warm-up: ingest parses an agent the
        first time it meets it, and keeps what it compiled for that (within bounds: see
        analytics.tracking.detector); the measured part then shows leaks, not that filling."""
        for n, agent in enumerate(self.agents):
            query = urlencode({"idsite": 1, "rec": 1, "send_image": 0, "_id": f"{n:016x}",
                               "url": "https://blog.example/"})
            status, _body = http_get(port, f"/matomo.php?{query}", user_agent=agent)
            assert status == 204, status

    def hit(self, n: int) -> tuple[str, dict]:
        with self.lock:
            if self.visitors and self.rng.random() < self.GOING_ON:
                visitor_id, agent = self.rng.choice(self.visitors[-self.RECENT:])
            else:
                visitor_id = f"{self.rng.getrandbits(64):016x}"
                agent = self.rng.choices(self.agents, cum_weights=self.agent_weights)[0]
                self.visitors.append((visitor_id, agent))
            page = int(self.rng.paretovariate(1.2)) % 500
        return ("/matomo.php?" + urlencode({"idsite": 1, "rec": 1, "send_image": 0, "_id": visitor_id,
                                            "url": f"https://blog.example/soak/{page}", "action_name": f"Page {page}"}),
                {"user_agent": agent})


class Load:
    def __init__(self, port: int, token: str, session: str):
        self.port, self.token, self.session = port, token, session
        self.calls, self.errors, self.done = Counter(), [], threading.Event()

    def call(self, kind: str, path: str, host: str = "localhost", cookie: str = "", user_agent: str = "") -> None:
        status, _body = http_get(self.port, path, host=host, cookie=cookie, user_agent=user_agent)
        self.calls[kind, status] += 1
        if not isinstance(status, int) or status >= 500 or (kind != "track" and status != 200):
            self.errors.append(f"{kind} {path[:80]}: {status}")

    def steady(self, kind: str, per_second: float, make_call) -> None:
        n = 0
        while not self.done.is_set():
            started = time.monotonic()
            path, where = make_call(n)
            self.call(kind, path, **where)
            n += 1
            self.done.wait(max(0.0, 1 / per_second - (time.monotonic() - started)))


def test_steady_load_for_minutes_leaks_nothing_and_loses_nothing(farm):  # noqa: F811
    token = _farm_shell(farm, "from django.contrib.auth.models import User; from instances.tokens import token_create; "
                              "print(token_create(user=User.objects.get(username='admin'))[1])")
    session = _farm_shell(farm, "from django.contrib.auth.models import User; from django.test import Client; "
                                "c = Client(); c.force_login(User.objects.get(username='admin')); "
                                "print(c.cookies['sessionid'].value)")
    # The site's archiving, hourly at a minute of its own, runs every 2 minutes here: a 10-minute
    # window then holds five runs of it, each on a bigger day, instead of one or none by chance.
    assert _farm_shell(farm, "from zoneinfo import ZoneInfo; from django.utils import timezone; "
                      "from farm.cron.models import ScheduledTask; from farm.cron.periods import Schedule, next_boundary; "
                      "from farm.cron.timetable import _schedule_values; schedule = Schedule('minutes', every=2); "
                      "at, key = next_boundary(schedule, timezone.now(), ZoneInfo('UTC')); "
                      "print(ScheduledTask.objects.filter(instance__isnull=False, name__endswith='archive_reports')"
                      ".update(**_schedule_values(schedule), next_run_at=at, next_period_key=key))") == "1"
    load = Load(farm["port"], token, session)
    api = {"module": "API", "idSite": 1, "period": "day", "date": "today", "format": "json", "token_auth": token}
    visitors = Visitors()
    visitors.meet_every_browser(farm["port"])
    streams = [
        ("track", 40, visitors.hit),
        ("api", 2, lambda n: ("/index.php?" + urlencode({**api, "method": ("VisitsSummary.get", "Actions.getPageUrls",
                                                                           "Live.getLastVisitsDetails")[n % 3]}), {})),
        ("dashboard", 1, lambda n: (("/", "/report/Actions.getPageUrls/?period=day&date=today", "/visitor-log/")[n % 3],
                                    {"host": "blog.localhost", "cookie": session})),
    ]
    threads = [threading.Thread(target=load.steady, args=stream, daemon=True) for stream in streams]
    for thread in threads:
        thread.start()
    samples: dict[str, list[tuple[float, float]]] = {}
    lags = []
    started = time.monotonic()
    measured_from, forced_at = None, float("-inf")
    try:
        while measured_from is None or time.monotonic() - started < measured_from + MEASURED:
            moment = time.monotonic() - started
            named = _processes(farm["process"].pid)
            for pid, name in named.items():
                rss = _rss_mb(pid)
                if rss is not None:
                    samples.setdefault(name, []).append((moment, rss))
            with urllib.request.urlopen(f"http://127.0.0.1:{farm['port']}/healthz", timeout=10) as response:
                lags.append(json.load(response)["ingest_lag_seconds"] or 0.0)
            if measured_from is None and moment >= WARM_UP:
                waiting = {pid for pid, name in named.items() if name.startswith("worker child")} - _archivers(farm)
                if not waiting:
                    measured_from = moment
                elif moment > WARM_UP + ARCHIVED_BY:
                    pytest.fail(f"pool processes {waiting} ran no archiving of the site in {moment:.0f} s")
                elif moment - forced_at >= FORCE_EVERY:
                    _archive_now(farm)
                    forced_at = moment
            time.sleep(SAMPLE_EVERY)
    finally:
        load.done.set()
        for thread in threads:
            thread.join(timeout=30)

    slopes = {}
    for name, points in sorted(samples.items()):
        measured = [(t, rss) for t, rss in points if t >= measured_from]
        if len(measured) >= 3:
            slope = numpy.polyfit([t / 60 for t, _ in measured], [rss for _, rss in measured], 1)[0]
            slopes[name] = (round(float(slope), 2), round(measured[0][1]), round(measured[-1][1]))
    print(f"\nsoak: {measured_from:.0f} s warm-up, {MEASURED} s measured; calls {dict(load.calls)}; "
          f"oldest queued hit at most {max(lags):.1f} s; RSS slope MB/min (first, last MB): {slopes}")
    assert not load.errors, load.errors[:10]
    assert max(lags) <= 60
    assert {name.split()[0] for name in slopes} >= {"web", "worker", "crons", "beat"}
    if LONG:
        leaking = {name: slope for name, slope in slopes.items() if slope[0] > MAX_SLOPE_MB_A_MINUTE}
        assert not leaking, leaking
