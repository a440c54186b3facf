"""The suite never reaches off the machine: name lookups and connections beyond loopback are refused.

Installed by tests/conftest.py for the test process. A refused attempt raises OSError where it
happens (as an unreachable network would) and is also recorded, so the test that made it fails
even if the code under test swallows the error. Example hosts (`example.org`) stay data.
"""
import ipaddress
import socket

ATTEMPTS: list[str] = []
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class OffMachine(OSError):
    """The test tried to look up or connect to something that is not this machine."""


def host_is_local(host) -> bool:
    """Loopback addresses, `localhost` and its subdomains (the tests' site hosts), and empty hosts."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").rstrip(".").lower()
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(what: str):
    ATTEMPTS.append(what)
    raise OffMachine(f"test tried to reach off the machine: {what}")


def _getaddrinfo(host, *args, **kwargs):
    if not host_is_local(host):
        _refuse(f"DNS lookup of {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def _destination(address):
    return address[0] if isinstance(address, tuple) else None  # unix sockets are local


def _connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not host_is_local(_destination(address)):
        _refuse(f"connection to {address!r}")
    return _real_connect(self, address)


def _connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not host_is_local(_destination(address)):
        _refuse(f"connection to {address!r}")
    return _real_connect_ex(self, address)


def install() -> None:
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex


def take_attempts() -> list[str]:
    """The attempts recorded since the last call (and forget them)."""
    attempts = ATTEMPTS[:]
    ATTEMPTS.clear()
    return attempts
