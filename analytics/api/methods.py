"""The method table: each Matomo API method, what it needs (a site, a period) and the function answering it.

`answer(params, user=, host=)` is the whole call: it finds the method, resolves the sites (access),
enters each site's schema, resolves the periods, runs the method and applies the generic filters.
Multi-site answers are keyed by idsite, multi-period ones (date=lastN/previousN) by date label.
Report methods are read from analytics.reports.service, so every archived report is answered.
`answer_bounded` is the HTTP request's entry: it caps the archives the whole request (all its sites,
periods and bulk sub-requests) may build on demand; a period beyond the cap is queued for the
archiving run, left out of a multi-period answer (an error for a single period) and named in
the list the view sends as X-Farm-Not-Archived.
"""
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Callable

from django.conf import settings
from django.utils import translation

from analytics.api import access, multisites, privacy, rates, scheduled_reports, sites, tables
from analytics.api.dates import periods_asked
from analytics.api.errors import ApiError, NoAccess, unexpected
from analytics.api.filters import columns, page, rows_filtered, stream_filtered
from analytics.api.formats import SUCCESS, Keyed, Stream
from analytics.api.params import Params
from analytics.reports import anonymity, labels, live, service
from analytics.reports.archive import site_timezone
from analytics.reports.definitions import span_bounds
from analytics.reports.errors import ReportError
from analytics.segments import query, saved
from analytics.segments.metadata import segments_metadata
from analytics.segments.suggest import suggested_values
from farm.tenancy import in_tenant
from instances.models import Instance
from instances.site_access import sees_visitors

_VISITOR_ID = re.compile(r"^[0-9a-fA-F]{16}$")
MAX_BULK = 100
VALUE_METHODS = {"VisitsSummary.getVisits": "nb_visits", "VisitsSummary.getUniqueVisitors": "nb_uniq_visitors",
                 "VisitsSummary.getUsers": "nb_users", "VisitsSummary.getActions": "nb_actions",
                 "VisitsSummary.getMaxActions": "max_actions", "VisitsSummary.getBounceCount": "bounce_count",
                 "VisitsSummary.getVisitsConverted": "nb_visits_converted",
                 "VisitsSummary.getSumVisitsLength": "sum_visit_length"}


@dataclass(frozen=True)
class Call:
    """What a method receives: the parameters, the caller, and the site and period it answers for."""

    params: Params
    user: object
    host: Instance | None
    site: Instance | None = None
    period: object = None


@dataclass(frozen=True)
class Method:
    """`scope`: "period" (per site, per period), "site" (per site) or "farm" (no idSite).
    `paged`: the method applies filter_offset/filter_limit itself (in its query)."""

    run: Callable[[Call], object]
    scope: str = "period"
    paged: bool = False


def answer_bounded(params: Params, *, user, host: Instance | None) -> tuple[object, list[str]]:
    """`answer`, building at most FARM_API_MAX_ARCHIVES archives on demand; with the periods it left
    to the archiving run, as "idSite:period:label" (e.g. "3:week:2026-06-01,2026-06-07")."""
    with service.archiving_bounded(max_archives=settings.FARM_API_MAX_ARCHIVES) as bound:
        data = answer(params, user=user, host=host)
    return data, [f"{site}:{period.kind}:{period.label}" for site, period in bound.deferred]


def answer(params: Params, *, user, host: Instance | None):
    """The data answering one API call (not yet rendered). Raises ApiError."""
    method = METHODS.get(params.method)
    if method is None:
        raise ApiError(f"The method '{params.method[:100]}' does not exist or is not available: "
                       "API.getReportMetadata lists the report methods.")
    if params.get("segment") and method.scope != "period" and params.method not in SEGMENTED:
        raise ApiError(f"segment is not supported by {params.method[:100]} (only by the reports and "
                       f"{', '.join(sorted(SEGMENTED))}): "
                       "ask without a segment.")
    call = Call(params, user, host)
    if method.scope == "farm":
        return method.run(call)
    found, keyed = access.requested_sites(user, params, host)
    if keyed and params.method in WRITES:
        raise ApiError(f"{params.method} changes one site's segments: pass one idSite.")
    per_site = {}
    for site in found:
        try:
            per_site[site.pk] = _for_site(method, Call(params, user, host, site))
        except service.NotArchived as error:
            if not keyed:
                raise ApiError(str(error)) from None
            # NB: a site whose period is not processed yet is left out, as a period of a lastN answer
    return Keyed("idSite", per_site) if keyed else per_site[found[0].pk]


def _for_site(method: Method, call: Call):
    with in_tenant(call.site), translation.override(_language(call.params)):
        try:
            with service.segmented(call.params.get("segment") if method.scope == "period" else None):
                return _run(method, call)
        except service.NotArchived:
            raise
        except ReportError as error:
            raise ApiError(str(error)) from None


