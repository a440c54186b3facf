"""Archives: storing day reports, building weeks, months and years from them, and invalidating by late data.

Call everything inside the site's schema (farm.tenancy.in_tenant); days are site-local, in the
Instance's timezone. Only day archives read the raw logs (analytics.reports.definitions); a week or
a month merges its day archives, a year its month archives, so no longer period ever scans logs.

Invalidation needs nothing from ingest: the archiving run remembers the highest ids of the log
tables it has seen (ArchiveState). Rows above them are new or late; the distinct local days they
fall on, today, days archived before they were over, and closed days ingest marked because a
heartbeat or a media progress lengthened one of their visits without adding a row
(ArchiveInvalidation) are archived again, then the weeks, months and years containing them. Any
other closed day's archive is left untouched.

Saved segments marked for pre-processing (autoArchive) get archives of their own (`segment` holds
their key), built the same way from their visits only, by the same run and for the same days, plus
a bounded slice of their past each run until it is complete.
"""
import logging
import time as monotonic
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from analytics.models import Archive, ArchiveInvalidation, ArchiveSet, ArchiveState, ArchiveVisitors, SavedSegment
from analytics.reports import media
from analytics.reports.catalog import MEDIA_UNIQUE_COLUMNS, STORED
from analytics.reports.definitions import compute
from analytics.reports.merge import derive, merge_reports, pack, union, unpack
from analytics.reports.periods import Period
from analytics.reports.site_days import site_day_store
from analytics.segments.grammar import SegmentError
from analytics.segments.restricted import Selection
from analytics.tracking.store import site_lock  # the ingest writers' lock: no batch is half-seen (see _watermarks)

logger = logging.getLogger(__name__)
_ARCHIVE_LOCK = 4244  # pg_advisory_lock(4244, instance id): one archiving run per site at a time
_LONGER = ("week", "month", "year")
_LOG_TABLES = (  # (table, time column for the local day, ArchiveState field)
    ("analytics_visit", "first_action_at", "max_visit_id"),
    ("analytics_action", "at", "max_action_id"),
    ("analytics_conversion", "at", "max_conversion_id"),
    ("analytics_mediaplay", "first_at", "max_media_id"),
)


def site_timezone() -> str:
    return connection.tenant.timezone


def site_today(now: datetime | None = None) -> date:
    """Today in the site's timezone."""
    return (now or dj_timezone.now()).astimezone(ZoneInfo(site_timezone())).date()


def _key(segment: Selection | None) -> str:
    return segment.key if segment is not None else ""


_BUILT_FROM = {"week": "day", "month": "day", "year": "month"}


def purged_before() -> dict[str, date]:
    """Per period kind, the start before which the report retention deleted that kind's reports
    (analytics.privacy.report_retention); empty when it never ran."""
    cuts = ArchiveState.objects.filter(pk=1).values_list("reports_purged_before", flat=True).first()
    return {kind: date.fromisoformat(day) for kind, day in (cuts or {}).items()}


def frozen(period: Period, cuts: dict[str, date]) -> bool:
    """Whether the report retention deleted this period's reports: it is never built again, what is
    stored of it (its basic metrics, if kept) is all there is, even where raw logs are still kept."""
    return period.kind in cuts and period.start < cuts[period.kind]


def _parts_gone(period: Period, cuts: dict[str, date]) -> bool:
    """Whether the report retention deleted reports of the parts this period is built from (the
    days of a kept month, the months of a year still going on)."""
    kind = _BUILT_FROM.get(period.kind)
    return kind in cuts and period.start < cuts[kind]


def _stored(period: Period, segment: Selection | None) -> dict[str, list[dict]]:
    """What is stored of a period, every report of the catalogue present (empty where none is)."""
    return {**merge_reports([]), **dict(Archive.objects.filter(segment=_key(segment), period=period.kind,
                                                               start=period.start).values_list("report", "rows"))}


