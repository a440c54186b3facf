"""Raw-log retention: a site's raw logs older than its retention (Instance.raw_log_retention_days)
deleted by a daily task, as Matomo's "delete old raw data".

Only days whose reports are archived lose their raw rows: the purge stops at the first older day
that has data but no complete archive (it keeps its rows until the archiving run has read them).
The reports stay; ArchiveState.raw_logs_from records where whole raw logs start, and archiving
never recomputes a day before it (its archive is all that is left of it).

The rows go in small transactions (BATCH visits with their actions, conversions and media sessions,
each under a short lock_timeout), so ingest, which only inserts today's rows, keeps its pace.
"""
import logging
from datetime import date, timedelta

from django.db import connection

from analytics.models import Archive, ArchiveState
from analytics.privacy.batches import batch_transaction
from analytics.reports import archive
from analytics.reports.archive import days_not_final, first_data_day, site_timezone, site_today
from analytics.reports.definitions import day_bounds
from farm.cron import RetryableError

logger = logging.getLogger(__name__)
BATCH = 1000  # visits a transaction (with their actions: about five times as many rows)
# A visit's rows, deleted with it (by its id, on their visit indexes).
_CHILDREN = (("analytics_action", "visit_id"), ("analytics_conversion", "visit_id"),
             ("analytics_mediaplay", "visit_id"))
_NAMES = {table: table.removeprefix("analytics_") for table in (*(t for t, _c in _CHILDREN), "analytics_visit")}


def raw_logs_purge(*, days: int, today: date | None = None, batch: int = BATCH) -> dict:
    """Delete the current site's raw rows of the days more than `days` days before today (site-local)
    that are archived. Returns what went: {"before": first day kept, "<table>": rows deleted, …}.

    Where raw logs start is recorded first, so that a purge stopped halfway (a lock waited for too
    long, a time limit) never lets archiving recompute a day that lost part of its rows. Raises
    RetryableError when a batch waited too long for a lock (the cron tries again later)."""
    today, first = today or site_today(), first_data_day()
    limit = purge_limit(today - timedelta(days=days), first)
    counts = {"before": limit.isoformat(), **dict.fromkeys(_NAMES.values(), 0)}
    if first is None or first >= limit:
        return counts
    try:
        with archive.run_lock(wait=False):  # NB: no day is archived from rows half deleted
            state, _created = ArchiveState.objects.get_or_create(pk=1)
            if state.raw_logs_from is None or state.raw_logs_from < limit:
                ArchiveState.objects.filter(pk=state.pk).update(raw_logs_from=limit)
            until = day_bounds(limit, site_timezone())[0]
            while True:
                deleted, selected = _delete_visits_before(until, batch)
                for name, count in deleted.items():
                    counts[name] += count
                if selected < batch:
                    return counts
    except archive.ArchivingBusy:
        raise RetryableError("the site's archiving run is going on") from None


def purge_limit(wanted: date, first: date | None) -> date:
    """The first day whose rows stay: `wanted`, or an older day with data (the first since `first`,
    the site's first day with data) whose reports are not final — no complete archive, marked to be
    archived again, or rows the archiving run has not seen."""
    if first is None or first >= wanted:
        return wanted
    archived = set(Archive.objects.filter(segment="", period="day", report="VisitsSummary.get", complete=True,
                                          start__gte=first, start__lt=wanted).values_list("start", flat=True))
    pending = days_not_final()
    tz = site_timezone()
    with connection.cursor() as cursor:  # NB: the days with rows, read on the time indexes
        cursor.execute("SELECT DISTINCT (first_action_at AT TIME ZONE %(tz)s)::date FROM analytics_visit "
                       "WHERE first_action_at >= %(start)s AND first_action_at < %(end)s UNION "
                       "SELECT DISTINCT (at AT TIME ZONE %(tz)s)::date FROM analytics_action "
                       "WHERE at >= %(start)s AND at < %(end)s",
                       {"tz": tz, "start": day_bounds(first, tz)[0], "end": day_bounds(wanted, tz)[0]})
        with_data = sorted(day for (day,) in cursor.fetchall())
    return next((day for day in with_data if day not in archived or day in pending), wanted)


def _delete_visits_before(until, batch: int) -> tuple[dict[str, int], int]:
    """One transaction: up to `batch` visits that started before `until`, with all their rows
    (a visit and its rows go together: nothing is left pointing at a deleted visit). Returns the
    rows deleted per table, and how many visits were selected (fewer than `batch`: the last)."""
    counts = {}
    with batch_transaction() as cursor:
        cursor.execute("SELECT id FROM analytics_visit WHERE first_action_at < %s ORDER BY first_action_at "
                       "LIMIT %s", [until, batch])
        ids = [row[0] for row in cursor.fetchall()]
        for table, column in _CHILDREN:
            cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])
            counts[_NAMES[table]] = cursor.rowcount
        cursor.execute("DELETE FROM analytics_visit WHERE id = ANY(%s)", [ids])
        counts["visit"] = cursor.rowcount
    return counts, len(ids)
