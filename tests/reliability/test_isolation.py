"""Tenant isolation under concurrency: many sites, the farm's real web server (granian, as make up
runs it) and a real Celery worker, and concurrent requests mixing dashboards, Reporting API calls,
tracking and cron runs across the sites. Each site's data carries a marker of its own (in its page
URLs and titles); every answer is searched for markers, and must show only its own site's, and
every stored row only its schema's site's. A `search_path` left over from another request on a
reused connection, thread or worker process would show up as a foreign marker.

Short version in make test (8 sites, 15 s); `make reliability`: 50 sites for 2 minutes.
"""
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from analytics.reports.archive import archive_run
from analytics.tracking import queue
from farm.cli import _programs
from farm.cron import execution
from farm.cron.dispatch import runs_wake
from farm.cron.models import ScheduledTask, TaskRun
from farm.embedded import _free_port
from farm.tenancy import in_tenant
from instances.tokens import token_create
from tests.conftest import _test_database_url, wait_for
from tests.factories import make_instance, make_user
from tests.reliability.conftest import scale
from tests.reliability.http import http_get

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SITES = scale(8, 50)
SECONDS = scale(15, 120)
THREADS = 12
MARKER = re.compile(r"zq(\d{3})qz")
ARCHIVE = "analytics.reports.tasks.archive_reports"


def marker(n: int) -> str:
    return f"zq{n:03d}qz"