@transaction.atomic
def _store(period: Period, reports: dict, sets: tuple[np.ndarray, np.ndarray] | None, *, today: date,
           named: dict[str, np.ndarray] | None = None, segment: Selection | None = None) -> None:
    now, complete, key = dj_timezone.now(), period.ended(today), _key(segment)
    Archive.objects.bulk_create(
        [Archive(segment=key, period=period.kind, start=period.start, report=name, rows=rows, computed_at=now,
                 complete=complete) for name, rows in reports.items()],
        update_conflicts=True, unique_fields=["segment", "period", "start", "report"],
        update_fields=["rows", "computed_at", "complete"])
    if sets is not None:
        ArchiveVisitors.objects.update_or_create(segment=key, period=period.kind, start=period.start,
                                                 defaults={"visitors": pack(sets[0]), "users": pack(sets[1])})
    if named is not None:
        ArchiveSet.objects.bulk_create(
            [ArchiveSet(segment=key, period=period.kind, start=period.start, name=name, ids=pack(ids))
             for name, ids in named.items()],
            update_conflicts=True, unique_fields=["segment", "period", "start", "name"], update_fields=["ids"])


def archive_day(day: date, *, today: date, segment: Selection | None = None) -> dict[str, list[dict]]:
    """Compute one day's reports from the raw logs and store them (replacing any older archive);
    of a segment's visits only when one is given (a pre-processed segment). A day whose raw logs
    the retention deleted (analytics.privacy.retention) is not computed again while it has an
    archive: its stored reports are all that is left of it, and are returned as they are; nor is a
    day whose reports the report retention deleted (see frozen)."""
    state = ArchiveState.objects.filter(pk=1).values("raw_logs_from", "reports_purged_before").first() or {}
    cuts = {kind: date.fromisoformat(start) for kind, start in (state.get("reports_purged_before") or {}).items()}
    kept = frozen(Period.of("day", day), cuts)
    if kept or (state.get("raw_logs_from") is not None and state["raw_logs_from"] > day):
        stored = Archive.objects.filter(segment=_key(segment), period="day", start=day)
        if kept or stored.exists():  # NB: raw logs gone but no archive (rows imported later): computed
            if day < today:  # it can change no more: an archive made before the day ended is final now
                stored.filter(complete=False).update(complete=True)
            return _stored(Period.of("day", day), segment)
    result = compute(day, day, site_timezone(), segment=segment)
    reports = derive(result.reports)
    with transaction.atomic():
        _store(Period.of("day", day), reports, (result.visitors, result.users), today=today, named=result.sets,
               segment=segment)
        if segment is None:
            site_day_store(day, reports)  # the public "All websites" row (instances.overview)
    return reports


def archive_period(period: Period, *, today: date, segment: Selection | None = None) -> dict[str, list[dict]]:
    """Build a week or month from its day archives, or a year from its month archives, and store it.

    Parts after today hold no data and are skipped; missing parts are archived first. Unique
    visitors and users of a week or month are the exact union of its days' sets. A year has no
    nb_uniq_visitors / nb_users, as in Matomo by default: a year's visitor set would cost more than
    it is worth, and a sum of monthly uniques would be wrong.
    """
    cuts = purged_before()
    stored = Archive.objects.filter(segment=_key(segment), period=period.kind, start=period.start)
    if frozen(period, cuts) or (_parts_gone(period, cuts) and period.ended(today) and stored.exists()):
        # NB: an ended period whose parts lost their detail keeps its archive; one still going on
        # (this year) is built from what its parts kept, so it keeps growing
        stored.filter(complete=False).update(complete=True)
        return _stored(period, segment)
    kind = "month" if period.kind == "year" else "day"
    parts = sorted({Period.of(kind, day) for day in period.days() if day <= today})
    reports = merge_reports(parts_reports(parts, today=today, segment=segment))
    summary, media_row = reports["VisitsSummary.get"][0], reports["MediaAnalytics.get"][0]
    if period.kind == "year":
        sets = named = None
        summary.pop("nb_uniq_visitors", None)
        summary.pop("nb_users", None)
        for column in MEDIA_UNIQUE_COLUMNS:
            media_row.pop(column, None)
    else:
        sets, named = unique_sets(parts, today=today, segment=segment), named_sets(parts, segment=segment)
        summary["nb_uniq_visitors"], summary["nb_users"] = len(sets[0]), len(sets[1])
        media.with_uniques(media_row, named)
    _store(period, reports, sets, today=today, named=named, segment=segment)
    return reports


