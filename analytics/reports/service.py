"""The read side of reports: what the Reporting API and the dashboard call (one path from archive to screen).

Call inside the site's schema (requests are routed there by the middleware). Every function reads
archives; a missing archive of a past period is computed on demand, as Matomo's browser-triggered
archiving does, but the hourly `archive reports` task is the normal path.

    periods_for("week", "last4")                       -> [Period(...), ...]   oldest first
    report("Actions.getPageUrls", period)              -> [{"label": "/blog", "nb_hits": 3, ...}, ...]
    report("VisitsSummary.get", period)                -> {"nb_visits": 12, "bounce_rate": 41.7, ...}
    reports(["VisitsSummary.get", "Goals.get"], period) -> {name: rows or row}
    report_metadata() / report_names()                 -> API.getReportMetadata's content
    freshness()                                        -> when the archiving run last finished

Rows are plain dicts: `label` (always a string), `parent` for sub-table rows (a campaign keyword's
campaign, a search keyword's engine), then Matomo's metric columns, then the ratios. Rates are
percentages as numbers (41.7 for 41.7 %); the API may format them as Matomo's "41.7%".
Errors are ReportError (PeriodError, UnknownReport, NotArchived) with a message fit for the user.

Inside `archiving_bounded(max_archives=N)` (the Reporting API opens one per HTTP request) reads
build at most N archives on demand: a period that would need more is not built, its days are
queued for the next archiving run (ArchiveInvalidation rows), it is listed in the bound's
`deferred`, and the read raises NotArchived, so a caller never shows zeros for unprocessed data.

Inside `segmented(definition)` reads describe only the segment's visits, under the site's
k-anonymity floor (see `segmented`).
"""
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from redis.exceptions import RedisError

from analytics.models import Archive, ArchiveInvalidation, ArchiveState
from analytics.reports import anonymity, catalog, definitions, media
from analytics.reports.archive import (_days_with_data, _empty, _key, archived, first_data_day, frozen, named_sets,
                                       parts_reports, purged_before, site_timezone, site_today, unique_sets)
from analytics.reports.errors import ReportError
from analytics.reports.merge import derive, merge_reports
from analytics.reports.periods import Period, PeriodError
from analytics.reports.periods import periods_for as _periods_for
from analytics.segments import restricted
from analytics.segments.restricted import Selection

_SOURCES = {"Actions.get": ["Actions.getPageUrls", "Actions.getDownloads", "Actions.getOutlinks",
                            "Actions.getSiteSearchKeywords"],
            "Goals.getGoals": ["Goals.get"]}


def periods_for(period: str, value: str | date | tuple[date, date], *, today: date | None = None) -> list[Period]:
    """Matomo's `period` and `date` parameters as periods, oldest first, with the site's today.

    `value`: YYYY-MM-DD, today, yesterday, lastN, previousN, or "A,B" / (A, B) with period=range.
    Raises PeriodError.
    """
    return _periods_for(period, value, today=today or site_today())


def report(name: str, period: Period, *, today: date | None = None) -> list[dict] | dict:
    """One report for one period: a list of rows, or one dict for single-row reports (VisitsSummary.get)."""
    return reports([name], period, today=today)[name]


def report_series(name: str, periods: list[Period], *, today: date | None = None) -> list[list[dict] | dict]:
    """One report over many periods of one kind, oldest first (an evolution graph): their archives
    are read in one query instead of one per period. Derived reports, ranges and bounded reads
    (each period charged to the bound) go period by period."""
    today = today or site_today()
    if (name in catalog.VIEWS or name in _SOURCES or name == "Goals.getGoals" or _bound.get() is not None
            or _segment.get() is not None or any(p.kind == "range" for p in periods)):
        return [report(name, period, today=today) for period in periods]
    spec = catalog.spec(name)
    return [_present(spec, raw.get(name, [])) for raw in parts_reports(periods, today=today, names=[name])]