@pytest.fixture
def web(transactional_db, celery_worker_process):
    """granian with make up's command line, on the test database and the run's own queues."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "DEBUG": "0", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(_programs(env, host="127.0.0.1", port=str(port))["web"], env=env,
                               cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                               start_new_session=True)

    def answers():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except (OSError, urllib.error.HTTPError):
            return process.poll() is not None
    wait_for(answers, timeout=60, interval=0.2)
    assert process.poll() is None, "granian exited at start"
    yield port
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


class Site:
    def __init__(self, n: int):
        self.n, self.marker = n, marker(n)
        self.owner = make_user(f"iso-owner{n}")
        self.instance = make_instance(f"iso{n}", owner=self.owner, state="publie")
        self.token = token_create(user=self.owner)[1]
        client = Client()
        client.force_login(self.owner)
        self.session = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.host = f"iso{n}.{settings.FARM_DOMAIN}"

    def hit(self, k: int) -> dict:
        return {"idsite": self.instance.pk, "rec": 1, "_id": f"{self.n:08x}{k % 7:08x}", "send_image": 0,
                "url": f"https://iso{self.n}.example.org/{self.marker}/page{k % 5}",
                "action_name": f"Page {k % 5} of {self.marker}"}


class Load:
    """The mixed traffic: each call returns (what, status, body) and is checked by `check`."""

    def __init__(self, port: int, sites: list[Site]):
        self.port, self.sites = port, sites
        self.day = timezone.now().date().isoformat()  # NB: the seed hits' day, even if the run crosses midnight
        self.counts, self.problems, self.lock = Counter(), [], threading.Lock()
        self.sent_hits = Counter()

    def get(self, path: str, *, host: str = "localhost", cookie: str = ""):
        return http_get(self.port, path, host=host, cookie=cookie)

    def api(self, site: Site, idsite: int, method: str) -> tuple[int, str]:
        query = {"module": "API", "method": method, "idSite": idsite, "period": "day", "date": self.day,
                 "format": "json", "flat": 1, "token_auth": site.token}
        return self.get("/index.php?" + urlencode(query))

    def one(self, rng: random.Random) -> None:
        site = rng.choice(self.sites)
        other = rng.choice([s for s in self.sites if s is not site])
        kind = rng.choice(["api", "api-other", "live", "dashboard", "dashboard-other", "visitor-log", "track",
                           "track", "cron"])
        allowed = {site.n}
        if kind == "api":
            status, body = self.api(site, site.instance.pk, "Actions.getPageUrls")
            expect_own = status == 200
        elif kind == "api-other":  # a token of one site's owner asking for another site
            status, body = self.api(site, other.instance.pk, "Actions.getPageUrls")
            expect_own = False
            if '"result":"error"' not in body.replace(" ", ""):
                self.problem(kind, site, f"another site's report answered: {status} {body[:200]}")
        elif kind == "live":
            status, body = self.api(site, site.instance.pk, "Live.getLastVisitsDetails")
            expect_own = status == 200
        elif kind in ("dashboard", "visitor-log"):
            path = f"/report/Actions.getPageUrls/?period=day&date={self.day}" if kind == "dashboard" else "/visitor-log/"
            status, body = self.get(path, host=site.host, cookie=site.session)
            expect_own = status == 200
        elif kind == "dashboard-other":  # one site's owner on another site's dashboard
            status, body = self.get(f"/report/Actions.getPageUrls/?period=day&date={self.day}", host=other.host,
                                    cookie=site.session)
            expect_own = False
            if status == 200 and marker(other.n) in body:
                self.problem(kind, site, "another site's dashboard opened")
        elif kind == "track":
            k = rng.randrange(1_000_000)
            status, body = self.get("/matomo.php?" + urlencode(site.hit(k)))
            expect_own = False
            if status in (200, 204):
                with self.lock:
                    self.sent_hits[site.n] += 1
        else:  # a cron run of the site's archiving, asked now and executed by the worker
            task = ScheduledTask.objects.get(instance=site.instance, name=ARCHIVE)
            run = execution.run_now(task=task)
            if run.status == "queued":
                runs_wake([run.pk])  # as the site's "run now" button does
            connection.close()  # NB: this thread's own connection
            status, body, expect_own = 0, "", False
        self.check(kind, site, status, body, allowed, expect_own)

    def check(self, kind, site, status, body, allowed, expect_own) -> None:
        with self.lock:
            self.counts[kind, status] += 1
        if not isinstance(status, int) or status >= 500:
            self.problem(kind, site, f"answered {status}: {body[:200]}")
        foreign = {int(found) for found in MARKER.findall(body)} - allowed
        if foreign:
            self.problem(kind, site, f"carried the data of sites {sorted(foreign)}")
        if expect_own and site.marker not in body:
            self.problem(kind, site, f"did not carry its own data: {body[:200]}")

    def problem(self, kind, site, what) -> None:
        with self.lock:
            self.problems.append(f"{kind} for site {site.n}: {what}")


def test_no_answer_or_row_ever_carries_another_sites_data(web):
    sites = [Site(n) for n in range(SITES)]
    load = Load(web, sites)
    for site in sites:  # a first page of each, stored and archived, so every read has data to show
        for k in range(5):
            assert load.get("/matomo.php?" + urlencode(site.hit(k)))[0] in (200, 204)
    wait_for(lambda: queue.queue_depth()["queued"] == 0, timeout=60)
    for site in sites:
        with in_tenant(site.instance):
            archive_run()

    deadline = time.monotonic() + SECONDS

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            load.one(rng)
        connection.close()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    wait_for(lambda: queue.queue_depth()["queued"] == 0, timeout=120)
    wait_for(lambda: not TaskRun.objects.filter(status__in=["queued", "running"]).exists(), timeout=180)

    # every row each schema stored carries its own site's marker only
    for site in sites:
        with in_tenant(site.instance), connection.cursor() as cursor:
            cursor.execute("SELECT url FROM analytics_action WHERE url <> '' UNION ALL "
                           "SELECT entry_url FROM analytics_visit")
            found = {int(m) for (url,) in cursor.fetchall() for m in MARKER.findall(url)}
            assert found <= {site.n}, f"site {site.n}'s schema holds rows of sites {sorted(found - {site.n})}"
            cursor.execute("SELECT count(*) FROM analytics_action WHERE url LIKE %s", [f"%{site.marker}%"])
            assert cursor.fetchone()[0] >= 5 + load.sent_hits[site.n], "an accepted hit is missing"
    failed_runs = TaskRun.objects.filter(status="failed").values_list("error", flat=True)
    print(f"\n{SITES} sites, {SECONDS} s, {THREADS} threads: {sum(load.counts.values())} calls "
          f"({dict(sorted(Counter(kind for kind, _status in load.counts.elements()).items()))}); "
          f"statuses {dict(Counter(status for _kind, status in load.counts.elements()))}; "
          f"{sum(load.sent_hits.values())} hits; {TaskRun.objects.filter(status='succeeded').count()} runs succeeded")
    assert not load.problems, load.problems[:10]
    assert not list(failed_runs), list(failed_runs)[:3]
