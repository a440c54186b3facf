"""Data subjects' rights (GDPR): find a site's visits by a segment, export them whole, delete them.

As Matomo's PrivacyManager: a site admin finds the visits of a person (by visitor id, user id or
any segment expression), then exports or deletes them by visit id. Deleting removes every raw row
of those visits (actions, conversions, media sessions, then the visits) and archives their days
again, with their weeks, months and years, so the reports no longer count them. Every call is
written to the audit trail (instances.models.DataSubjectAudit).

Call inside the site's schema. Results use Matomo's names of the log tables, so its clients read
them: log_visit, log_link_visit_action, log_conversion, log_media.
"""
import logging
import re
from datetime import date, datetime, time
from decimal import Decimal

from django.db import connection, transaction

from analytics.models import Action, ArchiveInvalidation, Conversion, MediaPlay, Visit
from analytics.reports import archive, live
from analytics.reports.archive import site_timezone
from analytics.reports.errors import ReportError
from analytics.segments import grammar
from analytics.tracking.store import site_lock
from instances.models import DataSubjectAudit

logger = logging.getLogger(__name__)
FIND_LIMIT = 401  # visits a search lists at most, as Matomo's findDataSubjects
MAX_VISITS = FIND_LIMIT  # visits one export or deletion takes: what a search lists (2 parameters each)
ARCHIVE_NOW_DAYS = 31  # days a deletion archives again at once; more are left to the hourly run
# What a search shows of each visit: Matomo's findDataSubjects columns (its icons left out).
FOUND_COLUMNS = ("lastActionDateTime", "idVisit", "idSite", "siteName", "visitorId", "visitIp", "userId",
                 "deviceType", "deviceModel", "operatingSystem", "browser", "country")
# Matomo's log table names -> ours and the column naming the visit; children before their visits.
TABLES = {"log_link_visit_action": (Action, "visit_id"), "log_conversion": (Conversion, "visit_id"),
          "log_media": (MediaPlay, "visit_id"), "log_visit": (Visit, "id")}


# The audit trail keeps what was searched, not whom: a condition's value (an email as user id) is left out.
_VALUES = re.compile(rf"({grammar.OPERATOR.pattern})(?:\\.|[^;,\\])*")


class SubjectError(ReportError):
    """A search or a list of visits that cannot be taken; the message says what to send."""


def subjects_find(*, site, by, segment: str) -> list[dict]:
    """The latest visits (at most FIND_LIMIT) the segment selects, newest first, with the columns a
    person needs to recognise them. Raises SegmentError for an expression that cannot be read."""
    if not (segment or "").strip():
        raise SubjectError("Give a segment to find data subjects, e.g. userId==alice or visitorId==0123456789abcdef.")
    found = [{"idSite": site.pk, "siteName": site.name, **visit} for visit in live.last_visits(limit=FIND_LIMIT,
                                                                                             segment=segment)]
    _audit(site, by, DataSubjectAudit.Action.FIND, len(found), {"segment": _VALUES.sub(r"\1…", segment)})
    return [{column: visit.get(column) for column in FOUND_COLUMNS} for visit in found]


def subjects_export(*, site, by, visit_ids: list[int]) -> dict[str, list[dict]]:
    """Every raw row of these visits, per log table (ids the site does not hold are ignored): the
    visits, their actions, conversions and media sessions, nothing of anyone else."""
    ids = checked(visit_ids)
    export = {}
    for name, (model, column) in reversed(TABLES.items()):  # NB: the visits first, as Matomo lists them
        rows = model.objects.filter(**{f"{column}__in": ids}).order_by("id").values()
        export[name] = [{"idsite": site.pk, **{key: _plain(value) for key, value in row.items()}} for row in rows]
    _audit(site, by, DataSubjectAudit.Action.EXPORT, len(export["log_visit"]), {})
    return export


def subjects_delete(*, site, by, visit_ids: list[int]) -> dict[str, int]:
    """Delete every raw row of these visits and archive their days again (then their weeks,
    months and years). Returns the rows deleted per log table.

    The deletion and the days to archive again are committed together (ArchiveInvalidation):
    up to ARCHIVE_NOW_DAYS days are archived again at once, unless the site's archiving run is
    going on; otherwise, or should that fail, the hourly run does it."""
    ids = checked(visit_ids)
    with transaction.atomic():
        deleted = {}
        with connection.cursor() as cursor:
            site_lock(cursor, site.pk)  # NB: ingest may be adding to these very visits: it waits
            days = _days_of(ids)
            for name, (model, column) in TABLES.items():
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE {column} = ANY(%s)", [ids])
                deleted[name] = cursor.rowcount
        marks = ArchiveInvalidation.objects.bulk_create(ArchiveInvalidation(day=day) for day in days)
        _audit(site, by, DataSubjectAudit.Action.DELETE, deleted["log_visit"], {"rows": deleted})
    if days and len(days) <= ARCHIVE_NOW_DAYS:
        try:
            archive.archive_days(days, wait=False)
        except archive.ArchivingBusy:
            pass  # the run going on, or the next one, archives the marked days
        except Exception:  # noqa: BLE001 — the rows are gone; the marks make the hourly run archive the days
            logger.exception("archiving again after deleting data subjects failed; left to the hourly run")
        else:
            ArchiveInvalidation.objects.filter(id__in=[mark.id for mark in marks]).delete()
    return deleted


def checked(visit_ids: list[int]) -> list[int]:
    """The visit ids, once each; raises SubjectError for none or too many."""
    ids = sorted(set(visit_ids))
    if not ids:
        raise SubjectError("Give the visits: visits[0][idsite]=1&visits[0][idvisit]=42 (findDataSubjects lists them).")
    if len(ids) > MAX_VISITS:
        raise SubjectError(f"At most {MAX_VISITS} visits at a time, not {len(ids)}: send them in several calls.")
    return ids


def _days_of(ids: list[int]) -> set[date]:
    """The site-local days holding any row of these visits (a visit's actions may be on its day
    only, but a conversion or a media session is counted on the day of its own time)."""
    zone = site_timezone()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT (at AT TIME ZONE %(tz)s)::date FROM ("
            " SELECT first_action_at AS at FROM analytics_visit WHERE id = ANY(%(ids)s)"
            " UNION ALL SELECT at FROM analytics_action WHERE visit_id = ANY(%(ids)s)"
            " UNION ALL SELECT at FROM analytics_conversion WHERE visit_id = ANY(%(ids)s)"
            " UNION ALL SELECT first_at FROM analytics_mediaplay WHERE visit_id = ANY(%(ids)s)) AS rows",
            {"tz": zone, "ids": ids})
        return {day for (day,) in cursor.fetchall()}


def _plain(value):
    """A column's value as JSON (and CSV) carry it."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)  # a UUID, an address


def _audit(site, by, action: str, visits: int, detail: dict) -> None:
    DataSubjectAudit.objects.create(instance=site, site_name=site.name, by=by, login=by.get_username() if by else "",
                                    action=action, visits=visits, detail=detail)


def audit_trail(site, *, limit: int = 50) -> list[DataSubjectAudit]:
    """The site's latest GDPR actions, newest first (the privacy page shows them)."""
    return list(DataSubjectAudit.objects.filter(instance=site).select_related("by")[:limit])

