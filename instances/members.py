"""Site membership services: a site admin adds and removes members and sets their role."""
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from instances.errors import InvalidRequest, PermissionDenied
from instances.models import Instance, Membership, Role
from instances.selectors import instance_allows


def _require_admin(*, by, instance: Instance) -> None:
    if not instance_allows(user=by, instance=instance, role=Role.ADMIN):
        raise PermissionDenied(_("Only the site's admins can manage its members."))


@transaction.atomic
def member_add(*, instance: Instance, by, username_or_email: str, role: str) -> Membership:
    """Give an existing farm user a role on the site (or change it)."""
    _require_admin(by=by, instance=instance)
    if role not in Role.values:
        raise InvalidRequest(_("Unknown role “%(role)s”.") % {"role": role})
    needle = (username_or_email or "").strip()
    User = get_user_model()
    user = User.objects.filter(username=needle).first() or User.objects.filter(email__iexact=needle).first()
    if user is None:
        raise InvalidRequest(_("No farm user is called “%(who)s”; they must sign up first.") % {"who": needle})
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
