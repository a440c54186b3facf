"""The SSRF guard for URLs the farm calls on a site's behalf (its cron URL).

A site admin types a URL; the farm's workers call it from inside the farm's network. Without a
guard that URL could reach the database, Redis, a cloud's metadata service or any private host. So
only http(s) URLs are accepted, and every address the host name resolves to must be public: a
private, loopback, link-local, multicast, reserved or cloud-metadata address refuses the URL (all
of them, not the first: a name may list a public address next to a private one), when it is set
and again at each call, where the caller connects to exactly the addresses checked (no second
lookup for DNS rebinding to slip in). FARM_CRON_URL_ALLOW lists networks allowed anyway.
"""
import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.utils.translation import gettext as _
from yarl import URL

from farm.conf import farm_setting
from instances.errors import InvalidRequest

MAX_LENGTH = 2000
REDACTED = "***"
# Cloud metadata services. 169.254.169.254 is link-local anyway; the others are not all private.
METADATA = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.254/32",  # AWS, GCP, Azure, OpenStack, DigitalOcean…
    "fd00:ec2::254/128",  # AWS over IPv6
    "100.100.100.200/32",  # Alibaba Cloud
    "168.63.129.16/32",  # Azure's wire server (a public address)
))


class UrlRefused(InvalidRequest):
    """The URL may not be called by the farm; the message says why."""


class AddressRefused(OSError):
    """A host resolved to an address the guard refuses (an OSError, as a failed lookup is)."""


@dataclass(frozen=True)
class Target:
    """A parsed, acceptable URL: what the caller connects to (host and port) and groups calls by."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def is_address(self) -> bool:
        return _as_address(self.host) is not None


def url_parse(url: str) -> Target:
    """Check the URL's form: http or https, a host, a valid port, no spaces. Raises UrlRefused."""
    if not isinstance(url, str) or not url.strip():
        raise UrlRefused(_("Give a URL, e.g. https://www.example.org/spip.php?action=cron."))
    url = url.strip()
    if len(url) > MAX_LENGTH:
        raise UrlRefused(_("The URL is longer than %(max)d characters.") % {"max": MAX_LENGTH})
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UrlRefused(_("The URL contains spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused(_("This is not a valid URL.")) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise UrlRefused(_("Only http:// and https:// URLs can be called."))
    try:
        # The host as aiohttp will read it (yarl: IDNA, full-width digits folded), so that what is
        # checked is what is connected to.
        host = (URL(url).raw_host or "").rstrip(".").lower()
    except (ValueError, UnicodeError):
        raise UrlRefused(_("This is not a valid URL.")) from None
    if not host:
        raise UrlRefused(_("The URL has no host name."))
    scheme = parts.scheme.lower()
    return Target(url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80))


def _as_address(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: IPv4-compatible, IPv4-translated
# and NAT64 (which reaches IPv4 networks from an IPv6-only host).
_CARRY_IPV4_LOW = tuple(ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96",
                                                          "64:ff9b:1::/48"))
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _embedded_ipv4(ip) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to (mapped, compatible, NAT64, 6to4, Teredo), if any."""
    if ip.version != 6 or ip.is_loopback or ip.is_unspecified:  # ::1 and :: are not IPv4-compatible ones
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if any(ip in network for network in _CARRY_IPV4_LOW):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@lru_cache(maxsize=16)
def _allowed(networks: tuple[str, ...]):
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def address_refusal(address: str) -> str | None:
    """Why the guard refuses this IP address (a phrase), or None if it may be called."""
    ip = _as_address(address)
    if ip is None:
        return _("not an IP address")
    if any(ip in network for network in _allowed(tuple(farm_setting("FARM_CRON_URL_ALLOW")))):
        return None
    embedded = _embedded_ipv4(ip)
    if embedded is not None:  # refused whatever it carries; the reason names a private one
        return address_refusal(str(embedded)) or _("an IPv6 address carrying an IPv4 address")
    if any(ip in network for network in METADATA):
        return _("a cloud metadata address")
    if ip.is_loopback:
        return _("a loopback address")
    if ip.is_link_local:
        return _("a link-local address")
    if ip.is_multicast:
        return _("a multicast address")
    if not ip.is_global or (ip.version == 6 and ip not in _GLOBAL_UNICAST):
        return _("a private or reserved address")
    return None


def lookup(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to. NB: tests replace this with a stub resolver (never the DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def addresses_check(host: str, port: int) -> list[str]:
    """The addresses to connect to for `host` (one lookup), all allowed; raises AddressRefused otherwise."""
    address = _as_address(host)
    if address is not None:
        addresses = [str(address)]
    else:
        try:
            addresses = lookup(host, port)
        except (OSError, UnicodeError) as exc:  # NB: a malformed name (a..b, a label of 64+) is a UnicodeError
            raise AddressRefused(_("%(host)s does not resolve (%(error)s)") % {"host": host, "error": exc}) from None
        if not addresses:
            raise AddressRefused(_("%(host)s does not resolve") % {"host": host})
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise AddressRefused(_("%(host)s is %(address)s, %(reason)s: the farm does not call it")
                                 % {"host": host, "address": address, "reason": reason})
    return addresses


def url_check(url: str) -> Target:
    """Check a URL as it is set: its form, then every address of its host. Raises UrlRefused."""
    target = url_parse(url)
    try:
        addresses_check(target.host, target.port)
    except AddressRefused as exc:
        raise UrlRefused(str(exc)) from None
    return target


def url_redacted(url: str) -> str:
    """The URL as the interface shows it back: a password in it reads "***"."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}:{REDACTED}@{netloc[1]}"))


def url_with_password_of(url: str, stored: str) -> str:
    """`url` with the "***" that url_redacted showed replaced by `stored`'s password (a person edited
    the rest of the URL). Raises UrlRefused when there is no password to put back."""
    try:
        parts = urlsplit(url)
        if parts.password != REDACTED:
            return url
        password = urlsplit(stored).password
    except ValueError:
        return url
    if not password:
        raise UrlRefused(_("Type the URL's password again (it is shown as ***)."))
    userinfo, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:{password}@{host}"))
