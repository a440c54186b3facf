"""Requests to anonymise a site's stored rows (instances.Anonymisation): from a stricter setting on
the Settings page or from PrivacyManager.anonymizeSomeRawData, then the site's task woken so the
work starts within the minute (analytics.privacy.anonymise carries it out)."""
from datetime import date

from django.db import transaction

from farm.cron import execution
from farm.cron.dispatch import runs_wake
from farm.cron.models import RunStatus
from farm.cron.periods import Schedule
from farm.cron.timetable import timetable_task_set
from instances.models import Anonymisation, Instance

TASK_NAME = "analytics.privacy.tasks.anonymise_stored_rows"
# The settings a stored row can be brought to, and how strict each value is.
PRIVACY_FIELDS = ("ip_mask_bytes", "geolocate_masked_ip", "pseudonymise_user_ids", "referrer_anonymisation",
                  "order_ids")
_REFERRER_RANK = {"none": 0, "query": 1, "path": 2}
_ORDER_RANK = {"keep": 0, "short": 1, "drop": 2}


def stricter_settings(old: dict, site: Instance) -> dict:
    """What became stricter between `old` (PRIVACY_FIELDS' values) and the site's settings now, as
    Anonymisation fields; empty when nothing did (a looser setting changes no stored row)."""
    changes = {}
    if site.ip_mask_bytes > old["ip_mask_bytes"]:
        changes["ip_mask_bytes"] = site.ip_mask_bytes
        changes["relocate"] = site.geolocate_masked_ip  # its country came from the less masked address
    if site.geolocate_masked_ip and not old["geolocate_masked_ip"]:
        changes["relocate"] = True
    if site.pseudonymise_user_ids and not old["pseudonymise_user_ids"]:
        changes["pseudonymise_user_ids"] = True
    if _REFERRER_RANK[site.referrer_anonymisation] > _REFERRER_RANK[old["referrer_anonymisation"]]:
        changes["referrer_anonymisation"] = site.referrer_anonymisation
    if _ORDER_RANK[site.order_ids] > _ORDER_RANK[old["order_ids"]]:
        changes["order_ids"] = site.order_ids
    return {name: value for name, value in changes.items() if value}


def anonymisation_schedule(*, instance: Instance, by, first_day: date | None = None, last_day: date | None = None,
                           **changes) -> Anonymisation:
    """Record a request and wake the site's task once it is committed."""
    job = Anonymisation.objects.create(instance=instance, requested_by=by, first_day=first_day, last_day=last_day,
                                       **changes)
    transaction.on_commit(lambda: anonymisation_wake(instance))
    return job


def anonymisation_wake(instance: Instance) -> None:
    """Run the site's anonymisation task now (a forced run), turning it on first (opt-in: daily
    after that, to resume a run stopped halfway)."""
    with transaction.atomic():
        task = timetable_task_set(tenant=instance, name=TASK_NAME, schedule=Schedule(period="daily", hour=3))
        if not task.enabled:
            return
        run = execution.run_now(task=task, ignore_lock=True)  # NB: a run going on may have passed its last look
        if run.status == RunStatus.QUEUED:
            transaction.on_commit(lambda: runs_wake([run.pk]))
