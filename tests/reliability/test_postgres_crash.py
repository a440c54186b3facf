"""PostgreSQL crashing in the middle of an archiving run, on a cluster of the test's own.

`farm up` runs on a PostgreSQL and a Redis of the test's own (tests.integration.test_resilience's
fixture) with one site. The site is given weeks of visits, archived once; a tenth of its visits are
then deleted (as a data subject's erasure does) and the same days archived again by the operator's
command. While that second run is writing, PostgreSQL is stopped in "immediate" mode, a crash: no
checkpoint, every session cut, recovery from the write-ahead log when it starts again.

A reader polls the archive table all along, each poll one statement (one snapshot), and must never
see a period half written: each period's reports share one computation (one `computed_at`), its
report count is the catalogue's, and its visits are the old figure or the new one, nothing between.
After the crash some periods are new and the others old; the command stopped with a message, no
traceback; run again, it finishes, and every period then holds the new figures.

The short version (make test) archives 3 weeks, the long one (make reliability) about 3 months.
"""
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from typing import NamedTuple

import psycopg
import pytest

from analytics.reports.archive import containing
from farm.settings import BASE_DIR
from tests.conftest import wait_for
from tests.integration.test_resilience import farm  # noqa: F401  (the fixture: farm up on services of its own)
from tests.reliability.conftest import scale

pytestmark = pytest.mark.worker
DAYS, VISITS = scale((21, 20_000), (90, 150_000))
PERIODS = """SELECT period, start::text, count(*), count(DISTINCT computed_at), max(computed_at),
                    max(CASE WHEN report = 'VisitsSummary.get' THEN (rows -> 0 ->> 'nb_visits')::int END)
             FROM blog.analytics_archive WHERE segment = '' GROUP BY 1, 2"""


def _farm(farm, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "farm.cli", *args], env=farm["env"], cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=timeout)


class Stored(NamedTuple):
    """What is stored of one period: its report count, how many computations they come from, the
    latest one's time, and the period's visits."""
    reports: int
    stamps: int
    stamp: datetime
    visits: int | None


def _periods(url: str) -> dict[tuple[str, str], Stored]:
    with psycopg.connect(url, autocommit=True, connect_timeout=3) as db:
        return {(kind, start): Stored(*rest) for kind, start, *rest in db.execute(PERIODS).fetchall()}


class Reader(threading.Thread):
    """Reads every period's archive again and again, keeping each period's visit figures
    seen and any poll that saw a period half written. A refused connection (PostgreSQL down) is
    counted and tried again."""

    def __init__(self, url: str, reports: int):
        super().__init__(daemon=True)
        self.url, self.reports = url, reports
        self.seen: dict[tuple[str, str], set] = {}
        self.half_written: list = []
        self.polls = self.refused = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                periods = _periods(self.url)
            except psycopg.OperationalError:
                self.refused += 1
                time.sleep(0.05)
                continue
            self.polls += 1
            for key, stored in periods.items():
                if stored.reports != self.reports or stored.stamps != 1:
                    self.half_written.append((key, stored))
                self.seen.setdefault(key, set()).add(stored.visits)
            time.sleep(0.02)


def test_an_archiving_run_cut_by_a_postgres_crash_leaves_no_period_half_written(farm):  # noqa: F811
    url = farm["postgres"].url
    first = date.today() - timedelta(days=DAYS + 1)
    last = date.today() - timedelta(days=2)
    made = _farm(farm, "shell", "-c", (
        "import sys; sys.path.insert(0, 'bench')\n"
        "from datetime import datetime, timezone\n"
        "from instances.models import Instance\nfrom farm.tenancy import in_tenant\nfrom reports_data import generate\n"
        "with in_tenant(Instance.objects.get(schema_name='blog')):\n"
        f"    print(generate(visits={VISITS}, actions_per_visit=3, days={DAYS}, heavy_offset=3,"
        f" start=datetime({first.year}, {first.month}, {first.day}, 6, tzinfo=timezone.utc)))"))
    assert made.returncode == 0, made.stderr[-3000:]
    days = ["archive_reports", "--instance", "blog", "--from", first.isoformat(), "--to", last.isoformat()]
    days_in = {first + timedelta(days=n) for n in range((last - first).days + 1)}
    started = time.monotonic()
    done = _farm(farm, *days)
    assert done.returncode == 0, done.stderr[-3000:]
    one_run = time.monotonic() - started
    covered = ({("day", day.isoformat()) for day in days_in}
               | {(period.kind, period.start.isoformat()) for period in containing(days_in)})
    old = {key: stored for key, stored in _periods(url).items() if key in covered}  # NB: not today's, the cron's
    assert len(old) == len(covered), (sorted(covered - old.keys()), "no archive")
    reports = {stored.reports for stored in old.values()}
    assert len(reports) == 1 and all(stored.visits is not None for stored in old.values()), old
    # a tenth of the visits go (as an erasure deletes them), so every period's new figure differs
    with psycopg.connect(url, autocommit=True) as db:
        for table, column in (("analytics_action", "visit_id"), ("analytics_mediaplay", "visit_id"),
                              ("analytics_visit", "id")):
            # NB: by a hash of the id: the generator puts visits on days by their id's remainders
            db.execute(f"DELETE FROM blog.{table} WHERE abs(hashtext({column}::text)) % 10 = 0")

    reader = Reader(url, reports.pop())
    reader.start()
    run = subprocess.Popen([sys.executable, "-m", "farm.cli", *days], env=farm["env"], cwd=BASE_DIR,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def newer() -> int:
        return sum(1 for key, stored in _periods(url).items() if key in old and stored.stamp != old[key].stamp)

    wait_for(lambda: newer() >= len(old) // 3 or run.poll() is not None, timeout=one_run * 4 + 60, interval=0.02)
    assert run.poll() is None, "the run ended before a third of its periods was written: give it more days"
    crashed = time.monotonic()
    farm["postgres"].crash()
    output, _ = run.communicate(timeout=120)
    farm["postgres"].start()
    back = time.monotonic() - crashed
    after_crash = _periods(url)
    new_after_crash = sum(1 for key in old if after_crash[key].stamp != old[key].stamp)

    rerun = _farm(farm, *days)
    reader.done.set()
    reader.join(timeout=30)
    final = _periods(url)
    print(f"\nPostgreSQL crash mid-archive: {len(old)} periods ({DAYS} days, {VISITS} visits; one run {one_run:.1f} s);"
          f" crashed with {new_after_crash} written anew, the rest old; back in {back:.1f} s;"
          f" {reader.polls} polls, {reader.refused} refused, {len(reader.half_written)} saw a period half written;"
          f" the command said: {output.strip().splitlines()[-2:]}")
    assert not reader.half_written, reader.half_written[:5]
    assert run.returncode != 0 and "Traceback" not in output and "database" in output, output[-3000:]
    assert 0 < new_after_crash < len(old), "the crash came mid-run: some periods new, the others old"
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert final.keys() >= old.keys()
    assert not [key for key in old if final[key].stamp == old[key].stamp], "the second run wrote every period anew"
    for key, seen in reader.seen.items():
        # NB: not the year of today, which the farm's hourly archiving also builds, from whatever
        # months it finds then (a month new and another old is a third figure, and a right one)
        if key in old and not (key[0] == "year" and key[1] == f"{date.today().year}-01-01"):
            assert seen <= {old[key].visits, final[key].visits}, (key, seen)
    assert all(final[key].visits < old[key].visits for key in old if old[key].visits >= 10), \
        "the erasure shows everywhere"
