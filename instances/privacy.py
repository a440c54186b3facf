"""A site's privacy settings as data: which visitors are excluded, how much of an IP is kept.

The settings live on the Instance (public schema) because they are applied at the door, before a
hit is queued, from the same cached lookup that names the site. Parsing is cached per setting
text, so checking a hit against a site's exclusions costs a few comparisons, not a parse.
"""
import ipaddress
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Matomo's levels: bytes of an IPv4 address zeroed, and the IPv6 prefix kept at the same level.
IPV6_PREFIX_FOR_MASK = {0: 128, 1: 64, 2: 48, 3: 32}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip() and not line.strip().startswith("#")]


def _network(line: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One address, CIDR range ("10.0.0.0/8", "2001:db8::/32") or Matomo wildcard ("192.168.*.*")."""
    if "*" in line:
        parts = line.split(".")
        if len(parts) != 4 or "*" in parts[:parts.index("*")] or any(p != "*" for p in parts[parts.index("*"):]):
            raise ValueError(line)
        fixed = parts.index("*")
        return ipaddress.ip_network(".".join(parts[:fixed] + ["0"] * (4 - fixed)) + f"/{8 * fixed}")
    return ipaddress.ip_network(line, strict=False)


@lru_cache(maxsize=1024)
def excluded_networks(text: str) -> tuple:
    return tuple(_network(line) for line in _lines(text))


def validate_excluded_ips(text: str) -> None:
    bad = []
    for line in _lines(text):
        try:
            _network(line)
        except ValueError:
            bad.append(line)
    if bad:
        raise ValidationError(
            _("Not an IP address or range: %(lines)s. Use one per line, like 192.0.2.7, 10.0.0.0/8, "
              "192.168.*.* or 2001:db8::/32."), params={"lines": ", ".join(bad[:5])})


def ip_excluded(ip: str | None, text: str) -> bool:
    """Whether the visitor's (unmasked) address falls in one of the site's excluded ranges."""
    if not ip or not text:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in excluded_networks(text) if network.version == address.version)


@lru_cache(maxsize=1024)
def _agent_needles(text: str) -> tuple[str, ...]:
    return tuple(line.lower() for line in _lines(text))


def user_agent_excluded(user_agent: str, text: str) -> bool:
    """Whether the user agent contains one of the site's excluded strings (case-insensitive, like Matomo)."""
    if not text:
        return False
    agent = (user_agent or "").lower()
    return any(needle in agent for needle in _agent_needles(text))
