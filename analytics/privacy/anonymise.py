"""Anonymising rows already stored: a site's stricter setting (or PrivacyManager.anonymizeSomeRawData)
applied to the visits, actions and conversions stored before it, as Matomo's "anonymize previously
tracked raw data".

A request is an instances.Anonymisation row: what to do and to which days. The site's task goes
through the visits stored before the request (newer ones were stored under the new settings) in
batches of BATCH visits, each in one transaction with the request's cursor (last_visit_id), so a
worker stopped halfway resumes where it stopped and never applies a change twice; a value already
pseudonymised or coded is left as it is (see _PSEUDONYM). A batch takes no site-wide lock: ingest
writes other columns of a visit (its last action, counts, entry and exit) and only waits, for a
row, on the few visits going on; a batch waits at most a short lock_timeout (bench/retention.py
--work anonymise: holding the ingest's lock instead cut ingest to 0.39× its pace). Reports already
archived stay as they were built.
"""
import logging
import re

from django.utils import timezone as dj_timezone

from analytics.models import Action, Conversion, Visit
from analytics.privacy.batches import batch_transaction
from analytics.reports.archive import site_timezone
from analytics.reports.definitions import day_bounds
from analytics.tracking import visitors
from analytics.tracking.country import country_of
from farm.cron import RetryableError
from instances.models import Anonymisation
from instances.privacy import order_code, referrer_anonymised, user_pseudonym

logger = logging.getLogger(__name__)
BATCH = 1000
# What the door and this module write: a user id already pseudonymised, an order id already coded
# (instances.privacy). Such values are left as they are, so a setting turned off and on again, or
# anonymizeUserId on a site that pseudonymises, never hashes a value twice.
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")
_CODED = re.compile(r"[0-9a-f]{12}")
# The columns anonymizeSomeRawData may empty, by our names and Matomo's, and what they become.
VISIT_COLUMNS = {
    "resolution": "resolution", "config_resolution": "resolution", "language": "language",
    "location_browser_lang": "language", "local_time": "local_time", "visitor_localtime": "local_time",
    "user_agent": "user_agent", "device_brand": "device_brand", "config_device_brand": "device_brand",
    "device_model": "device_model", "config_device_model": "device_model", "os_version": "os_version",
    "config_os_version": "os_version", "browser_version": "browser_version",
    "config_browser_version": "browser_version", "referrer_url": "referrer_url", "referer_url": "referrer_url",
    "campaign_keyword": "campaign_keyword", "referer_keyword": "campaign_keyword", "dimensions": "dimensions",
}
ACTION_COLUMNS = {
    "title": "title", "search_keyword": "search_keyword", "event_name": "event_name",
    "event_value": "event_value", "content_piece": "content_piece", "generation_ms": "generation_ms",
    "dimensions": "dimensions",
}
_EMPTY = {"local_time": None, "event_value": None, "generation_ms": None, "dimensions": {}}


def anonymisations_run(*, site, batch: int = BATCH) -> list[dict]:
    """Carry out the site's scheduled (or interrupted) anonymisations, oldest first, until none is
    left (one asked for meanwhile too). Returns what each changed. Raises RetryableError when a
    batch waited too long for a lock (the batches done stay done; the next run resumes)."""
    done, pending = [], Anonymisation.objects.filter(instance=site, state__in=("scheduled", "running"))
    while (job := pending.order_by("id").first()) is not None:
        try:
            done.append(_run(job, site, batch))
        except RetryableError:
            raise
        except Exception as error:  # noqa: BLE001 — recorded for the Settings page, then the next one
            logger.exception("anonymisation %s of %s failed", job.pk, site.schema_name)
            Anonymisation.objects.filter(pk=job.pk).update(state="failed", error=str(error)[:2000],
                                                           finished_at=dj_timezone.now())
    return done


def _visits(job):
    """The visits the job covers: stored before it was asked for, on its days."""
    visits = Visit.objects.filter(first_action_at__lt=job.requested_at)
    tz = site_timezone()
    if job.first_day:
        visits = visits.filter(first_action_at__gte=day_bounds(job.first_day, tz)[0])
    if job.last_day:
        visits = visits.filter(first_action_at__lt=day_bounds(job.last_day, tz)[1])
    return visits