def _run(method: Method, call: Call):
    if method.scope == "site":
        return _filtered(method, method.run(call), call.params)
    periods, keyed = periods_asked(call.params, today=service.site_today())
    results = {}
    for period in periods:
        try:
            results[period.label] = _filtered(method, method.run(replace(call, period=period)), call.params)
        except service.NotArchived:
            if not keyed:
                raise
            # NB: left out, never zeros; answer_bounded lists it for the X-Farm-Not-Archived header
    return Keyed("date", results) if keyed else results[periods[0].label]


def _language(params: Params) -> str:
    """The language of names in the answer (countries, languages): English unless `language` asks
    for another one, as in Matomo; the caller's browser preferences do not count."""
    language = (params.get("language") or "en").strip().lower()
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", language):
        raise ApiError("language must be a language code such as en, fr or pt-br")
    return language


def _filtered(method: Method, data, params: Params):
    present = rates.presenter(params)
    if isinstance(data, Stream):
        return stream_filtered(data, params, present=present)
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return rows_filtered(data, params, paged=method.paged, present=present)
    return columns(present(data), params) if isinstance(data, dict) else data


# Reports from the archives ---------------------------------------------------------------------

def _report(name: str) -> Callable[[Call], object]:
    if name in tables.PAGE_TREES:
        return lambda call: _page_tree(name, call)
    if name in tables.KEYWORDS:
        return lambda call: _with_keywords(name, tables.KEYWORDS[name], call)
    parent = next((p for p, child in tables.KEYWORDS.items() if child == name), None)
    if parent is not None:
        return lambda call: (_with_keywords(parent, name, call) if call.params.get("idSubtable")
                             else service.report(name, call.period))
    if name in labels.NAMED:
        return lambda call: _named(name, service.report(name, call.period))
    return lambda call: service.report(name, call.period)


def _named(name: str, rows: list[dict]) -> list[dict]:
    """Countries and languages by name, as Matomo answers, the code kept in `code`."""
    return [row if anonymity.is_other(row["label"]) else {**row, "label": labels.name(name, row["label"]),
                                                          "code": row["label"]} for row in rows]


def _id_subtable(params: Params) -> int | None:
    return params.integer("idSubtable", 0, minimum=1) if params.get("idSubtable") else None


def _page_tree(name: str, call: Call) -> list[dict]:
    rows, base_url = service.report(name, call.period), sites.origin(call.site)
    if call.params.flag("flat"):
        return tables.flat_pages(rows, base_url=base_url)
    top, subtables = tables.page_tree(name, rows, base_url=base_url)
    idsub = _id_subtable(call.params)
    rows = tables.subtable(subtables, idsub) if idsub else top
    return tables.expanded(rows, subtables) if call.params.flag("expanded") else rows


def _with_keywords(parent: str, child: str, call: Call) -> list[dict]:
    got = service.reports([parent, child], call.period)
    if call.params.flag("flat"):
        return tables.flat_keywords(got[child])
    top, subtables = tables.keyword_tables(got[parent], got[child])
    idsub = _id_subtable(call.params)
    rows = tables.subtable(subtables, idsub) if idsub else top
    return tables.expanded(rows, subtables) if call.params.flag("expanded") else rows


def _value(metric: str) -> Callable[[Call], dict]:
    return lambda call: {"value": service.report("VisitsSummary.get", call.period).get(metric, 0)}


# Live, straight from the raw logs --------------------------------------------------------------

def _visitor_level(run: Callable[[Call], object]) -> Callable[[Call], object]:
    """Live.* show single visitors: refused to members a site keeps them from (visitor_views_admins_only)."""
    def checked(call: Call):
        if not sees_visitors(call.user, call.site):
            raise NoAccess(f"You can't access this resource as it requires 'admin' access for the website id = "
                           f"{call.site.pk}: this site shows single visitors to its admins only.")
        return run(call)
    return checked


def _last_visits(call: Call) -> Stream:
    """The latest visits; with period and date, only those whose last action falls in that span.

    At most FARM_API_LIVE_MAX_VISITS visits (filter_limit=-1 or more means that many; page on with
    filter_offset), read a chunk at a time as the answer is written: the rows are produced after
    the method returns, so they enter the site's schema and the answer's language themselves.
    """
    offset, limit = page(call.params)
    most = settings.FARM_API_LIVE_MAX_VISITS
    limit = most if limit < 0 else min(limit, most)
    since = call.params.integer("minTimestamp", 0, minimum=0, maximum=2**31) if call.params.get("minTimestamp") \
        else None
    between = None
    if call.params.get("period") and call.params.get("date"):
        periods, _keyed = periods_asked(call.params, today=service.site_today())
        between = span_bounds(periods[0].start, periods[-1].end, site_timezone())
    site, language, segment = call.site, translation.get_language(), call.params.get("segment")
    query.check(segment, timezone=site_timezone())  # a bad one is the caller's error, before the answer starts

    def rows():
        with in_tenant(site), translation.override(language):
            for visit in live.visits_iter(limit=limit, offset=offset, min_timestamp=since, between=between,
                                          segment=segment):
                yield {"idSite": site.pk, **visit}
    return Stream(rows)


