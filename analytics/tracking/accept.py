"""Accepting one hit at the door: validate, check the site and privileges, apply privacy, tag it.

Returns the queue entry to store, None for a hit accepted but not recorded (no rec=1, Do Not
Track, Global Privacy Control), or raises InvalidParameter / Refused with a message for the caller.
"""
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from analytics.tracking.params import parse_request
from analytics.tracking.visitors import mask_ip
from instances.hosts import instance_for_idsite
from instances.models import Role
from instances.selectors import instance_allows
from instances.tokens import token_user

PRIVILEGED_AGE = timedelta(hours=24)


class Refused(Exception):
    """The hit is well formed but not accepted (unknown or inactive site, missing privilege)."""


def _client_ip(request) -> str:
    """The visitor's address: behind our own proxy (BEHIND_TLS_PROXY) the last X-Forwarded-For hop,
    the one the proxy itself appended, since earlier entries are whatever the client claimed."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")


def accept_hit(request, raw: dict, *, token: str | None) -> dict | None:
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
        user = token_user(params.get("token_auth") or token)
        if user is None or not instance_allows(user=user, instance=instance, role=Role.WRITE):
            raise Refused("cip and cdt older than 24 h need a token_auth with write access to this site")
    if "cdt" in params and params["cdt"] > timezone.now() + timedelta(minutes=10):
        raise Refused("cdt is in the future")
    if request.headers.get("DNT") == "1" or request.headers.get("Sec-GPC") == "1":
        return None  # Do Not Track / Global Privacy Control honoured: accepted, not recorded
    stored = {k: str(v) for k, v in raw.items() if k not in ("token_auth", "cip")}
    return {
        "id": str(uuid.uuid4()), "t": instance.pk, "at": time.time(), "p": stored,
        "ip": mask_ip(params.get("cip") or _client_ip(request)),
        "ua": params.get("ua") or request.headers.get("User-Agent", "")[:1024],
        "lang": params.get("lang") or request.headers.get("Accept-Language", "")[:255],
    }
