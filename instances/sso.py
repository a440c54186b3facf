"""Single sign-on from the portal to each site's own host.

Sessions are per host (custom domains cannot share a cookie with the portal), so the portal,
where the person is logged in, hands the site a signed, short-lived, single-use ticket naming
the person and the host it is for. The site checks it and opens its own session.

The flow starts on the site, never on the portal: the site puts a random state in a cookie of
its own host and sends the browser to the portal with it; the ticket the portal makes carries a
digest of that state, and the site accepts a ticket only from the browser holding the state.
Without that binding, anyone could make a ticket for their own account and have a victim's
browser open it, signing the victim in as them (login CSRF): the victim would then type data
into the attacker's account.
"""
import hashlib
import hmac
import re
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.utils.translation import gettext as _

from farm.conf import farm_setting
from instances.errors import InvalidRequest

_SALT = "farm.sso"
STATE_COOKIE = "farm_sso_state"
STATE_MAX_AGE = 30 * 60  # long enough to log in (or reset a password) on the portal on the way
_STATE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def sso_state_valid(state: str | None) -> bool:
    return bool(state) and bool(_STATE.fullmatch(state))


def sso_state_for(request) -> str:
    """The browser's pending sign-in state on this host: the one its cookie holds, else a new one
    (reused so that two tabs signing in at once do not undo each other)."""
    state = request.COOKIES.get(STATE_COOKIE)
    return state if sso_state_valid(state) else secrets.token_urlsafe(32)


def sso_state_remember(response, state: str) -> None:
    response.set_cookie(STATE_COOKIE, state, max_age=STATE_MAX_AGE, httponly=True, samesite="Lax",
                        secure=settings.SESSION_COOKIE_SECURE)


def sso_state_forget(response) -> None:
    response.delete_cookie(STATE_COOKIE, samesite="Lax")


def _digest(state: str) -> str:
    return hashlib.sha256(f"{_SALT}:{state}".encode()).hexdigest()[:32]


def sso_ticket_make(*, user, host: str, state: str) -> str:
    """A ticket for `user` on `host`, valid only in the browser whose sign-in `state` it names."""
    if not sso_state_valid(state):
        raise InvalidRequest(_("This sign-in did not start on the site; please open the site again."))
    return signing.dumps({"u": user.pk, "h": host, "s": _digest(state), "n": secrets.token_hex(8)}, salt=_SALT)


def sso_ticket_redeem(*, ticket: str, host: str, state: str | None):
    """Return the user a ticket names, once; InvalidRequest if forged, expired, reused, for another
    host, or opened in a browser other than the one that started the sign-in."""
    max_age = farm_setting("FARM_SSO_MAX_AGE")
    try:
        data = signing.loads(ticket, salt=_SALT, max_age=max_age)
    except signing.BadSignature:
        raise InvalidRequest(_("This sign-in link is invalid or has expired; please sign in again.")) from None
    if data.get("h") != host:
        raise InvalidRequest(_("This sign-in link was made for another site."))
    if not sso_state_valid(state) or not hmac.compare_digest(str(data.get("s", "")), _digest(state)):
        raise InvalidRequest(_("This sign-in link was not started in this browser; "
                               "open the site's address to sign in."))
    if not cache.add(f"sso:used:{data['n']}", 1, timeout=max_age * 2):
        raise InvalidRequest(_("This sign-in link was already used; please sign in again."))
    user = get_user_model().objects.filter(pk=data["u"], is_active=True).first()
    if user is None:
        raise InvalidRequest(_("This account is not active."))
    return user