def _run(job, site, batch: int) -> dict:
    if job.state == "scheduled":
        Anonymisation.objects.filter(pk=job.pk).update(state="running", started_at=dj_timezone.now(),
                                                       visits_total=_visits(job).count())
    while True:
        with batch_transaction():
            job = Anonymisation.objects.select_for_update().get(pk=job.pk)  # NB: one worker a job
            if job.state not in ("scheduled", "running"):
                return job.rows_changed  # another run finished it meanwhile
            ids = list(_visits(job).filter(id__gt=job.last_visit_id).order_by("id")
                       .values_list("id", flat=True)[:batch])
            changed = _anonymise(job, site, ids) if ids else {}
            counts = {name: job.rows_changed.get(name, 0) + changed.get(name, 0)
                      for name in {*job.rows_changed, *changed}}
            fields = {"rows_changed": counts, "visits_done": job.visits_done + len(ids)}
            if len(ids) < batch:
                fields.update(state="done", finished_at=dj_timezone.now())
            if ids:
                fields["last_visit_id"] = ids[-1]
            Anonymisation.objects.filter(pk=job.pk).update(**fields)
        if len(ids) < batch:
            return counts


def _anonymise(job, site, ids: list[int]) -> dict[str, int]:
    """Apply the job to these visits and their rows; how many rows of each table changed."""
    counts = {}
    visits, fields = [], set()
    for visit in Visit.objects.filter(id__in=ids).only("id", "ip", "country", "user_id", "visitor_id",
                                                       "referrer_url"):
        if _visit_changed(visit, job, site, fields):
            visits.append(visit)
    if visits:
        Visit.objects.bulk_update(visits, sorted(fields))
    if job.unset_visit_columns:
        Visit.objects.filter(id__in=ids).update(**{column: _EMPTY.get(column, "") for column in job.unset_visit_columns})
    counts["visit"] = len(ids) if job.unset_visit_columns else len(visits)
    if job.unset_action_columns:
        counts["action"] = Action.objects.filter(visit_id__in=ids).update(
            **{column: _EMPTY.get(column, "") for column in job.unset_action_columns})
    if job.order_ids:
        counts["conversion"] = _orders_coded(job, site, ids)
    return counts


def _orders_coded(job, site, ids: list[int]) -> int:
    """Code or drop the order ids of these visits' conversions. An id already coded (12 hexadecimal
    digits) is left as it is; a code that another row holds already (the same order sent again once
    the site coded them, counted twice then) leaves this row without an id: order ids are unique."""
    orders = [c for c in Conversion.objects.filter(visit_id__in=ids, at__lt=job.requested_at).exclude(order_id="")
              .only("id", "order_id") if job.order_ids == "drop" or not _CODED.fullmatch(c.order_id)]
    for conversion in orders:
        conversion.order_id = "" if job.order_ids == "drop" else order_code(conversion.order_id, site_id=site.pk)
    taken = set(Conversion.objects.filter(order_id__in={c.order_id for c in orders} - {""})
                .values_list("order_id", flat=True))
    for conversion in orders:
        if conversion.order_id in taken:
            conversion.order_id = ""
        taken.add(conversion.order_id)
    Conversion.objects.bulk_update(orders, ["order_id"])
    return len(orders)


def _visit_changed(visit, job, site, fields: set) -> bool:
    """Change one visit in memory as the job says; whether anything changed (`fields` collects which)."""
    before = (visit.ip, visit.country, visit.user_id, visit.visitor_id, visit.referrer_url)
    if job.ip_mask_bytes and visit.ip:
        visit.ip = visitors.mask_ip(visit.ip, mask_bytes=job.ip_mask_bytes)
    if job.relocate and visit.ip:
        visit.country = country_of(visit.ip)
    if job.pseudonymise_user_ids and visit.user_id and not _PSEUDONYM.fullmatch(visit.user_id):
        derived = visit.visitor_id == visitors.visitor_id({"uid": visit.user_id}, config=str)
        visit.user_id = user_pseudonym(visit.user_id, site_id=site.pk)
        if derived:  # the visitor id was the user id's hash: it follows, as for visits stored from now on
            visit.visitor_id = visitors.visitor_id({"uid": visit.user_id}, config=str)
    if job.referrer_anonymisation and visit.referrer_url:
        visit.referrer_url = referrer_anonymised(visit.referrer_url, job.referrer_anonymisation)
    after = (visit.ip, visit.country, visit.user_id, visit.visitor_id, visit.referrer_url)
    names = ("ip", "country", "user_id", "visitor_id", "referrer_url")
    fields.update(name for name, old, new in zip(names, before, after, strict=True) if old != new)
    return before != after


def columns_checked(names: list[str], allowed: dict[str, str], what: str) -> list[str]:
    """Our column names for the names a client gave; raises ValueError naming the ones it may use."""
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"{what} cannot be emptied: {', '.join(unknown)}; these can: "
                         f"{', '.join(sorted(set(allowed)))}")
    return sorted({allowed[name] for name in names})
