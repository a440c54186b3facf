"""What a power loss under Redis would lose of the accepted hits, measured on the real system calls.

A machine that loses power keeps only what reached the disk: with `appendfsync everysec` (as the
farm runs Redis), the append-only file's bytes up to its last completed fdatasync. This machine
cannot lose power under a test, so the test watches Redis's own system calls instead (strace on the
running server of `farm up`): every write(2) to the append-only file with its bytes, and every
fdatasync with when it began and ended. At any moment T of the traffic, the file a power loss would
leave is the bytes written before the start of the last fdatasync finished by T (the worst case:
the kernel wrote back nothing of its own meanwhile).

For each of thousands of moments T (every 5 ms), a hit is lost at T when its tracking request had
been answered (204) by T, its XADD lies beyond that durable prefix, and ingest had not yet stored it
in PostgreSQL by T (PostgreSQL commits are durable; stored hits are read every 100 ms, so a hit is
counted stored when first seen, later than it was). What comes back after such a restart is the
stream as the file has it: entries already stored go through ingest again and are dropped by their
hit id (exactly once, tested elsewhere).

The same trace tells what a SIGKILL of Redis alone could lose: hits answered but not yet written to
the file. Redis writes a command before it answers, except when an fdatasync still runs: then it
postpones its writes, up to 2 s, and answers meanwhile (flushAppendOnlyFile in Redis's aof.c).

What must hold: every accepted hit is in the file in the end, and every hit lost at a moment T was
answered within the 2 s before T (Redis's bound for everysec). The figures are printed (-s).
"""
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy
import pytest

from tests.integration.test_resilience import Traffic, farm  # noqa: F401  (the fixture: farm up on services of its own)
from tests.reliability.conftest import scale

pytestmark = pytest.mark.worker
TRAFFIC_SECONDS = scale(15, 120)
EVERY_SECOND_BOUND = 2.0
TAG = "power"
_CALL = re.compile(r'^(?P<at>\d+\.\d+) (?P<call>write|fdatasync|fsync)\(\d+<(?P<path>[^>]*)>'
                   r'(?:, "(?P<data>[^"]*)", \d+)?\) = (?P<ret>-?\d+)(?: \w+ \([^)]*\))? <(?P<took>[\d.]+)>$')


def _hex(escaped: str) -> bytes:
    return bytes.fromhex(escaped.replace("\\x", ""))


class AppendOnlyFileTrace:
    """strace attached to a running Redis (every thread), recording writes and syncs of its files."""

    def __init__(self, pid: int):
        self.folder = Path(tempfile.mkdtemp(prefix="farm-aof-trace-"))
        self.log = self.folder / "strace.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["strace", "-f", "-ff", "-p", str(pid), "-o", str(self.folder / "trace"), "-ttt", "-T", "-y", "-xx",
                 "-s", str(2**22), "-e", "trace=write,fdatasync,fsync"],
                stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while "attached" not in self.log.read_text() and self.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if "attached" not in self.log.read_text():
            self.stop()
            pytest.skip(f"strace could not attach to Redis here: {self.log.read_text()[-300:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # strace detaches and leaves Redis running
            self.process.wait(timeout=30)

    def calls(self) -> list[tuple[float, float, str, str, bytes]]:
        """(began, ended, call, file, bytes written) for the append-only file, in the order they began."""
        found = []
        for trace in self.folder.glob("trace.*"):
            for line in trace.read_text().splitlines():
                match = _CALL.match(line)
                if not match:
                    continue
                path = _hex(match["path"]).decode()
                if not path.endswith(".aof"):
                    continue
                data = _hex(match["data"]) if match["data"] is not None else b""
                assert match["call"] != "write" or int(match["ret"]) == len(data), f"a short or cut write: {line[:200]}"
                began = float(match["at"])
                found.append((began, began + float(match["took"]), match["call"], path, data))
        return sorted(found)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def _commands(stream: bytes):
    """(end offset, command bytes) of each command in the RESP stream of an append-only file."""
    at = 0
    while at < len(stream):
        assert stream[at:at + 1] == b"*", f"not a command at byte {at}: {stream[at:at + 40]!r}"
        line_end = stream.index(b"\r\n", at)
        start, at = at, line_end + 2
        for _ in range(int(stream[start + 1:line_end])):
            line_end = stream.index(b"\r\n", at)
            at = line_end + 2 + int(stream[at + 1:line_end]) + 2
        yield at, stream[start:at]


class StoredWatch(threading.Thread):
    """When each hit of the traffic was first seen stored in PostgreSQL (read every 100 ms)."""

    def __init__(self, farm):  # noqa: F811
        super().__init__(daemon=True)
        self.postgres, self.seen, self.done = farm["postgres"], {}, threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres.url, autocommit=True) as db:
            while not self.done.is_set():
                now = time.time()
                for (url,) in db.execute("SELECT url FROM blog.analytics_action WHERE url LIKE %s",
                                         [f"https://blog.example/{TAG}/%"]):
                    self.seen.setdefault(int(url.rsplit("/", 1)[1]), now)
                self.done.wait(0.1)