def reports(names: list[str], period: Period, *, today: date | None = None) -> dict[str, list[dict] | dict]:
    """Several reports of one period in one read (the dashboard's overview asks for a handful)."""
    specs = [catalog.spec(name) for name in names]
    today = today or site_today()
    scope = _segment.get()
    if scope is not None:
        raw = _segment_reports(names, period, today, scope)
    else:
        if (bound := _bound.get()) is not None:
            bound.charge(period, _unbuilt(period, today=today, names=_with_sources(names)), today=today)
        raw = _range(names, period, today) if period.kind == "range" else archived(
            period, today=today, names=_with_sources(names))
    for name, (source, column) in catalog.VIEWS.items():
        if name in names:
            raw[name] = [anonymity.as_view(row, column.partition("_")[0]) if scope else row
                         for row in raw[source] if row[column]]
    if scope is not None:
        return _floored_reports(specs, raw, scope)
    if "Goals.getGoals" in raw:  # each goal's conversion rate is over all the period's visits
        visits = (raw["Goals.get"] or [{}])[0].get("nb_visits", 0)
        raw["Goals.getGoals"] = [{**row, "nb_visits": visits} for row in raw["Goals.getGoals"]]
    return {spec.name: _present(spec, raw.get(spec.name, [])) for spec in specs}


def _with_sources(names: list[str]) -> list[str]:
    """The stored reports needed to answer `names` (views read their source; derived ones their inputs)."""
    stored = {catalog.VIEWS[name][0] if name in catalog.VIEWS else name for name in names}
    return sorted(stored | {source for name in names for source in _SOURCES.get(name, [])})


def _range(names: list[str], period: Period, today: date, segment: Selection | None = None) -> dict[str, list[dict]]:
    """A range merged on the fly from the month, week and day archives that tile it."""
    if period.start > today:
        raise PeriodError(f"the range {period.label} starts after today ({today})")
    parts = [part for part in period.parts() if part.start <= today]
    merged = merge_reports(parts_reports(parts, today=today, names=_with_sources(names), segment=segment))
    if "VisitsSummary.get" in names:
        visitors, users = unique_sets(parts, today=today, segment=segment)
        merged["VisitsSummary.get"][0].update(nb_uniq_visitors=len(visitors), nb_users=len(users))
    if "MediaAnalytics.get" in names:
        media.with_uniques(merged["MediaAnalytics.get"][0], named_sets(parts, segment=segment))
    return merged


def _present(spec: catalog.ReportSpec, rows: list[dict]) -> list[dict] | dict:
    if spec.single_row:
        return spec.with_ratios(rows[0] if rows else dict(spec.defaults))  # a year has no unique counts
    return [spec.with_ratios(row) for row in catalog.ordered(spec, rows)]


def report_names() -> list[str]:
    return [spec.name for spec in catalog.REPORTS]


def report_metadata() -> list[dict]:
    """Each report's category, name, dimension, metrics and processed metrics (API.getReportMetadata)."""
    return [spec.metadata() for spec in catalog.REPORTS]


def freshness() -> datetime | None:
    """When the last archiving run finished (None before the first): "reports processed N minutes ago"."""
    state = ArchiveState.objects.filter(pk=1).only("last_run_at").first()
    return state.last_run_at if state else None


# Bounded on-demand archiving -------------------------------------------------------------------

class NotArchived(ReportError):
    """A period whose archives are missing and would cost more than the request may still build."""

    def __init__(self, period: Period, needed: int):
        super().__init__(f"The reports of {period.kind} {period.label} are not processed yet: they need {needed} "
                         "archives built, more than one request may build. They are queued for the archiving run "
                         "(hourly); ask again after it.")
        self.period = period


@dataclass
class ArchivingBound:
    """How many archives the reads of one request may still build, and the periods left to the cron
    as (site id, period), in the order they were asked."""

    remaining: int
    deferred: list[tuple[int, Period]] = field(default_factory=list)

    def charge(self, period: Period, unbuilt: list[Period], *, today: date, queue: bool = True) -> None:
        """Take the cost of reading `period` (its `unbuilt` archives), or queue them and raise NotArchived."""
        if len(unbuilt) <= self.remaining:
            self.remaining -= len(unbuilt)
            return
        if queue:
            _queue(unbuilt, today=today)
        self.deferred.append((connection.tenant.pk, period))
        raise NotArchived(period, len(unbuilt))


