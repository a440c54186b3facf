"""The process supervisor of `farm up`: runs the farm's processes, restarts one that exits, stops all on a signal.

A process that exits on its own (a worker killed by a broker outage, the web after a crash) is
started again after a pause that doubles with each quick failure (1 s, 2 s, 4 s … 30 s) and is
forgotten once it has run a while, and each restart is logged; the other processes keep running.
Honcho's manager, which this replaces, stopped the whole farm when any one process exited.
SIGINT (Ctrl-C) or SIGTERM stops everything: SIGTERM to each process, SIGKILL to what is left
after `stop_timeout`.
"""
import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol, TextIO

logger = logging.getLogger("farm.supervisor")

class Service(Protocol):
    """A service the supervisor keeps running in-process (the embedded Redis)."""

    def alive(self) -> bool: ...

    def start(self) -> None: ...


@dataclass
class _Program:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    readers: list[threading.Thread] = field(default_factory=list)


@dataclass
class _Watched:
    name: str
    service: Service
    quick_failures: int = 0
    restart_at: float | None = None


class Supervisor:
    """Runs commands with prefixed output and keeps them running until told to stop."""

    def __init__(self, *, env: dict, cwd: str, out: TextIO | None = None, min_delay: float = 1.0,
                 max_delay: float = 30.0, steady_seconds: float = 30.0, stop_timeout: float = 10.0):
        self.env, self.cwd, self.out = env, cwd, out or sys.stdout
        self.min_delay, self.max_delay = min_delay, max_delay
        self.steady_seconds, self.stop_timeout = steady_seconds, stop_timeout
        self._programs: list[_Program] = []
        self._watched: list[_Watched] = []
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()

    def add(self, name: str, argv: list[str]) -> None:
        self._programs.append(_Program(name, argv))

    def watch(self, name: str, service: Service) -> None:
        """Restart `service` (already started) whenever it is found dead."""
        self._watched.append(_Watched(name, service))

    def stop(self) -> None:
        """Ask run() to stop everything and return (safe from a signal handler or another thread)."""
        self._stopping.set()

    def pids(self) -> dict[str, int | None]:
        """Each program's current pid (None while it waits to be restarted)."""
        return {p.name: p.process.pid if p.process and p.process.poll() is None else None for p in self._programs}

    def run(self, *, handle_signals: bool = True) -> int:
        """Start every program and supervise them until stop() or SIGINT/SIGTERM; returns 0."""
        previous = {}
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda *_args: self._stopping.set())
        try:
            for program in self._programs:
                self._start(program)
            while not self._stopping.wait(0.2):
                now = time.monotonic()
                for program in self._programs:
                    self._check(program, now)
                for watched in self._watched:
                    self._check_service(watched, now)
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _delay(self, failures: int) -> float:
        return min(self.max_delay, self.min_delay * 2 ** (failures - 1))

    def _start(self, program: _Program) -> None:
        program.restart_at = None
        program.process = subprocess.Popen(
            program.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # NB: in our process group, like the embedded Redis: a Ctrl-C or a SIGKILL of the group stops all
        program.started_at = time.monotonic()
        reader = threading.Thread(target=self._relay, args=(program.name, program.process.stdout), daemon=True)
        reader.start()
        program.readers = [r for r in program.readers if r.is_alive()] + [reader]

    def _check(self, program: _Program, now: float) -> None:
        if program.restart_at is not None:
            if now >= program.restart_at:
                self._log(program.name, f"restarting (restart after {program.quick_failures} quick exit(s) in a row)"
                          if program.quick_failures > 1 else "restarting")
                self._start(program)
            return
        code = program.process.poll()
        if code is None:
            return
        ran = now - program.started_at
        program.quick_failures = 1 if ran >= self.steady_seconds else program.quick_failures + 1
        delay = self._delay(program.quick_failures)
        program.restart_at = now + delay
        self._log(program.name, f"exited with code {code} after {ran:.1f} s; restarting it in {delay:.0f} s")

    def _check_service(self, watched: _Watched, now: float) -> None:
        if watched.restart_at is None:
            if watched.service.alive():
                return
            watched.quick_failures += 1
            delay = 0.0 if watched.quick_failures == 1 else self._delay(watched.quick_failures - 1)
            watched.restart_at = now + delay
            self._log(watched.name, f"exited; restarting it on the same port and data folder in {delay:.0f} s")
        if now < watched.restart_at:
            return
        try:
            watched.service.start()
        except Exception as exc:  # its own error (it says where its log is); tried again after a pause
            watched.quick_failures += 1
            watched.restart_at = time.monotonic() + self._delay(watched.quick_failures - 1)
            self._log(watched.name, f"could not restart ({exc}); trying again")
            return
        watched.restart_at = None
        watched.quick_failures = 0
        self._log(watched.name, "restarted")

    def _stop_all(self) -> None:
        running = [p for p in self._programs if p.process is not None and p.process.poll() is None]
        for program in running:
            self._log(program.name, "stopping")
            self._signal(program, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for program in running:
            try:
                program.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._log(program.name, f"still running {self.stop_timeout:.0f} s after SIGTERM; killing it")
        for program in self._programs:
            if program.process is not None and program.process.poll() is None:
                self._signal(program, signal.SIGKILL)
                program.process.wait()
        for program in self._programs:
            for reader in program.readers:
                reader.join(timeout=1)

    @staticmethod
    def _signal(program: _Program, signum: int) -> None:
        try:
            program.process.send_signal(signum)
        except ProcessLookupError:
            pass

    def _relay(self, name: str, stream) -> None:
        """Copy a program's output to ours, each line prefixed with the time and its name."""
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._write_lock:
                self.out.write(f"{time.strftime('%H:%M:%S')} {name:<7}| {line}\n")
                self.out.flush()
        stream.close()

    def _log(self, name: str, message: str) -> None:
        with self._write_lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {'farm':<7}| {name} {message}\n")
            self.out.flush()
        logger.debug("%s %s", name, message)