def test_a_power_loss_under_redis_loses_at_most_the_last_seconds_accepted(farm):  # noqa: F811
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = AppendOnlyFileTrace(farm["redis"].process.pid)
    watch = StoredWatch(farm)
    watch.start()
    try:
        traffic = Traffic(farm["port"], TAG)
        clock = time.time() - time.monotonic()
        traffic.start()
        time.sleep(TRAFFIC_SECONDS)
        traffic.stop()
        accepted = {n: clock + sent + took for n, status, took, sent in traffic.answers if status == 204}
        deadline = time.monotonic() + 60
        while not set(accepted) <= set(watch.seen) and time.monotonic() < deadline:
            time.sleep(0.2)
        trace.stop()
        calls = trace.calls()
    finally:
        watch.done.set()
        watch.join(timeout=10)
        trace.cleanup()
    assert set(accepted) <= set(watch.seen), "every accepted hit is stored in the end"
    files = {path for _b, _e, _c, path, _d in calls}
    assert len(files) == 1, f"one append-only file during the traffic (a rewrite would start another): {files}"

    # the file's bytes as written, each write's end offset and end time; the durable prefix after each sync
    # (writes come from Redis's main thread one after another: their end times and offsets both grow)
    file_bytes, offsets, write_ended = bytearray(), [], []
    for _began, ended, call, _path, data in calls:
        if call == "write":
            file_bytes += data
            offsets.append(len(file_bytes))
            write_ended.append(ended)
    durable_after = []
    for began, ended, call, _path, _data in calls:
        if call != "write":
            done = int(numpy.searchsorted(write_ended, began, side="right"))  # writes finished as the sync began
            durable_after.append((ended, offsets[done - 1] if done else 0))
    in_file = {}
    for end, command in _commands(bytes(file_bytes)):
        found = re.search(rb"blog\.example/" + TAG.encode() + rb"/(\d+)", command)
        if found and b"xadd" in command[:20].lower():
            in_file.setdefault(int(found[1]), end)
    assert set(accepted) <= set(in_file), f"accepted hits not in Redis's file: {sorted(set(accepted) - set(in_file))[:10]}"
    written_at = {n: write_ended[int(numpy.searchsorted(offsets, end))] for n, end in in_file.items()}

    hits = sorted(accepted)
    answered = numpy.array([accepted[n] for n in hits])
    offset = numpy.array([in_file[n] for n in hits])
    written = numpy.array([written_at[n] for n in hits])
    stored = numpy.array([watch.seen[n] for n in hits])
    syncs = sorted(durable_after)
    sync_times = numpy.array([at for at, _ in syncs])
    sync_prefix = numpy.maximum.accumulate(numpy.array([prefix for _, prefix in syncs]))
    power, killed, oldest = [], [], 0.0
    for cut in numpy.arange(answered.min() + 1.0, answered.max(), 0.005):
        synced = numpy.searchsorted(sync_times, cut, side="right")
        durable = sync_prefix[synced - 1] if synced else 0
        waiting = (answered <= cut) & (stored > cut)  # accepted, not in PostgreSQL yet
        lost = waiting & (offset > durable)
        power.append(int(lost.sum()))
        killed.append(int((waiting & (written > cut)).sum()))
        if lost.any():
            oldest = max(oldest, float(cut - answered[lost].min()))
    gaps, power, killed = numpy.diff(sync_times), numpy.array(power), numpy.array(killed)
    early = written > answered
    rate = len(hits) / (answered.max() - answered.min())
    print(f"\nRedis power loss (simulated from its system calls): {len(hits)} hits accepted at {rate:.1f}/s, "
          f"{len(syncs)} fdatasyncs (gap between them: median {numpy.median(gaps):.2f} s, max {gaps.max():.2f} s); "
          f"over {len(power)} moments: hits lost at most {power.max()}, mean {power.mean():.1f}, "
          f"none lost at {(power == 0).mean():.0%} of them; oldest lost hit answered {oldest:.2f} s before "
          f"the cut. Answered before Redis wrote them to its file (a write postponed behind a running fdatasync): "
          f"{early.sum()} of {len(hits)}, by at most {max(0.0, float((written - answered).max())) * 1000:.0f} ms; "
          f"what a SIGKILL would lose: at most {killed.max()} hit(s), at {(killed > 0).sum()} of the moments")
    assert oldest <= EVERY_SECOND_BOUND
    assert (written - answered).max() <= EVERY_SECOND_BOUND
