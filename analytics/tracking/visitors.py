"""Who a hit belongs to and where it came from: visitor ids, campaigns, referrers, IP masking."""
import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from instances.privacy import IPV6_PREFIX_FOR_MASK

SEARCH_ENGINES = {"google": "q", "bing": "q", "duckduckgo": "q", "yahoo": "p", "yandex": "text", "baidu": "wd",
                  "qwant": "q", "ecosia": "q", "startpage": "query", "brave": "q"}
SOCIAL_NETWORKS = {"facebook.com": "Facebook", "t.co": "X", "twitter.com": "X", "x.com": "X",
                   "linkedin.com": "LinkedIn", "instagram.com": "Instagram", "reddit.com": "Reddit",
                   "youtube.com": "YouTube", "mastodon.social": "Mastodon", "pinterest.com": "Pinterest"}
CAMPAIGN_NAMES = ("mtm_campaign", "utm_campaign", "pk_campaign", "matomo_campaign", "piwik_campaign", "pk_cpn")
CAMPAIGN_KEYWORDS = ("mtm_kwd", "utm_term", "pk_kwd", "matomo_kwd", "piwik_kwd", "pk_keyword")


def mask_ip(raw: str | None, *, mask_bytes: int = 2) -> str | None:
    """Zero the last `mask_bytes` bytes of an IPv4 address (or keep only the matching IPv6 prefix:
    /64, /48, /32); 0 keeps the address whole. The door masks the address once it has checked the
    exclusions, taken its digest and its country: nothing after the door sees more."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    prefix = 32 - 8 * mask_bytes if address.version == 4 else IPV6_PREFIX_FOR_MASK[mask_bytes]
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


# The browser features Matomo's tracker reports, in the order Matomo hashes them (Request::getPlugins).
PLUGIN_FLAGS = ("fla", "java", "qt", "realp", "pdf", "wma", "ag", "cookie")


def address_digest(address: str | None, *, site_id: int, salt: bytes) -> str:
    """What stands for a visitor's full address from the door on: HMAC-SHA256 keyed by the salt of
    the hit's day (instances.salts), over the site and the address (32 hex characters).

    It tells hits of one address apart from another's that day, as Matomo's config hash does with
    the address itself, without the address being kept: once the day's salt is deleted, no one can
    work back to the address or link the day to another."""
    return hmac.new(salt, f"{site_id}|{address or ''}".encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=1)
def _farm_key(secret: str) -> bytes:
    """The farm's own key for config hashes (Matomo mixes its instance salt in): two farms given
    the same visitors cannot match their hashes."""
    return hashlib.sha256(f"farm-config-hash:{secret}".encode()).digest()


def config_hash(params: dict, *, device: dict, address: str, lang: str) -> str:
    """Matomo's config id (core/Tracker/Settings.php, getConfigId): OS, browser name and version as
    parsed, the plugin and cookie flags as sent, the browser language, the address and the site.

    `address` is the door's `address_digest` of the full address, which carries the day's salt, so
    a visitor without cookies is followed within a day and never across days (16 hex characters)."""
    flags = [str(params.get(name, 0)) for name in PLUGIN_FLAGS]
    if device.get("browser_name") == "Internet Explorer":
        flags[-1] = "0"  # as Matomo: IE's cookie flag flipped with its settings and split visits
    os_name = "BOT" if device.get("bot") else device.get("os_name") or "UNK"
    config = "|".join((os_name, device.get("browser_name") or "UNK", device.get("browser_version", ""), "".join(flags),
                       address, lang[:20].lower(), str(params["idsite"])))
    return hmac.new(_farm_key(settings.SECRET_KEY), config.encode(), hashlib.sha256).hexdigest()[:16]


def visitor_id(params: dict, *, config: Callable[[], str]) -> str:
    """Matomo's precedence: a hashed user id, then cid, then the tracker's _id, else the config
    hash, which `config` gives (only called then: most hits carry an id)."""
    if params.get("uid"):
        return hashlib.sha1(params["uid"].encode()).hexdigest()[:16]
    for name in ("cid", "_id"):
        if params.get(name):
            return params[name].lower()
    return config()


def campaign(params: dict) -> tuple[str, str]:
    """The campaign name and keyword from _rcn/_rck or the page URL's mtm_/utm_/pk_ parameters."""
    if params.get("_rcn"):
        return params["_rcn"][:255], params.get("_rck", "")[:255]
    url = params.get("url", "")
    if "?" not in url:
        return "", ""  # most page URLs: no query string to parse
    query = parse_qs(urlsplit(url).query)
    name = next((query[k][0] for k in CAMPAIGN_NAMES if query.get(k)), "")
    keyword = next((query[k][0] for k in CAMPAIGN_KEYWORDS if query.get(k)), "")
    return name[:255], keyword[:255]


def referrer(urlref: str, own_hosts: set[str]) -> tuple[str, str, str]:
    """(type, name, keyword) of a referrer URL: direct, search, social or website."""
    host = urlsplit(urlref).hostname or "" if urlref else ""
    host = host.removeprefix("www.")
    if not host or host in own_hosts:
        return "direct", "", ""
    for domain, network in SOCIAL_NETWORKS.items():
        if host == domain or host.endswith("." + domain):
            return "social", network, ""
    for engine, keyword_param in SEARCH_ENGINES.items():
        if engine in host.split("."):
            keyword = parse_qs(urlsplit(urlref).query).get(keyword_param, [""])[0]
            return "search", engine.title(), keyword[:255]
    return "website", host[:255], ""
