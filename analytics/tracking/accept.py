"""Accepting one hit at the door: validate, check the site and privileges, apply privacy, tag it.

Returns the queue entry to store, None for a hit accepted but not recorded (no rec=1, or the
site's privacy settings say so: opt-out cookie, Do Not Track / Global Privacy Control, excluded IP
or user agent), or raises InvalidParameter / Refused with a message for the caller. Matomo answers
such hits like recorded ones, so a visitor cannot tell an exclusion from a recording.

The visitor's full address is used here and only here, in memory: for the exclusion check, for the
keyed digest that stands for it in visitor recognition (visitors.address_digest, with the salt of
the hit's day) and for the country (unless the site geolocates the masked address). The entry
carries the masked address, the digest and the country, never the address itself.
"""
import os
import time
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.utils import timezone

from analytics.tracking.country import country_of
from analytics.tracking.params import parse_request
from analytics.tracking import visitors
from analytics.tracking.visitors import address_digest, mask_ip
from farm.addresses import client_ip
from instances.hosts import instance_for_idsite
from instances.models import Role
from instances.privacy import (
    DEVICE_STORED_PARAMETERS, ORDER_ID_DROPPED, excluded_parameters, ip_excluded, order_code, url_stripped,
    user_agent_excluded, user_pseudonym,
)
from instances.salts import day_salt
from instances.selectors import instance_allows
from instances.tokens import token_user

PRIVILEGED_AGE = timedelta(hours=24)
OPT_OUT_COOKIE = "piwik_ignore"  # the name Matomo's opt-out sets; "matomo_ignore" is honoured too
OPT_OUT_COOKIES = (OPT_OUT_COOKIE, "matomo_ignore")


class Refused(Exception):
    """The hit is well formed but not accepted (unknown or inactive site, missing privilege)."""


class Grants:
    """Who may send `cip` and old `cdt`, asked once per token and once per (token, site) for a
    whole request: a bulk import of 10,000 hits checks its token once, not three queries a hit."""

    def __init__(self):
        self._users, self._allowed = {}, {}

    def user(self, token: str | None):
        if token not in self._users:
            self._users[token] = token_user(token)
        return self._users[token]

    def allows(self, token: str | None, instance) -> bool:
        key = (token, instance.pk)
        if key not in self._allowed:
            user = self.user(token)
            self._allowed[key] = user is not None and instance_allows(user=user, instance=instance, role=Role.WRITE)
        return self._allowed[key]


def new_hit_id() -> str:
    """A UUIDv7 (RFC 9562: Unix time in ms, then 74 random bits).

    Ingest looks every hit id up in a unique index and then adds it there; ids that grow with time
    land at the index's right edge, whose pages are in memory, where random (v4) ids touched pages
    all over an index larger than the cache (docs/benchmarks.md, tracking)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def visitor_opted_out(request) -> bool:
    return any(request.COOKIES.get(name) for name in OPT_OUT_COOKIES)


def browser_asks_not_to_track(request) -> bool:
    """Do Not Track, or its successor Global Privacy Control."""
    return request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1"


def _not_recorded(request, instance, ip: str, user_agent: str) -> bool:
    """Privacy at the door: the visitor opted out or asks not to be tracked, or the site excludes them."""
    if visitor_opted_out(request) or (instance.honour_do_not_track and browser_asks_not_to_track(request)):
        return True
    return ip_excluded(ip, instance.excluded_ips) or user_agent_excluded(user_agent, instance.excluded_user_agents)


def door_address(instance, address: str, *, at: datetime) -> dict:
    """The entry's address fields: masked address, digest of the full one with the salt of the
    hit's day in the site's timezone (a `cdt` import lands on its own day), and country."""
    day = at.astimezone(ZoneInfo(instance.timezone)).date()
    masked = mask_ip(address, mask_bytes=instance.ip_mask_bytes)
    return {"ip": masked, "ipd": address_digest(address, site_id=instance.pk, salt=day_salt(day=day)),
            "cc": country_of(masked if instance.geolocate_masked_ip else address)}


def door_params(instance, params: dict[str, str], parsed: dict) -> dict[str, str]:
    """The hit's parameters as the site lets them be queued: the query parameters it removes taken
    out of the action's URL (url, link, download), Matomo's click and session ids out of the
    referrer's (the site's own names go once its search keyword is read, at ingest, as does the
    rest of its anonymisation), and the user id (uid) pseudonymised if it says so. A campaign the
    removed parameters named is kept as Matomo's _rcn/_rck (visitors.campaign reads those first).
    An order id is kept, coded or dropped (Instance.order_ids); a cookieless site takes none of what
    a tracker stored on the device, so its visitors are recognised by the config hash alone."""
    names = excluded_parameters(instance.excluded_query_parameters)
    for key in ("url", "link", "download"):
        if params.get(key):
            params[key] = url_stripped(params[key], names)
    if params.get("url") != parsed.get("url") and "_rcn" not in params:
        name, keyword = visitors.campaign(parsed)
        params.update({"_rcn": name, **({"_rck": keyword} if keyword else {})} if name else {})
    if params.get("urlref"):
        params["urlref"] = url_stripped(params["urlref"], excluded_parameters(""))
    if params.get("uid") and instance.pseudonymise_user_ids:
        params["uid"] = user_pseudonym(params["uid"], site_id=instance.pk)
    if params.get("ec_id") and instance.order_ids != "keep":
        params["ec_id"] = (ORDER_ID_DROPPED if instance.order_ids == "drop"
                           else order_code(params["ec_id"], site_id=instance.pk))
    if instance.cookieless:
        for name in DEVICE_STORED_PARAMETERS:
            params.pop(name, None)
    return params


def accept_hit(request, raw: dict, *, token: str | None, grants: Grants | None = None) -> dict | None:
    params = parse_request(raw)
    instance = instance_for_idsite(params["idsite"])
    if instance is None or not instance.is_live:
        raise Refused(f"idsite {params['idsite']} is not a live site of this farm")
    on_site = getattr(request, "instance", None)
    if on_site is not None and on_site.pk != instance.pk:
        raise Refused(f"idsite {params['idsite']} is not the site that answers at this address")
    if params.get("rec") != 1:
        return None
    old = "cdt" in params and params["cdt"] < timezone.now() - PRIVILEGED_AGE
    if "cip" in params or old:
        if not (grants or Grants()).allows(params.get("token_auth") or token, instance):
            raise Refused("cip and cdt older than 24 h need a token_auth with write access to this site")
    if "cdt" in params and params["cdt"] > timezone.now() + timedelta(minutes=10):
        raise Refused("cdt is in the future")
    ip = params.get("cip") or client_ip(request)
    user_agent = params.get("ua") or request.headers.get("User-Agent", "")[:1024]
    if _not_recorded(request, instance, ip, user_agent):
        return None
    stored = door_params(instance, {k: str(v) for k, v in raw.items() if k not in ("token_auth", "cip")}, params)
    now = time.time()
    at = params.get("cdt") or datetime.fromtimestamp(now, tz=dt_timezone.utc)
    return {
        "id": new_hit_id(), "t": instance.pk, "at": now, "p": stored, **door_address(instance, ip, at=at),
        "ua": user_agent,
        "lang": params.get("lang") or request.headers.get("Accept-Language", "")[:255],
    }