def _visitor_profile(call: Call) -> dict:
    """One visitor's profile (see live.visitor_profile); without visitorId, the most recent visitor's
    (as Matomo). lastVisits lists the `limitVisits` most recent (10 by default, as Matomo)."""
    visitor_id, segment = call.params.get("visitorId"), call.params.get("segment")
    shown = call.params.integer("limitVisits", 10, minimum=1, maximum=settings.FARM_LIVE_PROFILE_MAX_VISITS)
    if visitor_id is None:
        latest = live.last_visits(limit=1, segment=segment)
        visitor_id = latest[0]["visitorId"] if latest else None
    elif not _VISITOR_ID.match(visitor_id):
        raise ApiError("visitorId must be 16 hexadecimal characters")
    profile = live.visitor_profile(visitor_id.lower(), segment=segment) if visitor_id else None
    if profile is None:
        raise ApiError("No visit of this visitor on this site matches the segment." if segment else
                       "No visit of this visitor on this site (visitorId unknown).")
    return {**profile, "lastVisits": profile["lastVisits"][:shown]}


def _real_time(run: Callable[[Call], object]) -> Callable[[Call], object]:
    """A real-time method: with a segment, visitor-level (a segment on a user id or a visitor id
    tells whether that person is here now), so closed to whom the site keeps single visitors from."""
    def checked(call: Call):
        return _visitor_level(run)(call) if call.params.get("segment") else run(call)
    return checked


@_real_time
def _counters(call: Call) -> list[dict]:
    return [live.counters(_last_minutes(call), segment=call.params.get("segment"))]


def _last_minutes(call: Call) -> int:
    return call.params.integer("lastMinutes", 30, minimum=1, maximum=2880)


def _media_now(key: str) -> Callable[[Call], dict]:
    return _real_time(lambda call: {"value": live.media_counters(_last_minutes(call),
                                                                 segment=call.params.get("segment"))[key]})


_MOST_PLAYED = 100  # rows; filter_limit then pages these, as any report


@_real_time
def _most_played(call: Call) -> list[dict]:
    segment = call.params.get("segment")
    if not segment:
        return live.most_played(_last_minutes(call), limit=_MOST_PLAYED)
    k = call.site.k_anonymity  # the floor of any segmented answer: no row of fewer than k viewers
    shown, others, _withheld = anonymity.floor(live.most_played(_last_minutes(call), segment=segment, k=k), k)
    return shown[:_MOST_PLAYED] + [{**other, "resource": "", "media_type": ""} for other in others]  # of several


# SegmentEditor.* (analytics.segments.saved) ------------------------------------------------------

def _segment_fields(call: Call) -> dict:
    return {"name": call.params.required("name", "the segment's name"),
            "definition": call.params.required("definition", "the segment expression, e.g. visitCount>1"),
            "shared": call.params.flag("enabledAllUsers"), "auto_archive": call.params.flag("autoArchive"),
            # NB: left out (Matomo's clients never send it), an update keeps the stored day
            **({"archive_from": _day(call.params.get("archiveFrom"))} if call.params.get("archiveFrom") is not None
               else {})}


