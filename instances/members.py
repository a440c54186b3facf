"""Site membership services: a site admin adds members by username, invites people by email, and
removes members; an invited person accepts the role through the link sent to that address.

An email address proves nothing until its owner clicks a link sent to it: accounts' addresses are
not verified and not unique, so adding "the account with this email" would hand the role to
whoever registered the address first. An email therefore never matches an account; it gets a
signed, expiring, single-use invitation, and the role goes to whoever accepts it from that mailbox.
"""
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from farm.conf import farm_setting
from instances.errors import InvalidRequest, PermissionDenied
from instances.models import Instance, Membership, Role
from instances.notifications import notify_invitation
from instances.selectors import instance_allows

_INVITATION_SALT = "farm.invitation"


def _require_admin(*, by, instance: Instance) -> None:
    if not instance_allows(user=by, instance=instance, role=Role.ADMIN):
        raise PermissionDenied(_("Only the site's admins can manage its members."))


def _require_role(role: str) -> None:
    if role not in Role.values:
        raise InvalidRequest(_("Unknown role “%(role)s”.") % {"role": role})


@transaction.atomic
def member_add(*, instance: Instance, by, username: str, role: str) -> Membership:
    """Give the farm user called `username` (exactly) a role on the site, or change it."""
    _require_admin(by=by, instance=instance)
    _require_role(role)
    needle = (username or "").strip()
    user = get_user_model().objects.filter(username=needle).first()
    if user is None:
        raise InvalidRequest(_("No farm user is called “%(who)s”. To add someone who has no account yet, "
                               "enter their email address: they will get an invitation.") % {"who": needle})
    if user.pk == instance.owner_id:
        raise InvalidRequest(_("The owner is already admin of the site."))
    membership, _created = Membership.objects.update_or_create(instance=instance, user=user, defaults={"role": role})
    return membership


@transaction.atomic
def member_remove(*, instance: Instance, by, user_id: int) -> None:
    _require_admin(by=by, instance=instance)
    deleted, _rows = Membership.objects.filter(instance=instance, user_id=user_id).delete()
    if not deleted:
        raise InvalidRequest(_("That person is not a member of the site."))


@dataclass(frozen=True)
class Invitation:
    """What an invitation link says: who invited which address to which site, with which role."""

    instance: Instance
    email: str
    role: str
    invited_by: object
    nonce: str

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role in Role.values else self.role


def member_invite(*, instance: Instance, by, email: str, role: str, portal: str) -> str:
    """Email `email` a link to accept `role` on the site; returns the link.

    `portal` is the portal's base URL ("https://farm.example"). Nothing says whether an account
    uses that address: the same email goes out either way.
    """
    _require_admin(by=by, instance=instance)
    _require_role(role)
    email = (email or "").strip()
    token = signing.dumps({"i": instance.pk, "e": email, "r": role, "b": by.pk, "n": secrets.token_hex(8)},
                          salt=_INVITATION_SALT, compress=True)
    link = f"{portal.rstrip('/')}/invitations/{token}/"
    notify_invitation(instance=instance, email=email, role=role, invited_by=by, link=link,
                      days=farm_setting("FARM_INVITATION_MAX_AGE") // 86400)
    return link


def invitation_read(*, token: str) -> Invitation:
    """The invitation a link carries; InvalidRequest if it was altered, has expired or no longer applies."""
    try:
        data = signing.loads(token or "", salt=_INVITATION_SALT, max_age=farm_setting("FARM_INVITATION_MAX_AGE"))
    except signing.SignatureExpired:
        raise InvalidRequest(_("This invitation has expired; ask the site's admins for a new one.")) from None
    except signing.BadSignature:
        raise InvalidRequest(_("This invitation link is invalid: it may have been cut or altered. "
                               "Copy the whole link from the email.")) from None
    instance = Instance.objects.filter(pk=data["i"]).select_related("owner").first()
    invited_by = get_user_model().objects.filter(pk=data["b"], is_active=True).first()
    if instance is None or invited_by is None or not instance_allows(user=invited_by, instance=instance,
                                                                      role=Role.ADMIN):
        raise InvalidRequest(_("This invitation no longer applies: the site or the admin who sent it is gone."))
    return Invitation(instance=instance, email=data["e"], role=data["r"], invited_by=invited_by, nonce=data["n"])


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """Give the signed-in `user` the invitation's role on its site; a link works once."""
    invitation = invitation_read(token=token)
    _require_role(invitation.role)
    if user.pk == invitation.instance.owner_id:
        raise InvalidRequest(_("You own this site already."))
    timeout = farm_setting("FARM_INVITATION_MAX_AGE")
    if not cache.add(f"invitation:used:{invitation.nonce}", user.pk, timeout=timeout):
        raise InvalidRequest(_("This invitation was already accepted; ask the site's admins for a new one."))
    membership, _created = Membership.objects.update_or_create(
        instance=invitation.instance, user=user, defaults={"role": invitation.role})
    return membership
