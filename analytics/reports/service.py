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
Errors are ReportError (PeriodError, UnknownReport) with a message fit for the user.
"""
from datetime import date, datetime

from analytics.models import ArchiveState
from analytics.reports import catalog
from analytics.reports.archive import archived, parts_reports, site_today, unique_sets
from analytics.reports.merge import merge_reports
from analytics.reports.periods import Period, PeriodError
from analytics.reports.periods import periods_for as _periods_for

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
    are read in one query instead of one per period. Derived reports and ranges go period by period."""
    today = today or site_today()
    if name in catalog.VIEWS or name in _SOURCES or name == "Goals.getGoals" or any(
            p.kind == "range" for p in periods):
        return [report(name, period, today=today) for period in periods]
    spec = catalog.spec(name)
    return [_present(spec, raw.get(name, [])) for raw in parts_reports(periods, today=today, names=[name])]


def reports(names: list[str], period: Period, *, today: date | None = None) -> dict[str, list[dict] | dict]:
    """Several reports of one period in one read (the dashboard's overview asks for a handful)."""
    specs = [catalog.spec(name) for name in names]
    today = today or site_today()
    raw = _range(names, period, today) if period.kind == "range" else archived(
        period, today=today, names=_with_sources(names))
    for name, (source, column) in catalog.VIEWS.items():
        if name in names:
            raw[name] = [row for row in raw[source] if row[column]]
    if "Goals.getGoals" in raw:  # each goal's conversion rate is over all the period's visits
        visits = (raw["Goals.get"] or [{}])[0].get("nb_visits", 0)
        raw["Goals.getGoals"] = [{**row, "nb_visits": visits} for row in raw["Goals.getGoals"]]
    return {spec.name: _present(spec, raw.get(spec.name, [])) for spec in specs}


def _with_sources(names: list[str]) -> list[str]:
    """The stored reports needed to answer `names` (views read their source; derived ones their inputs)."""
    stored = {catalog.VIEWS[name][0] if name in catalog.VIEWS else name for name in names}
    return sorted(stored | {source for name in names for source in _SOURCES.get(name, [])})


def _range(names: list[str], period: Period, today: date) -> dict[str, list[dict]]:
    """A range merged on the fly from the month, week and day archives that tile it."""
    if period.start > today:
        raise PeriodError(f"the range {period.label} starts after today ({today})")
    parts = [part for part in period.parts() if part.start <= today]
    merged = merge_reports(parts_reports(parts, today=today, names=_with_sources(names)))
    if "VisitsSummary.get" in names:
        visitors, users = unique_sets(parts, today=today)
        merged["VisitsSummary.get"][0].update(nb_uniq_visitors=len(visitors), nb_users=len(users))
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
