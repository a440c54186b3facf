"""Enrichment at ingest: device, OS and browser (device-detector, Matomo's rules), country (offline
registry data, from the already masked IP), and bot detection.

Both libraries load large rule sets, so each is loaded once per worker process and every answer is
cached per user agent or per masked IP. (Client hints, `uadata`, are stored with the hit but not yet
used to refine the device.)
"""
from functools import lru_cache

DEVICE_FIELDS = ("device_type", "device_brand", "device_model", "os_name", "os_version", "browser_name",
                 "browser_version")


@lru_cache(maxsize=20_000)
def device(user_agent: str) -> dict:
    """{bot: bool, device_type, device_brand, …} for a user agent; empty strings when unknown."""
    from device_detector import DeviceDetector

    parsed = DeviceDetector(user_agent or "").parse()
    if parsed.is_bot():
        return {"bot": True, **dict.fromkeys(DEVICE_FIELDS, "")}
    values = (parsed.device_type(), parsed.device_brand(), parsed.device_model(), parsed.os_name(),
              parsed.os_version(), parsed.client_name(), parsed.client_version())
    return {"bot": False, **{name: (str(value or "") if value not in ("UNK", "Unknown") else "")[:64]
                             for name, value in zip(DEVICE_FIELDS, values, strict=True)}}


@lru_cache(maxsize=1)
def _countries():
    from ip_to_country import IpToCountry

    return IpToCountry()


@lru_cache(maxsize=100_000)
def country(masked_ip: str | None) -> str:
    """Two-letter country code of a (masked) IP address, or "" when unknown or private."""
    if not masked_ip:
        return ""
    try:
        found = _countries().ip_to_country(masked_ip)
    except (ValueError, KeyError, TypeError):
        return ""
    return (found or {}).get("country_code", "")[:2] if isinstance(found, dict) else ""


def cache_hit_rate() -> float:
    """Share of device lookups answered from the cache (reported by the tracking benchmark)."""
    info = device.cache_info()
    total = info.hits + info.misses
    return info.hits / total if total else 0.0
