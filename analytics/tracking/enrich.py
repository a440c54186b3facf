"""Enrichment at ingest: device, OS and browser (device-detector, Matomo's rules, refined by the
browser's client hints), and bot detection. The country is looked up at the door, from the full
address (analytics.tracking.country); `country` here serves hits that came without it.

device-detector loads large rule sets, so they are loaded (and screened: analytics.tracking.detector)
once per worker process; each agent is parsed once per farm (analytics.tracking.agents).
"""
import gc
import time

from analytics.models import Visit
from analytics.tracking import detector
from analytics.tracking.country import country_of

DEVICE_FIELDS = ("device_type", "device_brand", "device_model", "os_name", "os_version", "browser_name",
                 "browser_version")
_MAX_LENGTH = {name: Visit._meta.get_field(name).max_length for name in DEVICE_FIELDS}
# uadata (navigator.userAgentData.getHighEntropyValues(), as Matomo's tracker sends it) → the
# Sec-CH-UA-* request headers device-detector reads, for the keys whose values are strings.
_TEXT_HINTS = {"platform": "Sec-CH-UA-Platform", "platformVersion": "Sec-CH-UA-Platform-Version",
               "model": "Sec-CH-UA-Model", "uaFullVersion": "Sec-CH-UA-Full-Version",
               "architecture": "Sec-CH-UA-Arch", "bitness": "Sec-CH-UA-Bitness"}
_LIST_HINTS = {"fullVersionList": "Sec-CH-UA-Full-Version-List", "brands": "Sec-CH-UA",
               "formFactors": "Sec-CH-UA-Form-Factors"}


def _quoted(value: str) -> str:
    return '"' + value.replace('"', "").replace("\\", "") + '"'


def _hint_list(items) -> str:
    """A structured-header list ("Chromium";v="120.0.6099.144", …) from brands or form factors;
    "" when the value is not the list of strings or {brand, version} objects browsers give."""
    if not isinstance(items, list):
        return ""
    if all(isinstance(item, str) for item in items):
        return ", ".join(_quoted(item) for item in items)
    if all(isinstance(item, dict) and isinstance(item.get("brand"), str) and isinstance(item.get("version"), str)
           for item in items):
        return ", ".join(f"{_quoted(item['brand'])};v={_quoted(item['version'])}" for item in items)
    return ""


def client_hints(uadata) -> tuple[tuple[str, str], ...]:
    """A hit's uadata as sorted (header, value) pairs: the form device-detector reads, and a
    canonical, hashable cache key. Malformed parts are left out: hints refine what the user agent
    says (reduced user agents hide the model and OS version), they never make a hit fail."""
    if not isinstance(uadata, dict):
        return ()
    headers = {header: _quoted(uadata[key]) for key, header in _TEXT_HINTS.items()
               if isinstance(uadata.get(key), str) and uadata[key]}
    headers.update((header, listed) for key, header in _LIST_HINTS.items() if (listed := _hint_list(uadata.get(key))))
    if isinstance(uadata.get("mobile"), bool):
        headers["Sec-CH-UA-Mobile"] = "?1" if uadata["mobile"] else "?0"
    return tuple(sorted(headers.items()))


def detect(user_agent: str, hints: tuple[tuple[str, str], ...] = ()) -> dict:
    """{bot: bool, device_type, device_brand, …} for a user agent and its client hints (see
    `client_hints`): device-detector's reading, screened (analytics.tracking.detector). Parses
    every time: ingest reads a batch's agents through the farm's cache (agents.devices)."""
    from device_detector import DeviceDetector

    detector.install()
    # NB: check_cache=False: ours is the cache; the library's own would key hints lossily.
    return reading(DeviceDetector(user_agent or "", headers=dict(hints) or None, check_cache=False).parse())


def reading(parsed) -> dict:
    """What ingest keeps of a parsed DeviceDetector: empty strings when unknown, values cut to the
    visit's columns, nothing but `bot` for a bot."""
    if parsed.is_bot():
        return {"bot": True, **dict.fromkeys(DEVICE_FIELDS, "")}
    values = (parsed.device_type(), parsed.device_brand(), parsed.device_model(), parsed.os_name(),
              parsed.os_version(), parsed.client_name(), parsed.client_version())
    return {"bot": False, **{name: (str(value or "") if value not in ("UNK", "Unknown") else "")[:_MAX_LENGTH[name]]
                             for name, value in zip(DEVICE_FIELDS, values, strict=True)}}


def country(masked_ip: str | None) -> str:
    """Two-letter country code of a masked address (hits queued without the door's country, and
    sites that geolocate the masked address), or "" when unknown or private."""
    return country_of(masked_ip)


_warm = False


def warm_up() -> float:
    """Load both rule sets now (device-detector's compiled: detector.compile_rules), once per
    process, then freeze what is alive; returns the seconds it took.

    Why freeze: the rule sets and the rest of a worker's lasting state are about a million objects.
    The garbage collector walked them all at each full collection (~0.25 s, five times per 330,000
    hits ingested: a sixth of ingest's time). `gc.freeze()` moves them out of its sight; reference
    counting still frees what is dropped, and collecting first leaves no garbage behind in there.
    """
    global _warm
    if _warm:
        return 0.0
    started = time.perf_counter()
    detect("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0")
    detector.compile_rules()
    country("192.0.0.0")
    gc.collect()
    gc.freeze()
    _warm = True
    return time.perf_counter() - started
