"""The country of an IP address: ip-to-country's offline registry data, kept as sorted arrays and
searched by bisection.

Why not the library's own lookup: it keeps ~250,000 IPv4 ranges as address objects (~130 MB per
process) and scans its ~68,000 IPv6 networks one by one (~20 ms per IPv6 address). That was
bearable behind a cache of masked addresses; the door now looks up each visitor's full address
(Matomo's default), which no cache helps with and which must not be kept anyway. Here a lookup is
one bisection (2–4 µs) over ~4 MB.

Building the arrays from the library's pickles takes 3–8 s and leaves over 100 MB of heap behind, too
much for every process: the first process to need them writes them to a small binary file in
the user's cache directory (FARM_COUNTRY_CACHE_DIR, default ~/.cache/farm), keyed by the library's
version; every later process reads that in a few tens of milliseconds.

That first process builds the file in a short-lived Python process of its own, then reads it as
the others do. Built in place, the pickles' objects, freed, stayed in its heap for its whole life:
a process reading the table from the file grows by 11 MB, one building it grew by 137 MB (96 →
233 MB; 216 MB after `malloc_trim`). That was the Celery worker of every fresh machine or
container's first `farm up` (ip-to-country is first used by its warm-up, before the pool forks,
so each pool process started with it too) and, after an upgrade of ip-to-country, of the first
start after it. A lock on the file keeps processes starting together from building it twice.
Where the cache folder cannot be written, each process builds its own table in place, as before.
"""
import fcntl
import logging
import os
import subprocess
import sys
import tempfile
import threading
from array import array
from bisect import bisect_right
from importlib.metadata import version
from pathlib import Path
from socket import AF_INET, AF_INET6, inet_pton

from farm.conf import farm_setting

logger = logging.getLogger(__name__)
_MAGIC = b"farm-country-1\n"
_tables: dict[int, tuple] | None = None
_lock = threading.Lock()
_PROJECT = Path(__file__).resolve().parents[2]  # where `-m analytics...` is found, whatever the caller's folder


def _cache_file() -> Path:
    folder = farm_setting("FARM_COUNTRY_CACHE_DIR") or Path.home() / ".cache" / "farm"
    return Path(folder) / f"ip-to-country-{version('ip-to-country')}.bin"


def _from_library() -> dict[int, tuple]:
    from ip_to_country import IpToCountry

    data = IpToCountry()
    # NB: the registries' ranges do not overlap (none do in the shipped data), so the range
    # starting at or before an address is the only one that can hold it.
    v4 = sorted((int(start), int(end), code[:2]) for start, end, code in data.ipv4_ranges)
    v6 = sorted((int(net.network_address), int(net.broadcast_address), code[:2]) for net, code in data.ipv6_ranges)
    return {4: (array("I", (r[0] for r in v4)), array("I", (r[1] for r in v4)), [r[2] for r in v4]),
            6: ([r[0] for r in v6], [r[1] for r in v6], [r[2] for r in v6])}


def _encode(tables: dict[int, tuple]) -> bytes:
    (starts4, ends4, codes4), (starts6, ends6, codes6) = tables[4], tables[6]
    parts = [_MAGIC, len(codes4).to_bytes(4, "big"), len(codes6).to_bytes(4, "big"), starts4.tobytes(),
             ends4.tobytes(), "".join(code.ljust(2) for code in codes4).encode("ascii")]
    parts += [b"".join(value.to_bytes(16, "big") for value in starts6 + ends6),
              "".join(code.ljust(2) for code in codes6).encode("ascii")]
    return b"".join(parts)


def _codes(blob: bytes, at: int, count: int, names: dict) -> list[str]:
    texts = (blob[i:i + 2].decode("ascii") for i in range(at, at + 2 * count, 2))
    return [names.setdefault(text, text.strip()) for text in texts]


def _decode(blob: bytes) -> dict[int, tuple]:
    """The tables from `_encode`'s bytes; raises ValueError on a file that is not one."""
    if not blob.startswith(_MAGIC):
        raise ValueError("not a country table")
    at = len(_MAGIC)
    n4, n6 = int.from_bytes(blob[at:at + 4], "big"), int.from_bytes(blob[at + 4:at + 8], "big")
    at += 8
    if len(blob) != at + n4 * 10 + n6 * 34:
        raise ValueError("truncated country table")
    starts4, ends4 = array("I"), array("I")
    starts4.frombytes(blob[at:at + 4 * n4])
    ends4.frombytes(blob[at + 4 * n4:at + 8 * n4])
    at += 8 * n4
    names = {}  # one string object per country, not one per range
    codes4 = _codes(blob, at, n4, names)
    at += 2 * n4
    bounds6 = [int.from_bytes(blob[i:i + 16], "big") for i in range(at, at + 32 * n6, 16)]
    at += 32 * n6
    codes6 = _codes(blob, at, n6, names)
    return {4: (starts4, ends4, codes4), 6: (bounds6[:n6], bounds6[n6:], codes6)}


def _read(path: Path) -> dict[int, tuple] | None:
    try:
        return _decode(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError):
        return None  # not written yet, or unreadable


def _write(path: Path, tables: dict[int, tuple]) -> None:
    """Write the table file; raises OSError where it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
        out.write(_encode(tables))
    os.replace(out.name, path)  # NB: atomic: a process reading meanwhile never sees half a file


def _written_apart(path: Path) -> bool:
    """Have a process of its own build and write the file (one at a time: a lock next to it);
    whether it did. Its memory goes with it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # NB: released when the file closes
            if path.exists():
                return True  # written by another process while this one waited
            done = subprocess.run([sys.executable, "-m", __name__, str(path)], capture_output=True, text=True,
                                  timeout=300, cwd=_PROJECT)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("could not build the country table in %s apart (%s)", path, exc)
        return False
    if done.returncode != 0:
        logger.warning("could not build the country table in %s apart: %s", path, done.stderr.strip()[-500:])
    return done.returncode == 0


def _build() -> dict[int, tuple]:
    path = _cache_file()
    tables = _read(path)
    if tables is None and _written_apart(path):
        tables = _read(path)
    if tables is not None:
        return tables
    tables = _from_library()
    try:
        _write(path, tables)
    except OSError as exc:
        logger.warning("could not keep the country table in %s (%s); each process will build its own", path, exc)
    return tables


def _loaded() -> dict[int, tuple]:
    global _tables
    if _tables is None:
        with _lock:  # granian's blocking threads: build once, not once per thread
            if _tables is None:
                _tables = _build()
    return _tables


def country_of(address: str | None) -> str:
    """Two-letter country code of an address, "" when unknown, private, or not an address."""
    if not address:
        return ""
    # NB: inet_pton, not ipaddress: a tenth of the time, and the door's addresses are canonical
    # already (analytics.tracking.params.IpAddress, or the server's REMOTE_ADDR).
    try:
        packed, family = inet_pton(AF_INET, address), 4
    except OSError:
        try:
            packed, family = inet_pton(AF_INET6, address), 6
        except OSError:
            return ""
    starts, ends, codes = _loaded()[family]
    value = int.from_bytes(packed, "big")
    index = bisect_right(starts, value) - 1
    return codes[index] if index >= 0 and value <= ends[index] else ""


if __name__ == "__main__":  # the process apart of _written_apart: python -m analytics.tracking.country FILE
    _write(Path(sys.argv[1]), _from_library())