def archived(period: Period, *, today: date, names: list[str] | None = None,
             segment: Selection | None = None) -> dict[str, list[dict]]:
    """The stored reports of a day, week, month or year (only `names` if given), archiving on demand.

    Like Matomo's browser-triggered archiving, a missing archive, or one computed before its
    period was over, is (re)computed now; the hourly run makes this the exception.
    """
    return parts_reports([period], today=today, names=names, segment=segment)[0]


def parts_reports(parts: list[Period], *, today: date, names: list[str] | None = None,
                  segment: Selection | None = None) -> list[dict]:
    """The reports of several periods of one kind, read in one query; missing or stale ones rebuilt.

    A past day that has neither an archive nor any log row is empty, and so is any period that ends
    before the site's first log row: they are not computed (nor stored), which keeps a year's first
    build cheap. Should rows arrive for it later, the
    watermarks of the next run find that day.
    """
    wanted = set(names) if names is not None else set(STORED)
    cuts = purged_before()
    found: dict[tuple, dict] = {}
    for archive in Archive.objects.filter(segment=_key(segment), period__in={p.kind for p in parts},
                                          start__in=[p.start for p in parts], report__in=wanted).only("period", "start", "report", "rows", "complete"):
        found.setdefault((archive.period, archive.start), {})[archive.report] = archive
    fresh = {}
    for part in parts:
        stored = found.get((part.kind, part.start), {})
        if frozen(part, cuts):  # the report retention went by: what is left, never rebuilt
            fresh[part] = {**merge_reports([]), **{name: a.rows for name, a in stored.items()}}
        elif stored.keys() >= wanted and not any(part.ended(today) and not a.complete for a in stored.values()):
            fresh[part] = {name: a.rows for name, a in stored.items()}
    missing = [p for p in parts if p not in fresh and (p.kind, p.start) not in found]
    with_data = _days_with_data(missing)
    first = _first_day(segment) if missing else None
    out = []
    for part in parts:
        if part in fresh:
            reports = fresh[part]
        elif part.start > today or ((part.kind, part.start) not in found and _empty(part, first, with_data)):
            reports = merge_reports([])
        else:
            reports = _rebuild(part, today=today, segment=segment)
        out.append({name: rows for name, rows in reports.items() if name in wanted})
    return out


def _rebuild(period: Period, *, today: date, segment: Selection | None = None) -> dict[str, list[dict]]:
    if period.kind == "day":
        return archive_day(period.start, today=today, segment=segment)
    return archive_period(period, today=today, segment=segment)


def _empty(part: Period, first: date | None, with_data: set[date]) -> bool:
    """Whether a period without an archive surely has no data: before the first log row, or a day
    without any row."""
    return first is None or part.end < first or (part.kind == "day" and part.start not in with_data)


def _first_day(segment: Selection | None) -> date | None:
    """The first day with data; for a segment pre-processed from a later day (`since`), that day:
    periods ending before it are empty for it, never built from the logs."""
    first = first_data_day()
    if first is not None and segment is not None:  # NB: nor days the report retention emptied
        return max(first, segment.since or first, purged_before().get("day", first))
    return first


def first_data_day() -> date | None:
    """The site-local day of its earliest log row (None without any). Periods that end before it
    are empty without being built: a range from 1991 on a young site is answered at once."""
    sql = "SELECT min(first) FROM (" + " UNION ALL ".join(
        f"SELECT min({column}) AS first FROM {table}" for table, column, _f in _LOG_TABLES[:3]) + ") AS firsts"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        first = cursor.fetchone()[0]
    return first.astimezone(ZoneInfo(site_timezone())).date() if first else None


def _days_with_data(parts: list[Period]) -> set[date]:
    """The local days, among day parts, on which any visit, action or conversion happened.

    Each day is probed on its own (an index lookup per table), not its whole span read: the days
    asked are often a site's gaps, scattered over months, asked again by every run (a pre-processed
    segment's past), and reading every row between the first and the last cost a run seconds.
    """
    days = sorted({p.start for p in parts if p.kind == "day"})
    if not days:
        return set()
    # NB: a local midnight as an instant, DST-safe: the day's date at 00:00 read in the site's zone
    local = "((d.day + {})::timestamp AT TIME ZONE %(tz)s)"
    probes = " OR ".join(f"EXISTS (SELECT 1 FROM {table} WHERE {column} >= {local.format(0)} "
                         f"AND {column} < {local.format(1)})" for table, column, _f in _LOG_TABLES[:3])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT d.day FROM unnest(%(days)s::date[]) AS d(day) WHERE {probes}",
                       {"days": days, "tz": site_timezone()})
        return {row[0] for row in cursor.fetchall()}


