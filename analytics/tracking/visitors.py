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
    /64, /48, /32) before anything uses it; 0 keeps the address whole."""
    if not raw:
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    prefix = 32 - 8 * mask_bytes if address.version == 4 else IPV6_PREFIX_FOR_MASK[mask_bytes]
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@lru_cache(maxsize=8)
def _daily_salt(secret: str, day: str) -> bytes:
    return hmac.new(secret.encode(), f"farm-visitor-salt:{day}".encode(), hashlib.sha256).digest()


def visitor_id(params: dict, *, ip: str | None, ua: str, lang: str, day: Callable[[], str]) -> str:
    """Matomo's precedence: a hashed user id, then cid, then the tracker's _id, else a config hash.

    The config hash mixes a salt that changes daily, so a visitor without cookies cannot be
    followed across days. `day` gives that day (ISO date); it is only called for a config hash,
    as most hits carry an id and working out a local date is not free.
    """
    if params.get("uid"):
        return hashlib.sha1(params["uid"].encode()).hexdigest()[:16]
    for name in ("cid", "_id"):
        if params.get(name):
            return params[name].lower()
    config = f"{ua}|{ip}|{lang}|{params['idsite']}|{params.get('res', '')}".encode()
    return hmac.new(_daily_salt(settings.SECRET_KEY, day()), config, hashlib.sha1).hexdigest()[:16]


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