_bound: ContextVar[ArchivingBound | None] = ContextVar("archiving_bound", default=None)


@contextmanager
def archiving_bounded(*, max_archives: int) -> Iterator[ArchivingBound]:
    """Reads inside build at most `max_archives` archives (days from the raw logs, weeks, months and
    years from their parts) on demand, as Matomo's browser-triggered archiving but with a ceiling:
    one request asking for `idSite=all&date=last366` must not build thousands of archives."""
    token = _bound.set(ArchivingBound(max_archives))
    try:
        yield _bound.get()
    finally:
        _bound.reset(token)


def _unbuilt(period: Period, *, today: date, names: list[str], segment: Selection | None = None) -> list[Period]:
    """The archives reading `period` would build now (archive.parts_reports' rules, without building):
    missing or stale ones that are not surely empty, then the missing parts of those longer periods."""
    parts = [p for p in (period.parts() if period.kind == "range" else [period]) if p.start <= today]
    return _unbuilt_parts(parts, today=today, wanted=set(names), segment=segment)


def _unbuilt_parts(parts: list[Period], *, today: date, wanted: set[str], segment: Selection | None) -> list[Period]:
    if not parts:
        return []
    stored: dict[tuple, list[bool]] = {}
    for kind, start, report, complete in Archive.objects.filter(
            segment=_key(segment), period__in={p.kind for p in parts}, start__in={p.start for p in parts}, report__in=wanted
    ).values_list("period", "start", "report", "complete"):
        stored.setdefault((kind, start), []).append(complete)
    cuts = purged_before()
    missing = [p for p in parts if (p.kind, p.start) not in stored and not frozen(p, cuts)]
    first, with_data = (first_data_day(), _days_with_data(missing)) if missing else (None, set())
    unbuilt = []
    for part in parts:
        found = stored.get((part.kind, part.start))
        if frozen(part, cuts) or (found is None and _empty(part, first, with_data)):
            continue
        if found is not None and len(found) >= len(wanted) and (all(found) or not part.ended(today)):
            continue
        unbuilt.append(part)
    inner = sorted({Period.of("month" if p.kind == "year" else "day", day)
                    for p in unbuilt if p.kind != "day" for day in p.days() if day <= today})
    return unbuilt + _unbuilt_parts(inner, today=today, wanted=set(catalog.STORED), segment=segment)


def _queue(unbuilt: list[Period], *, today: date) -> None:
    """Mark days for the next archiving run, which rebuilds them and every week, month and year
    containing them: the unbuilt days, and for an unbuilt longer period without one, its first day."""
    days = {p.start for p in unbuilt if p.kind == "day"}
    days |= {p.start for p in unbuilt if p.kind != "day" and not any(p.start <= d <= p.end for d in days)}
    days -= set(ArchiveInvalidation.objects.filter(day__in=days).values_list("day", flat=True))
    ArchiveInvalidation.objects.bulk_create([ArchiveInvalidation(day=day) for day in sorted(days) if day <= today])


# Segments --------------------------------------------------------------------------------------

class SegmentTooLong(ReportError):
    """A real-time segment over more days than one request may read from the raw logs."""

    def __init__(self, period: Period, days: int, most: int):
        super().__init__(f"This segment is computed from the raw logs on request, at most {most} days in one request "
                         "(all its periods and sites together); "
                         f"{period.kind} {period.label} needs {days}. Pre-process it: save it with “pre-processed” "
                         "in the segment editor (SegmentEditor.add or update with autoArchive=1), and the hourly "
                         "archiving run prepares its reports.")


@dataclass
class SegmentScope:
    """The segment the reads of a request apply, whether its archives are prepared (a saved segment
    with autoArchive), and how many rows each report withheld under the k floor."""

    selection: Selection
    preprocessed: bool
    main_period: Period | None = None
    withheld: dict[str, int] = field(default_factory=dict)
    computed: dict[str, dict] = field(default_factory=dict)  # real-time reports read by this request