def unique_sets(parts: list[Period], *, today: date, segment: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The union of the visitor and user sets of day, week or month parts (archiving missing parts)."""
    parts = [part for part in parts if part.start <= today]
    stored = {(s.period, s.start): s for s in ArchiveVisitors.objects.filter(
        segment=_key(segment), period__in={p.kind for p in parts}, start__in={p.start for p in parts})}
    missing = [part for part in parts if (part.kind, part.start) not in stored]
    with_data = _days_with_data(missing)
    first = _first_day(segment) if missing else None
    visitors, users = [], []
    cuts = purged_before()
    for part in parts:
        row = stored.get((part.kind, part.start))
        if row is None and (frozen(part, cuts) or _empty(part, first, with_data)):
            continue
        if row is None:
            _rebuild(part, today=today, segment=segment)
            row = ArchiveVisitors.objects.get(segment=_key(segment), period=part.kind, start=part.start)
        visitors.append(unpack(row.visitors))
        users.append(unpack(row.users))
    return union(visitors), union(users)


def named_sets(parts: list[Period], *, segment: Selection | None = None) -> dict[str, np.ndarray]:
    """The union, by name, of the named visitor sets of already archived day, week or month parts."""
    found: dict[str, list[np.ndarray]] = {}
    keys = {(p.kind, p.start) for p in parts}
    for kind, start, name, ids in ArchiveSet.objects.filter(
            segment=_key(segment), period__in={p.kind for p in parts}, start__in={p.start for p in parts}
    ).values_list("period", "start", "name", "ids"):
        if (kind, start) in keys:
            found.setdefault(name, []).append(unpack(ids))
    return {name: union(sets) for name, sets in found.items()}


def _watermarks() -> dict[str, int]:
    """The current highest id of each log table, read while no ingest batch is in flight.

    NB: ids come from sequences, so a batch still being written may hold ids below ones already
    committed; reading under the ingest lock means every id up to these marks is committed.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        site_lock(cursor, connection.tenant.pk)
        cursor.execute("SELECT " + ", ".join(f"(SELECT COALESCE(max(id), 0) FROM {t})" for t, _c, _f in _LOG_TABLES))
        return dict(zip((f for _t, _c, f in _LOG_TABLES), cursor.fetchone()))


def changed_days(state: ArchiveState, marks: dict[str, int]) -> set[date]:
    """The site-local days of log rows stored since the last run (ids above its watermarks)."""
    parts, params = [], []
    for table, column, mark in _LOG_TABLES:
        parts.append(f"SELECT DISTINCT ({column} AT TIME ZONE %s)::date FROM {table} WHERE id > %s AND id <= %s")
        params += [site_timezone(), getattr(state, mark), marks[mark]]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ".join(parts), params)
        return {row[0] for row in cursor.fetchall()}


def days_not_final() -> set[date]:
    """The days the next archiving run will archive again: holding rows it has not seen, or marked."""
    state, _created = ArchiveState.objects.get_or_create(pk=1)
    return changed_days(state, _watermarks()) | set(ArchiveInvalidation.objects.values_list("day", flat=True))


def containing(days: set[date]) -> list[Period]:
    """The weeks, then months, then years that contain `days` (years last: they read months)."""
    return [period for kind in _LONGER for period in sorted({Period.of(kind, day) for day in days})]


@dataclass
class RunSummary:
    days: list[date] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)
    seconds: float = 0.0
    segments: dict[str, int] = field(default_factory=dict)  # pre-processed segment -> days archived


SEGMENT_DAYS_PER_RUN = 31  # a new pre-processed segment's past is filled in this many days a run, newest first


