"""Lifecycle services: the only functions that change an instance's status.

Each one locks the row, checks the transition is allowed (TransitionNotAllowed otherwise),
writes a StatusChange audit row and queues its notifications and provisioning after commit.
Admin actions, portal views and the CLI all call these.
"""
import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_exists

from farm.conf import farm_setting
from farm.cron.timetable import timetable_tenant_changed, timetable_tenant_rezoned
from instances import notifications, quotas
from instances.anonymisations import PRIVACY_FIELDS, anonymisation_schedule, stricter_settings
from instances.errors import FarmError, InvalidRequest, TransitionNotAllowed
from instances.models import Instance, SchemaState, Status, StatusChange
from instances.site_cron import instance_cron_url_set
from instances.slugs import schema_name_for, slug_clean

Action = StatusChange.Action
logger = logging.getLogger(__name__)


def _default_main_url(slug: str) -> str:
    return f"https://{slug}.{farm_setting('FARM_DOMAIN')}/"


def _record(instance: Instance, *, action: str, from_status: str, by, reason: str) -> StatusChange:
    return StatusChange.objects.create(
        instance=instance, action=action, from_status=from_status, to_status=instance.status,
        by=by if by is not None and by.is_authenticated else None, reason=reason,
    )


def _locked(instance: Instance) -> Instance:
    return Instance.objects.select_for_update().get(pk=instance.pk)


def _require(instance: Instance, allowed: set[str], action_label: str) -> None:
    if instance.status not in allowed:
        raise TransitionNotAllowed(
            _("Cannot %(action)s “%(slug)s”: it is %(status)s.")
            % {"action": action_label, "slug": instance.slug, "status": instance.get_status_display()}
        )


