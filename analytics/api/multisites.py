"""MultiSites.getAll and MultiSites.getOne: the caller's sites' visits, actions, page views and revenue, with evolution.

Answered from the public per-site daily totals (instances.overview) in one query for all sites,
never by entering site schemas. As Matomo's MultiSites API:
- getAll lists the live sites the caller may view (all of them for a superuser; on a site's own
  domain, that site), labelled by name, without the sites that had no visit unless `enhanced=1`;
  `pattern` keeps the sites whose name or main URL contains it (or whose id it is); the generic
  filters (filter_limit, filter_sort_column, showColumns, …) then apply.
- getOne answers one site's metrics, without label or site columns.
- Each metric's `*_evolution` compares the period with the one before (a range: as many days
  before), the previous value scaled by the share of the current period already passed, written
  as Matomo does ("50%", "-33.3%"; a quotient with format_metrics=0), with `*_evolution_trend`.
- A date of `today` is UTC's today for getAll (sites may be in several timezones, as in Matomo)
  and the site's today for getOne; each site's days are its own local days.
- `enhanced=1` adds conversions, ecommerce orders and their revenue (every site: the farm has no
  per-site ecommerce switch).
- `segment=` reads each site's archives of that segment, which must be pre-processed on every site
  asked (a saved segment with autoArchive on each); otherwise the answer says so.
"""
import re
from typing import NamedTuple

from django.utils import timezone

from analytics.api import access
from analytics.api.dates import periods_asked
from analytics.api.errors import ApiError, NoAccess
from analytics.api.filters import columns, rows_filtered
from analytics.api.formats import Keyed
from analytics.api.params import Params
from analytics.reports import service
from analytics.reports.errors import ReportError
from analytics.reports.periods import Period
from analytics.reports.site_days import TOTALS_REPORTS, totals
from analytics.segments import restricted
from farm.tenancy import in_tenant
from instances import overview
from instances.models import Instance

BASE = {"nb_visits": "visits_evolution", "nb_actions": "actions_evolution", "nb_pageviews": "pageviews_evolution",
        "revenue": "revenue_evolution"}
ENHANCED = {"nb_conversions": "nb_conversions_evolution", "orders": "orders_evolution",
            "ecommerce_revenue": "ecommerce_revenue_evolution"}
PREVIOUS = {"nb_visits": "previous_nb_visits", "nb_actions": "previous_nb_actions",
            "nb_pageviews": "previous_Actions_nb_pageviews", "revenue": "previous_Goal_revenue",
            "nb_conversions": "previous_Goal_nb_conversions", "orders": "previous_Goal_0_nb_conversions",
            "ecommerce_revenue": "previous_Goal_0_revenue"}
CURRENCY_SYMBOL = "€"  # every site reports in EUR (analytics.api.sites.CURRENCY)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
UTC = "UTC"
_NOTHING = ({}, {})  # a site without any summary row in the two periods


def get_all(call) -> list[dict] | Keyed:
    params = call.params
    found = [Listed(*row) for row in access.readable_queryset(call.user, call.host).values_list("pk", "name", "main_url")]
    if not found and not call.user.is_superuser:
        raise NoAccess("You can't access this resource as it requires 'view' access for at least one website.")
    found = _matching(found, params.get("pattern"))
    metrics = _metrics(params)
    present = _presenter(params)
    show = params.get("showColumns")
    keep_empty = params.flag("enhanced") or (show is not None and "nb_visits" not in show.split(","))
    periods, keyed = periods_asked(params, today=overview.today_in(UTC))
    results = {}
    for period in periods:
        span = overview.Span(period.kind, period.start, period.end)
        totals = _totals([site.pk for site in found], span, tuple(metrics), params.get("segment"))
        shared = {"ratio": overview.elapsed_ratio(span, now=timezone.now(), timezone_name=UTC),
                  "periodName": span.kind, "previousRange": previous_range(span.previous())}
        rows = [_site_row(site, totals.get(site.pk, _NOTHING), metrics, shared, present) for site in found
                if keep_empty or totals.get(site.pk, _NOTHING)[0].get("nb_visits")]
        results[period.label] = rows_filtered(rows, params)
    return Keyed("date", results) if keyed else results[periods[0].label]


def get_one(call) -> dict | Keyed:
    params = call.params
    raw = params.id_site or (str(call.host.pk) if call.host is not None else None)
    if raw is None or not re.fullmatch(r"\d{1,9}", raw.strip()):
        raise ApiError("MultiSites.getOne needs one site: idSite=N")
    site = access.site_for(call.user, int(raw), call.host)
    metrics, present = _metrics(params), _presenter(params)
    periods, keyed = periods_asked(params, today=overview.today_in(site.timezone))
    results = {}
    for period in periods:
        span = overview.Span(period.kind, period.start, period.end)
        ratio = overview.elapsed_ratio(span, now=timezone.now(), timezone_name=site.timezone)
        current, previous = _totals([site.pk], span, tuple(metrics), params.get("segment")).get(site.pk, ({}, {}))
        row = _add_evolutions({metric: _number(current.get(metric, 0)) for metric in metrics}, current, previous,
                              metrics, ratio, present)
        results[period.label] = columns(row, params)
    return Keyed("date", results) if keyed else results[periods[0].label]