def preprocessed_segments() -> list[Selection]:
    """The site's saved segments the archiving run prepares (autoArchive), once per definition,
    each with the day it is prepared from (`since`; None: the site's first data). A definition that
    no longer reads (a dimension gone since) is skipped, and said so in the log."""
    found: dict[str, Selection] = {}
    for saved in SavedSegment.objects.filter(auto_archive=True).order_by("pk"):
        try:
            segment = Selection.of(saved.definition, k=connection.tenant.k_anonymity, timezone=site_timezone())
        except SegmentError as error:
            logger.warning("saved segment %s of %s not archived: %s", saved.pk, connection.tenant.schema_name, error)
            continue
        earlier = found[segment.key].since if segment.key in found else saved.archive_from
        since = None if earlier is None or saved.archive_from is None else min(earlier, saved.archive_from)
        found[segment.key] = replace(segment, since=since)
    return list(found.values())


def _archive_segment(segment: Selection, *, today: date, deadline: float) -> int:
    """Archive a pre-processed segment's days (see _segment_days), newest first, each committed on
    its own, then the weeks, months and years containing them whose parts are all there; stop at
    `deadline` (monotonic seconds). How many days. A failure is logged and left for the next run
    (the days it did not reach are still stale then), never the site's run."""
    done: list[date] = []
    try:
        for day in _segment_days(segment, today=today):
            if monotonic.monotonic() > deadline:
                break
            archive_day(day, today=today, segment=segment)
            done.append(day)
        for period in containing(set(done)):
            if monotonic.monotonic() > deadline:
                break
            if _parts_ready(period, segment, today=today):
                archive_period(period, today=today, segment=segment)
    except Exception:  # noqa: BLE001 — one segment's failure must not stop the others nor all-visits archiving
        logger.exception("segment %r of %s not archived", segment.definition, connection.tenant.schema_name)
    return len(done)


def _segment_days(segment: Selection, *, today: date) -> list[date]:
    """The days a run archives for a pre-processed segment, at most SEGMENT_DAYS_PER_RUN, newest
    first: today; its days archived before the same day's archive of all visits (that day's logs
    changed since) or before they ended; then days of its past not archived yet that have data."""
    first = _first_day(segment) or today
    if first > today:
        return []
    days = Archive.objects.filter(period="day", report="VisitsSummary.get", start__gte=first, start__lte=today)
    base = dict(days.filter(segment="").values_list("start", "computed_at"))
    mine = {day: (at, complete) for day, at, complete in
            days.filter(segment=segment.key).values_list("start", "computed_at", "complete")}
    stale = sorted({day for day, (at, complete) in mine.items()
                    if (day in base and at < base[day]) or (not complete and day < today)} - {today}, reverse=True)
    chosen = [today, *stale][:SEGMENT_DAYS_PER_RUN]
    if len(chosen) < SEGMENT_DAYS_PER_RUN:
        past = sorted(set(Period.span(first, today).days()) - set(mine) - {today}, reverse=True)
        with_data = _days_with_data([Period.of("day", day) for day in past])
        chosen += [day for day in past if day in with_data][:SEGMENT_DAYS_PER_RUN - len(chosen)]
    return chosen


def _parts_ready(period: Period, segment: Selection, *, today: date) -> bool:
    """Whether every part of a segment's week, month or year from its first day on is archived (or
    has no data): only then is it built, so that a run never archives a whole year of days on the
    way (its past is filled SEGMENT_DAYS_PER_RUN days a run)."""
    first = _first_day(segment) or today
    kind = "month" if period.kind == "year" else "day"
    parts = sorted({Period.of(kind, day) for day in period.days() if first <= day <= today})
    have = set(Archive.objects.filter(segment=segment.key, period=kind, report="VisitsSummary.get",
                                      start__in=[part.start for part in parts]).values_list("start", flat=True))
    missing = [Period.of("day", day) for part in parts if part.start not in have
               for day in part.days() if first <= day <= today]
    return not (_days_with_data(missing) & {part.start for part in missing})  # NB: it reads their whole span


class _RunLock:
    """A session advisory lock: one archiving run per site at a time (the cron and the command).
    `wait=False`: raise ArchivingBusy at once when another run holds it (a request never waits)."""

    def __init__(self, *, wait: bool = True):
        self.wait = wait

    def __enter__(self):
        with connection.cursor() as cursor:
            if self.wait:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ARCHIVE_LOCK, connection.tenant.pk])
                return
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_ARCHIVE_LOCK, connection.tenant.pk])
            if not cursor.fetchone()[0]:
                raise ArchivingBusy("another archiving run of this site is going on")

    def __exit__(self, *exc):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ARCHIVE_LOCK, connection.tenant.pk])