def _require_reason(reason: str, action_label: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest(_("A reason is required to %(action)s a site.") % {"action": action_label})
    return reason


def _queue_provisioning(instance: Instance) -> None:
    """Mark the schema as being built and hand the build to a worker once the change is committed."""
    from instances.tasks import instance_provision_task

    instance.schema_state = SchemaState.PROVISIONING
    instance.save(update_fields=["schema_state", "updated_at"])
    transaction.on_commit(lambda: instance_provision_task.delay(instance.pk))


def _notify_owner(instance: Instance, action: str, reason: str) -> None:
    # robust: a mail server failure is logged, never turned into an error after the change is saved
    transaction.on_commit(lambda: notifications.notify_owner(instance, action=action, reason=reason), robust=True)


def _field_check(model, field: str, value) -> None:
    """The model field's own validation (length, URL form…) as a refusal the caller can show: the
    CLI and the API reach the services without a form in front of them."""
    try:
        model._meta.get_field(field).clean(value, None)
    except ValidationError as exc:
        raise InvalidRequest(f"{model._meta.get_field(field).verbose_name}: {' '.join(exc.messages)}") from None


@transaction.atomic
def instance_request(*, owner, name: str, slug: str, purpose: str = "", main_url: str = "",
                     timezone_name: str = "UTC") -> Instance:
    """Record a site request (status prepa) and tell the farm admins.

    A slug already taken is refused, except the requester's own deactivated site: that becomes
    a reactivation request on the same instance (same data), validated like a new one.
    """
    slug = slug_clean(slug)
    name = (name or "").strip()
    if not name:
        raise InvalidRequest(_("Please give the site a name."))
    _field_check(Instance, "name", name)
    if main_url:
        main_url = main_url if "://" in main_url else f"https://{main_url}"  # as the request form reads it
        _field_check(Instance, "main_url", main_url)
    quotas.site_request_check(owner)
    existing = Instance.objects.select_for_update().filter(slug=slug).first()
    if existing is None and schema_exists(schema_name_for(slug)):
        # A schema nobody's site owns (PostgreSQL's own, an extension's, a leftover): never adopt it.
        raise InvalidRequest(_("“%(slug)s” is reserved; please choose another address.") % {"slug": slug})
    if existing is not None:
        if existing.owner_id == owner.pk and existing.status == Status.DESACTIVE:
            existing.status = Status.PREPA
            existing.deletion_due_at = existing.purged_at = None
            existing.save(update_fields=["status", "deletion_due_at", "purged_at", "updated_at"])
            _record(existing, action=Action.REACTIVATION_REQUEST, from_status=Status.DESACTIVE, by=owner,
                    reason=purpose)
            transaction.on_commit(lambda: notifications.notify_admins_of_request(existing, reactivation=True),
                                  robust=True)
            return existing
        raise InvalidRequest(_("The address “%(slug)s” is already taken; please choose another.") % {"slug": slug})
    try:
        with transaction.atomic():
            instance = Instance.objects.create(
                name=name, slug=slug, schema_name=schema_name_for(slug), owner=owner, purpose=purpose,
                main_url=main_url or _default_main_url(slug), timezone=timezone_name, status=Status.PREPA,
            )
    except IntegrityError:
        raise InvalidRequest(
            _("The address “%(slug)s” is already taken; please choose another.") % {"slug": slug}) from None
    _record(instance, action=Action.REQUEST, from_status="", by=owner, reason=purpose)
    transaction.on_commit(lambda: notifications.notify_admins_of_request(instance, reactivation=False),
                          robust=True)
    return instance


def _transition(instance: Instance, *, action: str, allowed: set[str], to: str, by, reason: str,
                action_label: str, fields: dict | None = None) -> Instance:
    instance = _locked(instance)
    _require(instance, allowed, action_label)
    from_status = instance.status
    instance.status = to
    for name, value in (fields or {}).items():
        setattr(instance, name, value)
    instance.save()
    _record(instance, action=action, from_status=from_status, by=by, reason=reason)
    timetable_tenant_changed(instance)
    return instance


@transaction.atomic
def instance_validate(*, instance: Instance, by, reason: str = "") -> Instance:
    """prepa → publie, then provision the schema in a Celery task (unless it is already ready)."""
    instance = _transition(instance, action=Action.VALIDATE, allowed={Status.PREPA}, to=Status.PUBLIE, by=by,
                           reason=reason, action_label=_("validate"), fields={"validated_at": timezone.now()})
    if instance.schema_state != SchemaState.READY:
        _queue_provisioning(instance)
    _notify_owner(instance, Action.VALIDATE, reason)
    return instance


@transaction.atomic
def instance_refuse(*, instance: Instance, by, reason: str) -> Instance:
    """prepa → désactivé, kept on record with the reason; a new request is never provisioned."""
    reason = _require_reason(reason, _("refuse"))
    instance = _transition(instance, action=Action.REFUSE, allowed={Status.PREPA}, to=Status.DESACTIVE, by=by,
                           reason=reason, action_label=_("refuse"), fields={"deactivated_at": timezone.now()})
    _notify_owner(instance, Action.REFUSE, reason)
    return instance


@transaction.atomic
def instance_deactivate(*, instance: Instance, by, reason: str) -> Instance:
    """publie → désactivé: the site and its tracking are refused, its data kept."""
    reason = _require_reason(reason, _("deactivate"))
    instance = _transition(instance, action=Action.DEACTIVATE, allowed={Status.PUBLIE}, to=Status.DESACTIVE,
                           by=by, reason=reason, action_label=_("deactivate"),
                           fields={"deactivated_at": timezone.now()})
    _notify_owner(instance, Action.DEACTIVATE, reason)
    return instance


@transaction.atomic
def instance_reactivate(*, instance: Instance, by, reason: str = "") -> Instance:
    """désactivé → publie; cancels a scheduled deletion and provisions a schema that is missing."""
    instance = _transition(instance, action=Action.REACTIVATE, allowed={Status.DESACTIVE}, to=Status.PUBLIE,
                           by=by, reason=reason, action_label=_("reactivate"),
                           fields={"deletion_due_at": None, "purged_at": None,
                                   "validated_at": instance.validated_at or timezone.now()})
    if instance.schema_state != SchemaState.READY:
        _queue_provisioning(instance)
    _notify_owner(instance, Action.REACTIVATE, reason)
    return instance


@transaction.atomic
def instance_schedule_deletion(*, instance: Instance, by, grace_days: int | None = None,
                               reason: str = "") -> Instance:
    """Mark a deactivated site for purge after the grace period (FARM_DELETION_GRACE_DAYS)."""
    instance = _locked(instance)
    _require(instance, {Status.DESACTIVE}, _("schedule the deletion of"))
    days = farm_setting("FARM_DELETION_GRACE_DAYS") if grace_days is None else grace_days
    instance.deletion_due_at = timezone.now() + timedelta(days=days)
    instance.save(update_fields=["deletion_due_at", "updated_at"])
    _record(instance, action=Action.SCHEDULE_DELETION, from_status=instance.status, by=by,
            reason=reason or _("purge due on %(date)s") % {"date": instance.deletion_due_at.date().isoformat()})
    return instance


@transaction.atomic
def instance_purge(*, instance: Instance, by, reason: str = "", only_if_due: bool = False) -> Instance:
    """Drop the schema and the domains of a site scheduled for deletion; keep its row and audit trail.

    `only_if_due` is for the periodic purge: it leaves sites whose grace period is still running.
    """
    from instances.provisioning import provisioning_lock, schema_drop

    instance = _locked(instance)
    _require(instance, {Status.DESACTIVE}, _("purge"))
    if instance.deletion_due_at is None:
        raise TransitionNotAllowed(
            _("Schedule the deletion of “%(slug)s” before purging it.") % {"slug": instance.slug})
    if only_if_due and instance.deletion_due_at > timezone.now():
        raise TransitionNotAllowed(
            _("“%(slug)s” is not due for purge before %(date)s.")
            % {"slug": instance.slug, "date": instance.deletion_due_at.isoformat()})
    with provisioning_lock(instance.pk):  # never while a worker is building this schema
        schema_drop(instance)
        instance.domains.all().delete()
    instance.schema_state = SchemaState.NONE
    instance.purged_at = timezone.now()
    instance.save(update_fields=["schema_state", "purged_at", "updated_at"])
    timetable_tenant_changed(instance)
    _record(instance, action=Action.PURGE, from_status=instance.status, by=by, reason=reason)
    return instance


def instances_purge_due(*, now=None) -> list[str]:
    """Purge every site whose grace period has ended; returns their slugs."""
    now = now or timezone.now()
    purged = []
    due = Instance.objects.filter(status=Status.DESACTIVE, deletion_due_at__lte=now, purged_at__isnull=True)
    for instance in due:
        try:
            instance_purge(instance=instance, by=None, reason=_("grace period ended"), only_if_due=True)
        except FarmError as exc:  # reactivated meanwhile, say: the others are still purged
            logger.warning("not purging %s: %s", instance.slug, exc)
            continue
        purged.append(instance.slug)
    return purged


@transaction.atomic
def instance_provision_retry(*, instance: Instance, by) -> Instance:
    """Queue provisioning again for a validated site whose schema failed (or never finished)."""
    instance = _locked(instance)
    _require(instance, {Status.PUBLIE}, _("provision"))
    if instance.schema_state == SchemaState.READY:
        raise TransitionNotAllowed(_("“%(slug)s” is already provisioned.") % {"slug": instance.slug})
    _queue_provisioning(instance)
    return instance


@transaction.atomic
def instance_settings_update(*, instance: Instance, form, by=None) -> Instance:
    """Save a site admin's settings form (already valid); a new timezone moves the scheduled tasks too,
    a new cron URL or schedule goes through instance_cron_url_set, and a stricter privacy setting is
    applied to the rows already stored (instances.anonymisations)."""
    old = Instance.objects.filter(pk=instance.pk).values("timezone", "cron_url", "cron_every",
                                                         *PRIVACY_FIELDS).get()
    instance = form.save(commit=False)
    cron_fields = ("cron_url", "cron_every")
    # never the status, whatever the form held; the cron URL only through its service
    instance.save(update_fields=[*(f for f in form.Meta.fields if f not in cron_fields), "updated_at"])
    if instance.timezone != old["timezone"]:
        timetable_tenant_rezoned(instance)
    if any(getattr(instance, f) != old[f] for f in cron_fields if f in form.Meta.fields):
        instance = instance_cron_url_set(instance=instance, url=instance.cron_url, every=instance.cron_every)
    changes = stricter_settings(old, instance)
    if changes:
        anonymisation_schedule(instance=instance, by=by, **changes)
    return instance