def _day(value: str | None):
    """The farm's own `archiveFrom` (YYYY-MM-DD): the first day a pre-processed segment is archived for."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ApiError("archiveFrom must be a date as YYYY-MM-DD (the first day a pre-processed segment is "
                       "archived for; left out: from the site's first data)") from None


def _segment_id(call: Call) -> int:
    call.params.required("idSegment", "the id of a saved segment (SegmentEditor.getAll lists them)")
    return call.params.integer("idSegment", 0, minimum=1)


SEGMENT_EDITOR = {
    "SegmentEditor.add": lambda call: {"value": saved.segment_add(call.user, call.site, **_segment_fields(call)).pk},
    "SegmentEditor.update": lambda call: saved.segment_update(call.user, call.site, _segment_id(call),
                                                              **_segment_fields(call)) and SUCCESS,
    "SegmentEditor.delete": lambda call: saved.segment_delete(call.user, call.site, _segment_id(call)) or SUCCESS,
    "SegmentEditor.get": lambda call: saved.as_matomo(saved.segment_get(call.user, call.site, _segment_id(call)),
                                                      call.site),
    "SegmentEditor.getAll": lambda call: [saved.as_matomo(s, call.site) for s in saved.visible(call.user, call.site)],
}


WRITES = {"SegmentEditor.add", "SegmentEditor.update", "SegmentEditor.delete",  # methods that change data
          "PrivacyManager.deleteDataSubjects", "PrivacyManager.anonymizeSomeRawData", *scheduled_reports.WRITES}


def writes(params: Params) -> bool:
    """Whether the call (or one of its bulk sub-requests) changes data: a session may only POST those."""
    if params.get("method") == "API.getBulkRequest":
        return any(Params.of(url, inherit=params).get("method") in WRITES for url in params.bulk_urls())
    return params.get("method") in WRITES


# API.* -----------------------------------------------------------------------------------------

def _bulk(call: Call) -> list:
    """Each `urls[i]` query string answered as its own call, as the caller; an error, even an
    unexpected one, answers its slot only (as Matomo, which runs each as a request of its own)."""
    if call.params.format not in ("json", "xml"):
        raise ApiError("API.getBulkRequest answers in format=json or xml only")
    urls = call.params.bulk_urls()
    if not urls or len(urls) > MAX_BULK:
        raise ApiError(f"API.getBulkRequest needs from 1 to {MAX_BULK} sub-requests as urls[0]=..., urls[1]=...")
    answers = []
    for url in urls:
        sub = Params.of(url, inherit=call.params)
        try:
            if sub.get("method") == "API.getBulkRequest":
                raise ApiError("API.getBulkRequest cannot be nested")
            answers.append(answer(sub, user=call.user, host=call.host))
        except ApiError as error:
            answers.append({"result": "error", "message": error.message})
        except Exception:  # noqa: BLE001 — logged in `unexpected`; the other sub-requests are still answered
            answers.append({"result": "error", "message": unexpected(sub.get("method") or "").message})
    return answers


# methods applying `segment` themselves (the report methods apply it through analytics.reports.service)
SEGMENTED = {"Live.getLastVisitsDetails", "Live.getCounters", "Live.getVisitorProfile", "MultiSites.getAll",
             "MultiSites.getOne", "MediaAnalytics.getCurrentNumPlays", "MediaAnalytics.getCurrentSumTimeSpent",
             "MediaAnalytics.getCurrentMostPlays", "PrivacyManager.findDataSubjects"}
METHODS: dict[str, Method] = {
    **{name: Method(_report(name)) for name in service.report_names()},
    **{name: Method(_value(metric)) for name, metric in VALUE_METHODS.items()},
    "Live.getLastVisitsDetails": Method(_visitor_level(_last_visits), scope="site", paged=True),
    "Live.getVisitorProfile": Method(_visitor_level(_visitor_profile), scope="site"),
    "Live.getCounters": Method(_counters, scope="site"),
    "MediaAnalytics.hasRecords": Method(lambda call: {"value": live.has_media()}, scope="site"),
    "MediaAnalytics.getCurrentNumPlays": Method(_media_now("plays"), scope="site"),
    "MediaAnalytics.getCurrentSumTimeSpent": Method(_media_now("time_spent"), scope="site"),
    "MediaAnalytics.getCurrentMostPlays": Method(_most_played, scope="site"),
    "API.getReportMetadata": Method(lambda call: service.report_metadata(), scope="site", paged=True),
    "API.getSegmentsMetadata": Method(lambda call: segments_metadata(), scope="site"),
    # NB: both read single visitors' values (a user id, a visitor id): kept from viewers as Live.* are
    "API.getSuggestedValuesForSegment": Method(_visitor_level(lambda call: suggested_values(call.params.required(
        "segmentName", "the segment dimension, e.g. browserCode (API.getSegmentsMetadata lists them)"))), scope="site"),
    # NB: refusals are Matomo's plain errors (HTTP 200, result=error), as its SegmentEditor answers them
    **{name: Method(run, scope="site") for name, run in SEGMENT_EDITOR.items()},
    "API.getBulkRequest": Method(_bulk, scope="farm"),
    **{name: Method(run, scope=scope) for name, (run, scope) in sites.METHODS.items()},
    **{name: Method(run, scope=scope) for name, (run, scope) in multisites.METHODS.items()},
    # NB: a search lists all it found (up to its own limit), as Matomo's, which skips filter_limit for it
    **{name: Method(run, scope=scope, paged=scope == "site") for name, (run, scope) in privacy.METHODS.items()},
    **{name: Method(run, scope=scope) for name, (run, scope) in scheduled_reports.METHODS.items()},
}
