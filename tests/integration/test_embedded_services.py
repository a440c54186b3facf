"""The embedded services as a newcomer meets them: no URLs, no state folder, then a crash and a restart.

Each test starts its own PostgreSQL and Redis under a temporary state folder (never the machine's)
through `farm with-services`, exactly as `make test` and `make up` do without DATABASE_URL/REDIS_URL.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from farm.settings import BASE_DIR

# Run inside `farm with-services`: one row more in PostgreSQL, one more in Redis, both counts printed;
# then, if asked, say so in a file and wait to be killed.
VISIT = """
import json, os, sys, time, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
    db.execute("CREATE TABLE IF NOT EXISTS visits (n int)")
    db.execute("INSERT INTO visits VALUES (1)")
    rows = db.execute("SELECT count(*) FROM visits").fetchone()[0]
r = redis.Redis.from_url(os.environ["REDIS_URL"])
r.xadd("hits", {"n": "1"})
print(json.dumps({"rows": rows, "hits": r.xlen("hits"), "aof": r.config_get("appendonly")["appendonly"]}))
sys.stdout.flush()
if len(sys.argv) > 1:
    open(sys.argv[1], "w").close()
    time.sleep(300)
"""


def _env(state: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "FARM_STATE_DIR": str(state)}


def _with_services(state: Path, *extra: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "farm.cli", "with-services", "--", sys.executable, "-c", VISIT, *extra]
    return subprocess.Popen(command, env=_env(state), cwd=BASE_DIR, stdout=subprocess.PIPE, text=True, **popen)


def _visit(state: Path) -> dict:
    proc = _with_services(state)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return json.loads(out.strip().splitlines()[-1])


def _postgres_running(state: Path) -> bool:
    found = subprocess.run(["pgrep", "-f", str(state / "postgres")], capture_output=True)
    return found.returncode == 0


@pytest.fixture
def state():
    """A state folder that does not exist yet, nor its parents. NB: not under pytest's tmp_path,
    whose root pytest keeps private to its user: PostgreSQL runs as its own user when we are root."""
    root = Path(tempfile.mkdtemp(prefix="farm-embedded-"))
    folder = root / "fresh" / "clone" / ".state"
    yield folder
    subprocess.run(["pkill", "-KILL", "-f", str(folder)], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def test_with_services_creates_the_state_folder_and_a_second_start_reuses_the_data(state):
    first = _visit(state)
    assert first == {"rows": 1, "hits": 1, "aof": "yes"}
    assert not _postgres_running(state), "PostgreSQL must stop with the command"
    assert _visit(state) == {"rows": 2, "hits": 2, "aof": "yes"}


def _start_and_crash(state: Path, marker: Path, *, everything: bool) -> None:
    """Start the services with a command that waits, then SIGKILL the farm's process group, and with
    `everything` every process of the state folder (PostgreSQL, which runs as its own user, included)."""
    crashed = _with_services(state, str(marker), start_new_session=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert crashed.poll() is None and time.monotonic() < deadline, "the services never got ready"
        time.sleep(0.1)
    os.killpg(crashed.pid, signal.SIGKILL)
    if everything:
        subprocess.run(["pkill", "-KILL", "-f", str(state)], capture_output=True)
    crashed.wait()
    marker.unlink()
    time.sleep(0.5)


def test_after_a_crash_the_next_start_is_clean_and_keeps_what_was_written(state):
    marker = state.parent / "ready"
    _start_and_crash(state, marker, everything=False)  # PostgreSQL survives its farm: reused, then stopped
    assert _visit(state) == {"rows": 2, "hits": 2, "aof": "yes"}
    assert not _postgres_running(state)

    _start_and_crash(state, marker, everything=True)
    pid_file = state / "postgres" / "postmaster.pid"
    assert pid_file.exists(), "a SIGKILLed PostgreSQL leaves its postmaster.pid"
    # pids are reused: make the stale file name a live process that is not PostgreSQL
    lines = pid_file.read_text().split("\n")
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]))
    assert _visit(state) == {"rows": 4, "hits": 4, "aof": "yes"}
    assert not _postgres_running(state)