_segment: ContextVar[SegmentScope | None] = ContextVar("segment", default=None)


@contextmanager
def segmented(definition: str | None, *, main_period: Period | None = None) -> Iterator[SegmentScope | None]:
    """Reads inside describe only the visits `definition` selects, under the site's k-anonymity
    floor (analytics.reports.anonymity); without a definition, all visits. Call inside the
    site's schema. Raises SegmentError for a definition that cannot be read.

    A saved segment pre-processed by the archiving run (autoArchive) is read from its archives;
    any other is computed from the raw logs for the whole period at once (restricted.Selection),
    cached FARM_SEGMENT_CACHE_SECONDS, and at most as many days a request as the request may
    build archives (FARM_API_MAX_ARCHIVES): beyond that the answer says to pre-process it. Each
    read computes only the passes its reports need, except for `main_period` (a dashboard page's
    period, whose many blocks are then read from one computation).
    """
    scope = None
    if definition:
        site = connection.tenant
        selection = Selection.of(definition, k=site.k_anonymity, timezone=site.timezone)
        scope = SegmentScope(selection, restricted.preprocessed(definition), main_period)
    token = _segment.set(scope)  # NB: None inside another segment's reads means all visits again
    try:
        yield _segment.get()
    finally:
        _segment.reset(token)


def _segment_reports(names: list[str], period: Period, today: date, scope: SegmentScope) -> dict[str, list[dict]]:
    wanted = set(_with_sources(names)) | {source for name in names for source in _POPULATIONS.get(name, [])}
    if any(catalog.spec(name).single_row for name in names):
        wanted.add("VisitsSummary.get")  # its row holds the segment's visitors (the floor's test)
    wanted = sorted(wanted)
    if scope.preprocessed:
        if (bound := _bound.get()) is not None:  # NB: not queued: the run fills a segment's past by itself
            bound.charge(period, _unbuilt(period, today=today, names=wanted, segment=scope.selection), today=today,
                         queue=False)
        if period.kind == "range":
            return _range(wanted, period, today, segment=scope.selection)
        return archived(period, today=today, names=wanted, segment=scope.selection)
    every_pass = period == scope.main_period
    return _real_time(wanted if not every_pass else catalog.STORED, period, today, scope)


def _real_time(names: list[str], period: Period, today: date, scope: SegmentScope) -> dict[str, list[dict]]:
    """The reports of a segment not pre-processed, from the raw logs of the period's days up to today.

    Kept for the request (the scope) and in the cache; only reading the raw logs is charged to the
    request's bound."""
    if period.start > today:
        return merge_reports([])
    selection, last = scope.selection, min(period.end, today)
    days = (last - period.start).days + 1

    def key(reports) -> str:  # NB: what is computed depends on the reports asked, not only on the passes
        asked = hashlib.sha1(",".join(sorted(reports)).encode()).hexdigest()
        return ":".join(["segment", str(connection.tenant.pk), connection.tenant.timezone, selection.key,
                         str(selection.k), str(period.start), str(last), asked])
    for candidate in (key(catalog.STORED), key(names)):  # NB: a page's whole computation serves all its reads
        found = scope.computed.get(candidate) or _cached(candidate)
        if found is not None:
            scope.computed[candidate] = found
            return found
    bound = _bound.get()
    most = bound.remaining if bound is not None else settings.FARM_API_MAX_ARCHIVES
    if days > most:
        raise SegmentTooLong(period, days, settings.FARM_API_MAX_ARCHIVES)
    if bound is not None:
        bound.remaining -= days
    result = definitions.compute(period.start, last, site_timezone(), passes=definitions.passes_for(names),
                                 segment=selection, counted=definitions.with_rows(names), names=names)
    found = scope.computed[key(names)] = derive(result.reports)
    _cache(key(names), found)
    return found


def _cached(key: str):
    try:
        return cache.get(key)
    except RedisError:  # NB: a cache that is away costs a computation, never the answer
        return None


