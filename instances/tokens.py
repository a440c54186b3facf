"""Personal API tokens: created and revoked here, checked by `token_user`.

Tokens are 256-bit random strings, so a plain SHA-256 is the right storage (no slow hash is
needed against guessing); the token itself is returned once and never stored.
"""
import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from instances.errors import InvalidRequest
from instances.models import ApiToken

TOKEN_PREFIX = "farm_"


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def token_create(*, user, description: str = "") -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the token text (show it once)."""
    raw = TOKEN_PREFIX + secrets.token_hex(32)
    token = ApiToken.objects.create(
        user=user, description=description.strip()[:200], prefix=raw[: len(TOKEN_PREFIX) + 6], key_hash=_hash(raw)
    )
    return token, raw


def token_revoke(*, token: ApiToken, by) -> ApiToken:
    """Revoke a token; only its owner (or a superuser) may."""
    if token.user_id != by.pk and not by.is_superuser:
        raise InvalidRequest("This token is not yours.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_user(raw: str):
    """The active user a token belongs to, or None for an unknown, revoked or malformed token."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=_hash(raw), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