class ArchivingBusy(Exception):
    """archive_days(wait=False) found the site's archiving run going on."""


def run_lock(*, wait: bool = True) -> _RunLock:
    """Hold the site's archiving lock (`with run_lock(): …`) while changing what archiving reads
    (the retention's deletions); wait=False raises ArchivingBusy when a run holds it."""
    return _RunLock(wait=wait)


def archive_run(*, now: datetime | None = None) -> RunSummary:
    """The hourly archiving of one site: today, late-data days, days archived before they ended.

    Then the weeks, months and years containing them. The watermarks advance only once all of it
    is stored, so a run that fails is simply done again by the next one. A site with nothing new
    since its last run (no row, no mark, today archived, nothing left unfinished, no pre-processed
    segment) is left as it is: most sites of a farm, most hours (measured: 45 ms a site archiving
    an empty today again, against a few milliseconds for the checks).
    """
    started, today = monotonic.monotonic(), site_today(now)
    with _RunLock():
        state, _created = ArchiveState.objects.get_or_create(pk=1)
        marks = _watermarks()
        unfinished = set(Archive.objects.filter(segment="", period="day", complete=False, start__lt=today)
                         .values_list("start", flat=True).distinct())
        marked = dict(ArchiveInvalidation.objects.values_list("id", "day"))
        segments = preprocessed_segments()
        if not (marked or unfinished or segments) and all(getattr(state, f) == mark for f, mark in marks.items()) \
                and Archive.objects.filter(segment="", period="day", start=today, report="VisitsSummary.get").exists():
            summary = RunSummary(seconds=monotonic.monotonic() - started)
            ArchiveState.objects.filter(pk=state.pk).update(last_run_at=dj_timezone.now(), last_run_seconds=summary.seconds)
            return summary
        days = changed_days(state, marks) | {today} | unfinished | set(marked.values())
        summary = RunSummary(days=sorted(days), periods=containing(days))
        for day in summary.days:
            archive_day(day, today=today)
        for period in summary.periods:
            archive_period(period, today=today)
        summary.seconds = monotonic.monotonic() - started
        ArchiveState.objects.filter(pk=state.pk).update(**marks, last_run_at=dj_timezone.now(),
                                                        last_run_seconds=summary.seconds)
        ArchiveInvalidation.objects.filter(id__in=marked).delete()  # NB: only those seen; others came meanwhile
        # Then the pre-processed segments, within a time budget, starting with another one each hour:
        # a segment left out (or failing) is caught up by a later run (_segment_days compares archives).
        turn = (now or dj_timezone.now()).hour % len(segments) if segments else 0
        deadline = monotonic.monotonic() + settings.FARM_SEGMENT_ARCHIVE_SECONDS
        for segment in segments[turn:] + segments[:turn]:
            if monotonic.monotonic() > deadline:
                break
            summary.segments[segment.definition] = _archive_segment(segment, today=today, deadline=deadline)
        summary.seconds = monotonic.monotonic() - started
    return summary


def archive_range(start: date, end: date, *, now: datetime | None = None, progress=None) -> RunSummary:
    """Archive every day from `start` to `end` again, then their weeks, months and years.

    `progress(done, total)` is called after each step (the command draws its bar with it).
    """
    return archive_days(set(Period.span(start, end).days()), now=now, progress=progress)


def archive_days(days: set[date], *, now: datetime | None = None, progress=None, wait: bool = True) -> RunSummary:
    """Archive these days again, then their weeks, months and years (after late data a person
    removed, e.g. a data subject's visits deleted); see archive_range. `wait=False`: raise
    ArchivingBusy rather than wait for a run going on."""
    started, today = monotonic.monotonic(), site_today(now)
    summary = RunSummary(days=sorted(days), periods=containing(days))
    total = len(summary.days) + len(summary.periods)
    with _RunLock(wait=wait):
        for done, item in enumerate([*summary.days, *summary.periods], 1):
            if isinstance(item, Period):
                archive_period(item, today=today)
            else:
                archive_day(item, today=today)
            if progress:
                progress(done, total)
    summary.seconds = monotonic.monotonic() - started
    return summary
