"""A site's privacy settings as data: which visitors are excluded, how much of an IP is kept, and
what its hits' URLs and user ids become before they are stored.

The settings live on the Instance (public schema) because they are applied at the door, before a
hit is queued, from the same cached lookup that names the site. Parsing is cached per setting
text, so checking a hit against a site's exclusions costs a few comparisons, not a parse.
"""
import hashlib
import hmac
import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
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


# What a hit's URLs and user id become before they are queued (accept.door_params) or stored.

# Matomo's default url_query_parameter_to_exclude_from_url: click ids and session ids, which change
# on every visit and would split one page into thousands of rows (and can identify a person).
DEFAULT_EXCLUDED_PARAMETERS = ("gclid", "fbclid", "msclkid", "twclid", "wbraid", "gbraid", "yclid", "fb_xd_fragment",
                               "fb_comment_id", "phpsessid", "jsessionid", "sessionid", "aspsessionid",
                               "doing_wp_cron", "sid", "pk_vid")


@lru_cache(maxsize=1024)
def excluded_parameters(text: str) -> frozenset[str]:
    """Matomo's default names and the site's own (one per line or comma-separated), lower case."""
    own = (name.strip().lower() for line in _lines(text) for name in line.split(","))
    return frozenset(DEFAULT_EXCLUDED_PARAMETERS) | {name for name in own if name}


def url_stripped(url: str, names: frozenset[str]) -> str:
    """`url` without the query parameters named (compared case-insensitively, as Matomo does), in
    its query, in a query-like fragment and as path parameters (`;jsessionid=…`); anything else is
    left as it was sent."""
    if not url or ("?" not in url and "#" not in url and ";" not in url):
        return url
    base, hash_mark, fragment = url.partition("#")
    path, question, query = base.partition("?")
    if ";" in path:  # a servlet's session id in the path: /page;jsessionid=ABC
        path = ";".join(part for n, part in enumerate(path.split(";"))
                        if n == 0 or part.split("=", 1)[0].lower() not in names)

    def kept(text: str) -> str:
        return "&".join(part for part in text.split("&") if part and part.split("=", 1)[0].lower() not in names)
    query = kept(query) if question else ""
    if hash_mark and "=" in fragment:
        fragment = kept(fragment)
    return path + (f"?{query}" if query else "") + (f"#{fragment}" if hash_mark and fragment else "")


def referrer_anonymised(url: str, level: str) -> str:
    """A referrer URL as the site keeps it (Instance.referrer_anonymisation): as sent, without its
    query ("query"), or its scheme and host only ("path")."""
    if not url or level not in ("query", "path"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    try:
        name = parts.hostname or ""
        host = (f"[{name}]" if ":" in name else name) + (f":{parts.port}" if parts.port else "")  # never user:pass@
    except ValueError:  # a port that is no number
        host = parts.hostname or ""
    if level == "query":
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return urlunsplit((parts.scheme, host, "/", "", "")) if host else ""


def _keyed(value: str, *, purpose: str, site_id: int, length: int) -> str:
    """A keyed hash of a value: the key is the farm's SECRET_KEY with the purpose and the site's id,
    so it is secret, one per site, and the same value always gives the same code on that site."""
    key = hmac.new(settings.SECRET_KEY.encode(), f"{purpose}:{site_id}".encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:length]


def user_pseudonym(user_id: str, *, site_id: int) -> str:
    """A user id replaced by a keyed hash (Instance.pseudonymise_user_ids): the same person keeps
    the same pseudonym on this site, so reports still count users, but the id itself is never stored."""
    return _keyed(user_id, purpose="user-pseudonym", site_id=site_id, length=32)


def order_code(order_id: str, *, site_id: int) -> str:
    """An ecommerce order id replaced by a short keyed code (Instance.order_ids = "short"): a repeated
    order still has the same code, so it counts once, but the code says nothing of the shop's own id."""
    return _keyed(order_id, purpose="order-id", site_id=site_id, length=12)


# An order whose id the site does not store (Instance.order_ids = "drop") still is an order, not a
# cart update: the door leaves this in its place and ingest stores an empty id.
ORDER_ID_DROPPED = "-"

# What Matomo's tracker keeps on the device and sends back (its _pk_id and _pk_ref cookies): a
# cookieless site (Instance.cookieless) takes none of it, whatever tracker sends it.
DEVICE_STORED_PARAMETERS = ("_id", "_idts", "_idvc", "_viewts", "_ref", "_refts")
