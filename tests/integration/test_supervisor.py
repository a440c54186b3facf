"""`farm up`'s supervisor with real processes: one that exits is restarted (with a growing pause, logged)
while the others keep running, the embedded Redis is restarted on its port with its data, and a
SIGTERM stops everything within seconds, even a process that ignores it."""
import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis

from farm.embedded import EmbeddedRedis, _free_port
from farm.settings import BASE_DIR
from farm.supervisor import Supervisor
from tests.conftest import wait_for

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]
CRASHER = [sys.executable, "-c", "import sys; print('crashing', flush=True); sys.exit(3)"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split()[2] == "Z"


@pytest.fixture
def supervised():
    """A supervisor running in a thread (stopped at the end), and its output."""
    out = io.StringIO()
    supervisor = Supervisor(env=dict(os.environ), cwd=str(BASE_DIR), out=out, min_delay=0.5, max_delay=4,
                            stop_timeout=3)
    thread = threading.Thread(target=lambda: supervisor.run(handle_signals=False), daemon=True)
    yield supervisor, out, thread
    supervisor.stop()
    thread.join(timeout=15)


def test_a_process_that_exits_is_restarted_with_a_growing_pause_while_the_others_keep_running(supervised):
    supervisor, out, thread = supervised
    supervisor.add("steady", SLEEPER)
    supervisor.add("flaky", CRASHER)
    thread.start()
    steady = wait_for(lambda: supervisor.pids()["steady"], timeout=10)
    wait_for(lambda: out.getvalue().count("flaky restarting") >= 3, timeout=15)
    log = out.getvalue()
    assert "flaky exited with code 3" in log
    assert "restarting it in 0 s" in log or "restarting it in 1 s" in log
    assert "restarting it in 2 s" in log, "each quick exit doubles the pause"
    assert log.count("flaky  | crashing") >= 2, "its output is relayed, prefixed with its name"
    assert supervisor.pids()["steady"] == steady and _alive(steady)
    supervisor.stop()
    thread.join(timeout=10)
    assert not thread.is_alive() and not _alive(steady)


def test_the_embedded_redis_is_restarted_on_its_port_with_its_data(supervised, tmp_path):
    supervisor, out, thread = supervised
    server = EmbeddedRedis(tmp_path / "redis", _free_port())
    server.start()
    try:
        client = redis.Redis.from_url(server.url)
        client.xadd("hits", {"h": "1"})
        supervisor.watch("redis", server)
        thread.start()
        crashed = server.process.pid
        time.sleep(1.2)  # appendfsync everysec: what was written a second ago is on disk
        os.kill(crashed, signal.SIGKILL)
        wait_for(lambda: server.alive() and server.process.pid != crashed and server._answers(), timeout=20)
        assert client.xlen("hits") == 1
        assert "redis exited; restarting it on the same port and data folder" in out.getvalue()
    finally:
        supervisor.stop()
        thread.join(timeout=15)
        server.stop()


STUBBORN = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print('ignoring SIGTERM', flush=True)
    time.sleep(600)
""")

RUN = textwrap.dedent("""
    import os, sys
    from farm.supervisor import Supervisor
    supervisor = Supervisor(env=dict(os.environ), cwd=os.getcwd(), stop_timeout=2)
    supervisor.add("polite", [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"])
    supervisor.add("stubborn", [sys.executable, "-c", sys.argv[1]])
    sys.exit(supervisor.run())
""")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in found.stdout.split()]


def test_sigterm_stops_every_process_within_seconds_even_one_that_ignores_it():
    farm = subprocess.Popen([sys.executable, "-c", RUN, STUBBORN], cwd=BASE_DIR, stdout=subprocess.PIPE, text=True)
    try:
        children = wait_for(lambda: len(_children(farm.pid)) == 2 and _children(farm.pid), timeout=20)
        wait_for(lambda: "ignoring SIGTERM" in farm.stdout.readline(), timeout=20)
        started = time.monotonic()
        farm.send_signal(signal.SIGTERM)
        assert farm.wait(timeout=15) == 0
        assert time.monotonic() - started < 6
        assert not any(_alive(pid) for pid in children)
        assert "stubborn still running 2 s after SIGTERM; killing it" in farm.stdout.read()
    finally:
        if farm.poll() is None:
            farm.kill()
        for pid in _children(farm.pid):
            os.kill(pid, signal.SIGKILL)