def _cache(key: str, value) -> None:
    try:
        cache.set(key, value, settings.FARM_SEGMENT_CACHE_SECONDS)
    except RedisError:
        pass


# A single-row report's numbers describe these reports' visitors (goals: the converters; media: its
# audience): shown only when those reach k, else a total could give a withheld row away.
_POPULATIONS = {"Goals.get": ["Goals.getGoals"],
                "MediaAnalytics.get": ["MediaAnalytics.getVideoResources", "MediaAnalytics.getAudioResources"]}


def _floored_reports(specs: list[catalog.ReportSpec], raw: dict, scope: SegmentScope) -> dict:
    """Segmented reports under the k floor (see _floored); Actions.get re-derived from the rows shown."""
    summary = (raw.get("VisitsSummary.get") or [{}])[0]
    out = {spec.name: _floored(spec, raw.get(spec.name, []), raw, summary, scope) for spec in specs}
    if "Actions.get" in out and anonymity.segment_visitors(summary) >= scope.selection.k:
        shown = {name: _floored(catalog.spec(name), raw.get(name, []), raw, summary, scope, count=False)
                 for name in _SOURCES["Actions.get"]}
        out["Actions.get"] = catalog.spec("Actions.get").with_ratios(derive(shown)["Actions.get"][0])
    if "Goals.getGoals" in out:  # each goal's conversion rate is over all the period's (segment's) visits
        visits = (raw.get("Goals.get") or [{}])[0].get("nb_visits", 0)
        spec = catalog.spec("Goals.getGoals")
        out["Goals.getGoals"] = [spec.with_ratios({**row, "nb_visits": visits}) for row in out["Goals.getGoals"]]
    return out


def _floored(spec: catalog.ReportSpec, rows: list[dict], raw: dict, summary: dict, scope: SegmentScope, *,
             count: bool = True) -> list[dict] | dict:
    """A segmented report under the k floor: a single-row report is empty when the segment (or the
    population it describes) has fewer than k visitors, and a part of it (new or returning visits)
    describing fewer is zeroed; a table's rows under k are folded into
    "Other" or withheld, and on page rows the entry and exit columns describing fewer than k are
    zeroed (anonymity.floor)."""
    k = scope.selection.k
    if spec.single_row:
        population = [row for name in _POPULATIONS.get(spec.name, []) for row in raw.get(name, [])]
        enough = anonymity.segment_visitors(summary) >= k and (
            spec.name not in _POPULATIONS or anonymity.visitors_of(population) >= k)
        row = anonymity.split_floored(spec.name, rows[0], k) if rows and enough else dict(spec.defaults)
        return spec.with_ratios(anonymity.public(row))
    shown, others, withheld = anonymity.floor(rows, k)
    if withheld and count:
        scope.withheld[spec.name] = scope.withheld.get(spec.name, 0) + withheld
    return [spec.with_ratios(row) for row in [*catalog.ordered(spec, shown), *others]]


def affordable(periods: list[Period]) -> list[Period]:
    """The newest of `periods` (oldest first) that a segment computed on request may be read over in
    this request: half of what it may still read besides the page's own period (the page's other
    reads need the rest); an evolution graph then shows its last weeks rather than failing. All of
    them otherwise."""
    scope = _segment.get()
    if scope is None or scope.preprocessed:
        return periods
    bound = _bound.get()
    main = scope.main_period
    reserved = (main.end - main.start).days + 1 if main is not None and main not in periods else 0
    budget = max((bound.remaining if bound is not None else settings.FARM_API_MAX_ARCHIVES) - reserved, 0) // 2
    kept, used = [], 0
    for period in reversed(periods):
        days = (period.end - period.start).days + 1
        if kept and used + days > budget:
            break
        kept.append(period)
        used += days
    return kept[::-1]


def current_segment() -> str | None:
    """The definition of the segment the reads apply now (None: all visits)."""
    scope = _segment.get()
    return scope.selection.definition if scope else None


def withheld() -> dict[str, int]:
    """Per report, the rows the k floor withheld in this request's segmented reads so far."""
    scope = _segment.get()
    return dict(scope.withheld) if scope else {}
