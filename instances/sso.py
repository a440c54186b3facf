"""Single sign-on from the portal to each site's own host.

Sessions are per host (custom domains cannot share a cookie with the portal), so the portal,
where the person is logged in, hands the site a signed, short-lived, single-use ticket naming
the person and the host it is for. The site checks it and opens its own session.
"""
import secrets

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.utils.translation import gettext as _

from farm.conf import farm_setting
from instances.errors import InvalidRequest

_SALT = "farm.sso"


def sso_ticket_make(*, user, host: str) -> str:
    return signing.dumps({"u": user.pk, "h": host, "n": secrets.token_hex(8)}, salt=_SALT)


def sso_ticket_redeem(*, ticket: str, host: str):
    """Return the user a ticket names, once; InvalidRequest if forged, expired, reused or for another host."""
    max_age = farm_setting("FARM_SSO_MAX_AGE")
    try:
        data = signing.loads(ticket, salt=_SALT, max_age=max_age)
    except signing.BadSignature:
        raise InvalidRequest(_("This sign-in link is invalid or has expired; please sign in again.")) from None
    if data.get("h") != host:
        raise InvalidRequest(_("This sign-in link was made for another site."))
    if not cache.add(f"sso:used:{data['n']}", 1, timeout=max_age * 2):
        raise InvalidRequest(_("This sign-in link was already used; please sign in again."))
    user = get_user_model().objects.filter(pk=data["u"], is_active=True).first()
    if user is None:
        raise InvalidRequest(_("This account is not active."))
    return user
