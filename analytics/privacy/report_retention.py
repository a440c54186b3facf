"""Report retention: a site's archived reports older than its retention in months deleted by a
daily task (Instance.report_retention_months), as Matomo's "delete old aggregated report data".

As Matomo counts it, the current month is not counted: with 2 months on any day of December, the
reports of periods that ended before October 1 go (a week or a year still going on is not old).
Days and weeks always; months and years unless the site keeps them; with "keep basic metrics" the visits summary and goal metrics of those
periods stay (their rows hold visits, unique visitors, users, actions, bounces, visit time,
conversions and revenue). Visitor sets of the deleted periods go with them. Segments' archives
follow the same rules.

Where the reports went is recorded first (ArchiveState.reports_purged_before, only ever moved
forward), so those periods are never built again (archive.frozen), even from raw logs still kept:
a deleted report does not come back on the next read.
"""
from datetime import date, timedelta

from analytics.models import ArchiveState
from analytics.privacy.batches import batch_transaction
from analytics.reports import archive
from analytics.reports.archive import site_today
from farm.cron import RetryableError

BATCH = 5000  # archive rows a transaction
# Matomo's basic metrics (PrivacyManager::getMetricsToKeep, and every goal metric) are in these reports.
BASIC_REPORTS = ("VisitsSummary.get", "Goals.get", "Goals.getGoals")
_TABLES = ("analytics_archive", "analytics_archivevisitors", "analytics_archiveset")


def reports_cutoff(today: date, months: int) -> date:
    """The first day of the month `months` months before today's: periods starting before it go."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def start_bounds(cutoff: date, kinds: list[str]) -> dict[str, date]:
    """Per period kind, the start before which a period ended before `cutoff` (the first of a month)."""
    bounds = {"day": cutoff, "week": cutoff - timedelta(days=6), "month": cutoff, "year": date(cutoff.year, 1, 1)}
    return {kind: bounds[kind] for kind in kinds}


def reports_purge(*, months: int, keep_basic_metrics: bool = True, keep_month_year: bool = True,
                  today: date | None = None, batch: int = BATCH) -> dict:
    """Delete the current site's reports of periods that ended before reports_cutoff(today, months).
    Returns {"before": the cutoff, "archive": report rows deleted, "archivevisitors": …, "archiveset": …}.
    Raises RetryableError while the site's archiving run goes on, or when a batch waited too long
    for a lock (the cron tries again later; the batches done stay done)."""
    cutoff = reports_cutoff(today or site_today(), months)
    kinds = ["day", "week"] + ([] if keep_month_year else ["month", "year"])
    counts = {"before": cutoff.isoformat(), **{table.removeprefix("analytics_"): 0 for table in _TABLES}}
    try:
        with archive.run_lock(wait=False):  # NB: no run builds a month from days being deleted
            bounds = start_bounds(cutoff, kinds)
            _record(bounds)
            for table in _TABLES:
                kept = BASIC_REPORTS if keep_basic_metrics and table == "analytics_archive" else ()
                for kind, before in bounds.items():
                    while True:
                        deleted = _delete_batch(table, kind, before, kept, batch)
                        counts[table.removeprefix("analytics_")] += deleted
                        if deleted < batch:
                            break
    except archive.ArchivingBusy:
        raise RetryableError("the site's archiving run is going on") from None
    return counts


def _record(bounds: dict[str, date]) -> None:
    state, _created = ArchiveState.objects.get_or_create(pk=1)
    cuts = dict(state.reports_purged_before)
    cuts.update({kind: max(cuts.get(kind, ""), before.isoformat()) for kind, before in bounds.items()})
    ArchiveState.objects.filter(pk=state.pk).update(reports_purged_before=cuts)


def _delete_batch(table: str, kind: str, before: date, kept: tuple[str, ...], batch: int) -> int:
    keep = " AND report <> ALL(%(kept)s)" if kept else ""
    with batch_transaction() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE period = %(kind)s "
                       f"AND start < %(before)s{keep} LIMIT %(batch)s)",
                       {"kind": kind, "before": before, "kept": list(kept), "batch": batch})
        return cursor.rowcount