def _totals(site_ids: list[int], span: overview.Span, metrics: tuple, segment: str | None) -> dict[int, tuple]:
    """Each site's (current, previous) totals: from the public daily totals, or with a segment from
    each site's archives of that segment, which must be pre-processed on every site asked (reading a
    segment from the raw logs of many sites in one request would be unbounded work)."""
    if not segment:
        return overview.sites_totals(site_ids=site_ids, span=span, metrics=metrics)
    sites = list(Instance.objects.filter(pk__in=site_ids).order_by("pk"))
    missing = []
    for site in sites:  # NB: every site checked before any is read (and maybe archived on demand)
        with in_tenant(site):
            if not restricted.preprocessed(segment):
                missing.append(site.pk)
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (" …" if len(missing) > 20 else "")
        raise ApiError(f"MultiSites answers a segment only where it is pre-processed, and it is not on site(s) {shown}: "
                       "save it there with autoArchive=1 (SegmentEditor.add), or ask for those sites' reports one "
                       "site at a time (idSite=N), where a segment is computed on request.")
    found = {}
    for site in sites:
        with in_tenant(site):
            try:
                with service.segmented(segment):
                    today = service.site_today()
                    found[site.pk] = tuple(
                        {metric: value for metric, value in totals(service.reports(TOTALS_REPORTS, _period(part),
                                                                                   today=today)).items()
                         if metric in metrics} for part in (span, span.previous()))
            except ReportError as error:
                raise ApiError(f"site {site.pk}: {error}") from None
    return found


def _period(span: overview.Span) -> Period:
    return Period.span(span.start, span.end) if span.kind == "range" else Period.of(span.kind, span.start)


class Listed(NamedTuple):
    """The little getAll needs of a site (loading 1,000 whole Instance rows costs more than the report)."""

    pk: int
    name: str
    main_url: str


def _site_row(site: Listed, totals: tuple[dict, dict], metrics: dict, shared: dict, present) -> dict:
    """One site's row in Matomo's column order; `shared` holds the period's own columns (ratio, …).

    NB: built key by key into one dict: 1,000 rows of 25 columns are a good part of getAll's time.
    """
    current, previous = totals
    row = {"label": site.name}
    for metric in metrics:
        row[metric] = _number(current.get(metric, 0))
    _add_evolutions(row, current, previous, metrics, shared["ratio"], present)
    row["idsite"], row["ratio"], row["currencySymbol"] = site.pk, shared["ratio"], CURRENCY_SYMBOL
    row["previous_nb_visits"] = _number(previous.get("nb_visits", 0))
    row["periodName"], row["previousRange"] = shared["periodName"], shared["previousRange"]
    for metric in metrics:
        if metric != "nb_visits":
            row[PREVIOUS[metric]] = _number(previous.get(metric, 0))
    row["group"], row["main_url"] = "", site.main_url
    return row


def _add_evolutions(row: dict, current: dict, previous: dict, metrics: dict, ratio: float, present) -> dict:
    """Each metric's `*_evolution` (as `present` writes it) and `*_evolution_trend`, added to `row`."""
    for metric, name in metrics.items():
        quotient = overview.evolution(current.get(metric, 0), previous.get(metric, 0), ratio=ratio)
        row[name], row[f"{name}_trend"] = present(quotient), overview.trend(quotient)
    return row


def _metrics(params: Params) -> dict[str, str]:
    return BASE | ENHANCED if params.flag("enhanced") else BASE


def _presenter(params: Params):
    """Evolutions as Matomo's percent strings, or quotients with format_metrics=0."""
    mode = params.get("format_metrics", "bc")
    if mode not in ("bc", "1", "0"):
        raise ApiError(f"format_metrics must be one of bc, 1, 0, not “{mode[:20]}”")
    return (lambda quotient: quotient) if mode == "0" else overview.percent


def _matching(found: list[Listed], pattern: str | None) -> list[Listed]:
    """Sites whose name or main URL contains `pattern` (any case), or whose id it is (Matomo's pattern)."""
    if not pattern:
        return found
    wanted = pattern.strip().lower()
    return [site for site in found if wanted in site.name.lower() or wanted in (site.main_url or "").lower()
            or (wanted.isdigit() and int(wanted) == site.pk)]


def _number(value):
    """Counts as integers, money with at most two decimals (30, not 30.0)."""
    if isinstance(value, int):
        return value
    value = round(float(value or 0), 2)
    return int(value) if value.is_integer() else value


def previous_range(span: overview.Span) -> str:
    """The period in Matomo's short English form: "Sat, Jan 2", "Dec 21 – 27, 2009", "Dec 2009", "2009"."""
    start, end = span.start, span.end
    if span.kind == "day":
        return f"{_WEEKDAYS[start.weekday()]}, {_MONTHS[start.month - 1]} {start.day}"
    if span.kind == "month":
        return f"{_MONTHS[start.month - 1]} {start.year}"
    if span.kind == "year":
        return str(start.year)
    if start.year != end.year:
        return f"{_MONTHS[start.month - 1]} {start.day}, {start.year} – {_MONTHS[end.month - 1]} {end.day}, {end.year}"
    if start.month != end.month:
        return f"{_MONTHS[start.month - 1]} {start.day} – {_MONTHS[end.month - 1]} {end.day}, {end.year}"
    return f"{_MONTHS[start.month - 1]} {start.day} – {end.day}, {end.year}"


METHODS = {
    "MultiSites.getAll": (get_all, "farm"),
    "MultiSites.getOne": (get_one, "farm"),
}
