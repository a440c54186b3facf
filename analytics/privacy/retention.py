"""Raw-log retention: a site's raw logs older than its retention (Instance.raw_log_retention_days)
deleted by a daily task, as Matomo's "delete old raw data".

Only days whose reports are archived lose their raw rows: the purge stops at the first older day
that has data but no complete archive (it keeps its rows until the archiving run has read them).
The reports stay; ArchiveState.raw_logs_from records where whole raw logs start, and archiving
never recomputes a day before it (its archive is all that is left of it).

The rows go in small transactions (BATCH rows a statement, each under a short lock_timeout), so
ingest, which only inserts today's rows, keeps its pace meanwhile.
"""
import logging
from datetime import date, timedelta

from django.db import OperationalError, connection, transaction

from analytics.models import Archive, ArchiveState
from analytics.reports.archive import first_data_day, site_timezone, site_today
from analytics.reports.definitions import day_bounds
from farm.cron import RetryableError

logger = logging.getLogger(__name__)
BATCH = 5000
LOCK_TIMEOUT = "2s"
# Children before their visits (no foreign keys bind them, but a visit outliving its rows is harmless
# where the reverse would not be); each table's column placing a row on its day.
_TABLES = (("analytics_action", "at"), ("analytics_conversion", "at"), ("analytics_mediaplay", "first_at"),
           ("analytics_visit", "first_action_at"))


def raw_logs_purge(*, days: int, today: date | None = None, batch: int = BATCH) -> dict:
    """Delete the current site's raw rows of the days more than `days` days before today (site-local)
    that are archived. Returns what went: {"before": first day kept, "<table>": rows deleted, …}.

    Raises RetryableError when a batch waited too long for a lock (the cron tries again later)."""
    today = today or site_today()
    limit = purge_limit(today - timedelta(days=days))
    counts = {"before": limit.isoformat()}
    until = day_bounds(limit, site_timezone())[0]
    for table, column in _TABLES:
        counts[table.removeprefix("analytics_")] = _delete_before(table, column, until, batch)
    if any(isinstance(count, int) and count for count in counts.values()):
        state, _created = ArchiveState.objects.get_or_create(pk=1)
        if state.raw_logs_from is None or state.raw_logs_from < limit:
            ArchiveState.objects.filter(pk=state.pk).update(raw_logs_from=limit)
    return counts


def purge_limit(wanted: date) -> date:
    """The first day whose rows stay: `wanted`, or an older day with data and no complete archive."""
    first = first_data_day()
    if first is None or first >= wanted:
        return wanted
    archived = set(Archive.objects.filter(segment="", period="day", report="VisitsSummary.get", complete=True,
                                          start__gte=first, start__lt=wanted).values_list("start", flat=True))
    tz = site_timezone()
    with connection.cursor() as cursor:  # NB: the days with rows, read on the visits' time index
        cursor.execute("SELECT DISTINCT (first_action_at AT TIME ZONE %s)::date FROM analytics_visit "
                       "WHERE first_action_at >= %s AND first_action_at < %s",
                       [tz, day_bounds(first, tz)[0], day_bounds(wanted, tz)[0]])
        with_data = sorted(day for (day,) in cursor.fetchall())
    return next((day for day in with_data if day not in archived), wanted)


def _delete_before(table: str, column: str, until, batch: int) -> int:
    deleted = 0
    while True:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {column} < %s "
                               f"LIMIT %s)", [until, batch])
                count = cursor.rowcount
        except OperationalError as error:  # NB: lock_timeout; the rows deleted so far stay deleted
            raise RetryableError(f"{table}: a batch waited over {LOCK_TIMEOUT} for a lock ({error})") from None
        deleted += count
        if count < batch:
            return deleted
