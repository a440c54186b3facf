"""The country of an IP address: ip-to-country's offline registry data, kept as sorted arrays and
searched by bisection.

Why not the library's own lookup: it keeps ~250,000 IPv4 ranges as address objects (~130 MB per
process) and scans its ~68,000 IPv6 networks one by one (~20 ms per IPv6 address). That was
bearable behind a cache of masked addresses; the door now looks up each visitor's full address
(Matomo's default), which no cache helps with and which must not be kept anyway. Here a lookup is
one bisection (a few µs) over a few MB, built once per process from the library's data (~3 s,
most of it unpickling; warmed by enrich.warm_up in ingest workers, on first use at the door).
"""
import threading
from array import array
from bisect import bisect_right
from socket import AF_INET, AF_INET6, inet_pton

_tables: dict[int, tuple] | None = None
_lock = threading.Lock()


def _build() -> dict[int, tuple]:
    from ip_to_country import IpToCountry

    data = IpToCountry()
    # NB: the registries' ranges do not overlap (checked: none in the shipped data), so the range
    # starting at or before an address is the only one that can hold it.
    v4 = sorted((int(start), int(end), code) for start, end, code in data.ipv4_ranges)
    v6 = sorted((int(net.network_address), int(net.broadcast_address), code) for net, code in data.ipv6_ranges)
    codes = {}  # one string object per country, not one per range
    return {
        4: (array("I", (r[0] for r in v4)), array("I", (r[1] for r in v4)),
            [codes.setdefault(r[2], r[2][:2]) for r in v4]),
        6: ([r[0] for r in v6], [r[1] for r in v6], [codes.setdefault(r[2], r[2][:2]) for r in v6]),
    }


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
        packed, version = inet_pton(AF_INET, address), 4
    except OSError:
        try:
            packed, version = inet_pton(AF_INET6, address), 6
        except OSError:
            return ""
    starts, ends, codes = _loaded()[version]
    value = int.from_bytes(packed, "big")
    index = bisect_right(starts, value) - 1
    return codes[index] if index >= 0 and value <= ends[index] else ""
