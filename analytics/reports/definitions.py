"""Every day report computed from the raw logs of one site-local day, in a handful of SQL passes.

Call inside the site's schema. A visit belongs to the day of its first action (ingest never lets a
visit cross local midnight); actions and conversions to the day of their own time. Each pass
reads its rows once and aggregates every dimension of that table together (GROUPING SETS, or a
LATERAL VALUES unpivot), so adding a dimension adds no scan. Rows hold only additive metrics;
ratios are derived on read (analytics.reports.catalog).
"""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from django.db import connection, transaction

from analytics.reports import media
from analytics.reports.catalog import DAYS_OF_WEEK, DURATION_BUCKETS, PAGE_BUCKETS
from analytics.reports.sql_parts import as_int64, country_code
from analytics.reports.sql_parts import or_unknown as _or


def _when(referrer_type: str, expr: str) -> str:
    return f"CASE WHEN v.referrer_type = '{referrer_type}' THEN {expr} END"


def _buckets(expr: str, buckets) -> str:
    arms = " ".join(f"WHEN {expr} <= {upper} THEN '{label}'" for upper, label in buckets if upper is not None)
    return f"CASE {arms} ELSE '{buckets[-1][1]}' END"


_SEARCH_KEYWORD = _or("v.campaign_keyword", "Keyword not defined")
REFERRER_TYPES = {"direct": "Direct Entry", "search": "Search Engines", "website": "Websites",
                  "campaign": "Campaigns", "social": "Social Networks"}
_DAY_NAMES = "ARRAY[" + ", ".join(f"'{d}'" for d in DAYS_OF_WEEK) + "]"

# (report, parent expression, label expression) over one visit `v`; a NULL label leaves the visit out.
VISIT_DIMENSIONS = [
    ("VisitsSummary.get", "NULL", "''"),
    ("VisitFrequency.get", "NULL", "CASE WHEN v.returning THEN 'returning' ELSE 'new' END"),
    ("Referrers.getReferrerType", "NULL",
     "CASE v.referrer_type " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in REFERRER_TYPES.items())
     + " ELSE v.referrer_type END"),
    ("Referrers.getWebsites", "NULL", _when("website", "v.referrer_name")),
    ("Referrers.getSearchEngines", "NULL", _when("search", "v.referrer_name")),
    ("Referrers.getKeywords", "NULL", _when("search", _SEARCH_KEYWORD)),
    ("Referrers.getKeywordsFromSearchEngineId", "v.referrer_name", _when("search", _SEARCH_KEYWORD)),
    ("Referrers.getCampaigns", "NULL", _when("campaign", "v.campaign_name")),
    ("Referrers.getKeywordsFromCampaignId", "v.campaign_name",
     _when("campaign", _or("v.campaign_keyword", "Keyword not defined"))),
    ("Referrers.getSocials", "NULL", _when("social", "v.referrer_name")),
    ("DevicesDetection.getType", "NULL", _or("v.device_type")),
    ("DevicesDetection.getBrand", "NULL", _or("v.device_brand")),
    ("DevicesDetection.getModel", "NULL", f"{_or('v.device_brand')} || ' - ' || {_or('v.device_model')}"),
    ("DevicesDetection.getOsFamilies", "NULL", _or("v.os_name")),
    ("DevicesDetection.getOsVersions", "NULL", _or("trim(v.os_name || ' ' || v.os_version)")),
    ("DevicesDetection.getBrowsers", "NULL", _or("v.browser_name")),
    ("DevicesDetection.getBrowserVersions", "NULL", _or("trim(v.browser_name || ' ' || v.browser_version)")),
    ("Resolution.getResolution", "NULL", _or("v.resolution")),
    ("UserCountry.getCountry", "NULL", country_code()),
    ("UserLanguage.getLanguage", "NULL",
     _or("lower(trim(split_part(split_part(split_part(v.language, ',', 1), ';', 1), '-', 1)))", "xx")),
    ("VisitTime.getVisitInformationPerServerTime", "NULL",
     "extract(hour FROM v.first_action_at AT TIME ZONE %(tz)s)::int::text"),
    ("VisitTime.getVisitInformationPerLocalTime", "NULL", "extract(hour FROM v.local_time)::int::text"),
    ("VisitTime.getByDayOfWeek", "NULL",
     f"({_DAY_NAMES})[extract(isodow FROM v.first_action_at AT TIME ZONE %(tz)s)::int]"),
    ("VisitorInterest.getNumberOfVisitsPerVisitDuration", "NULL", _buckets("v.length", DURATION_BUCKETS)),
    ("VisitorInterest.getNumberOfVisitsPerPage", "NULL", _buckets("v.actions", PAGE_BUCKETS)),
]


DAY_VISITS = """
    SELECT v.id, v.visitor_id, v.actions, v.returning, v.referrer_type, v.referrer_name, v.campaign_name, v.campaign_keyword,
           v.device_type, v.device_brand, v.device_model, v.os_name, v.os_version, v.browser_name, v.browser_version,
           v.resolution, v.country, v.language, v.local_time, v.first_action_at,
           GREATEST(0, floor(extract(epoch FROM v.last_action_at - v.first_action_at)))::bigint AS length
    FROM analytics_visit v WHERE v.first_action_at >= %(start)s AND v.first_action_at < %(end)s
"""
ALL_VISIT_DIMENSIONS = tuple(range(len(VISIT_DIMENSIONS)))


@cache
def visits_query(chosen: tuple[int, ...] = ALL_VISIT_DIMENSIONS, *, visitors: bool = False) -> str:
    """The visit pass over the dimensions `chosen` (indexes into VISIT_DIMENSIONS; all of them when
    archiving, a segment asked on request only those of its reports); with `visitors`, each row's
    visitors too, as a string of 8-byte ids (a segment's k floor counts them: anonymity._counted),
    from the labels computed once for both.

    A visit's conversions happen on its own local day (ingest starts a new visit at midnight), so the
    day's conversions, found through their time index, are all those of the day's visits. One
    GROUPING SETS pass fills a hash table per dimension while reading the day's visits once.
    """
    labels = [f"l{j}" for j in range(len(chosen))]
    parents = {j: f"p{j}" for j, i in enumerate(chosen) if VISIT_DIMENSIONS[i][1] != "NULL"}
    return f"""
WITH v AS ({DAY_VISITS}),
converted AS (SELECT DISTINCT c.visit_id FROM analytics_conversion c WHERE c.at >= %(start)s AND c.at < %(end)s),
x AS (
    SELECT v.actions, v.length, k.visit_id AS converted{f", {as_int64('v.visitor_id')} AS vid" if visitors else ""},
           {", ".join(f"({VISIT_DIMENSIONS[i][2]})::text AS l{j}" for j, i in enumerate(chosen))}
           {"".join(f", ({VISIT_DIMENSIONS[chosen[j]][1]})::text AS {name}" for j, name in parents.items())}
    FROM v LEFT JOIN converted k ON k.visit_id = v.id
)
SELECT GROUPING({", ".join(labels)}), {", ".join([*labels, *parents.values()])},
       count(*), sum(x.actions), max(x.actions), sum(x.length), count(*) FILTER (WHERE x.actions <= 1),
       count(x.converted){", string_agg(int8send(x.vid), '')" if visitors else ""}
FROM x
GROUP BY GROUPING SETS ({", ".join(f"({label}, {parents[j]})" if j in parents else f"({label})"
                                   for j, label in enumerate(labels))})
"""


VISITS_SQL = visits_query()
VISIT_COLUMNS = ("nb_visits", "nb_actions", "max_actions", "sum_visit_length", "bounce_count", "nb_visits_converted")

# Time on a page runs to the visit's next page view, or for the last one to the visit's last hit
# (heartbeats included): Matomo gives the time of events, downloads... to the page they happened on.
# The URL's path with string functions (a regex costs seconds on a busy day): cut the query and
# fragment, then drop "scheme://host"; an empty path is "/".
HOST_AND_PATH = ("split_part(split_part(CASE WHEN strpos(a.url, '://') > 0 THEN substr(a.url, strpos(a.url, '://') + 3)"
                 " ELSE a.url END, '?', 1), '#', 1)")
PATH = ("COALESCE(NULLIF(CASE WHEN strpos(a.url, '://') = 0 THEN u.hp WHEN strpos(u.hp, '/') > 0 "
        "THEN substr(u.hp, strpos(u.hp, '/')) ELSE '' END, ''), '/')")
TITLE = _or("a.title", "Page Name not defined")
# nb_visits of a page counts each visit's first view of it (a flag from a window over the visit's
# already sorted rows) rather than count(DISTINCT ...), which would sort all the day's page views.
DAY_PAGE_VIEWS = f"""
    SELECT a.visit_id, a.id, a.at, {PATH} AS path, {TITLE} AS title
    FROM analytics_action a CROSS JOIN LATERAL (SELECT {HOST_AND_PATH} AS hp) u
    WHERE a.kind = 'pageview' AND a.at >= %(start)s AND a.at < %(end)s
"""
PAGES_SQL = f"""
WITH a AS ({DAY_PAGE_VIEWS}), p AS (
    SELECT a.*, lead(a.at) OVER w AS next_at, row_number() OVER w AS n,
           row_number() OVER (PARTITION BY a.visit_id, a.path ORDER BY a.at, a.id) = 1 AS first_path,
           row_number() OVER (PARTITION BY a.visit_id, a.title ORDER BY a.at, a.id) = 1 AS first_title
    FROM a
    WINDOW w AS (PARTITION BY a.visit_id ORDER BY a.at, a.id)
), pv AS (
    SELECT p.*, v.actions,
           GREATEST(0, floor(extract(epoch FROM COALESCE(p.next_at, v.last_action_at) - p.at)))::bigint AS spent,
           GREATEST(0, floor(extract(epoch FROM v.last_action_at - v.first_action_at)))::bigint AS length
    FROM p JOIN analytics_visit v ON v.id = p.visit_id
)
SELECT GROUPING(pv.path), pv.path, pv.title, count(*), count(*) FILTER (WHERE pv.first_path),
       count(*) FILTER (WHERE pv.first_title), sum(pv.spent),
       count(*) FILTER (WHERE pv.n = 1), COALESCE(sum(pv.actions) FILTER (WHERE pv.n = 1), 0),
       COALESCE(sum(pv.length) FILTER (WHERE pv.n = 1), 0), count(*) FILTER (WHERE pv.n = 1 AND pv.actions <= 1),
       count(*) FILTER (WHERE pv.next_at IS NULL)
FROM pv
GROUP BY GROUPING SETS ((pv.path), (pv.title))
"""
PAGE_COLUMNS = ("nb_hits", "nb_visits", "sum_time_spent", "entry_nb_visits", "entry_nb_actions",
                "entry_sum_visit_length", "entry_bounce_count", "exit_nb_visits")

ACTION_DIMENSIONS = [
    ("Actions.getDownloads", "download", "a.url"),
    ("Actions.getOutlinks", "outlink", "a.url"),
    ("Actions.getSiteSearchKeywords", "search", "a.search_keyword"),
    ("Actions.getSiteSearchNoResultKeywords", "search", "CASE WHEN a.search_count = 0 THEN a.search_keyword END"),
    ("Events.getCategory", "event", "a.event_category"),
    ("Events.getAction", "event", "a.event_action"),
    ("Events.getName", "event", _or("a.event_name", "Event name not defined")),
]


@cache
def actions_query(*, visitors: bool = False) -> str:
    """Downloads, outlinks, site search and events in one pass; with `visitors`, each row's visitors
    too (a segment's: see visits_query). Two levels instead of count(DISTINCT visit_id): first per
    (report, label, visit), hashed, then per label."""
    return f"""
WITH per_visit AS (
    SELECT d.report, d.label, a.visit_id{", s.vid" if visitors else ""}, count(*) AS hits, sum(a.event_value) AS total,
           min(a.event_value) AS low, max(a.event_value) AS high, count(a.event_value) AS with_value
    FROM analytics_action a{" JOIN pg_temp.segment_visits s ON s.id = a.visit_id" if visitors else ""}
    CROSS JOIN LATERAL (VALUES {", ".join(
        f"('{report}', CASE WHEN a.kind = '{kind}' THEN ({label})::text END)" for report, kind, label in ACTION_DIMENSIONS)}
    ) AS d(report, label)
    WHERE a.kind IN ('download', 'outlink', 'search', 'event') AND a.at >= %(start)s AND a.at < %(end)s
      AND d.label IS NOT NULL
    GROUP BY 1, 2, 3{", 4" if visitors else ""}
)
SELECT report, label, sum(hits)::bigint, count(*), sum(total), min(low), max(high), sum(with_value)::bigint
       {", string_agg(int8send(vid), '')" if visitors else ""}
FROM per_visit GROUP BY 1, 2
"""


def _number(field: str, default: float) -> str:
    """An ecommerce item field as a number: JSON numbers and numeric strings count, anything else is `default`."""
    text = f"(i.item->>{field})"
    return (f"COALESCE(CASE WHEN jsonb_typeof(i.item->{field}) IN ('number', 'string') "
            f"AND {text} ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' THEN {text}::float END, {default})")


_QUANTITY, _PRICE = _number("4", 1), _number("3", 0)
GOALS_SQL = f"""
SELECT c.goal_id, GROUPING(c.goal_id), count(*), count(DISTINCT c.visit_id), COALESCE(sum(c.revenue), 0),
       COALESCE(sum((SELECT sum({_QUANTITY}) FROM jsonb_array_elements(c.items) AS i(item))), 0),
       COALESCE(sum(c.subtotal), 0), COALESCE(sum(c.tax), 0), COALESCE(sum(c.shipping), 0),
       COALESCE(sum(c.discount), 0)
FROM analytics_conversion c WHERE c.at >= %(start)s AND c.at < %(end)s
GROUP BY GROUPING SETS ((c.goal_id), ())
"""
GOAL_COLUMNS = ("nb_conversions", "nb_visits_converted", "revenue", "items", "revenue_subtotal", "revenue_tax",
                "revenue_shipping", "revenue_discount")
ITEMS_SQL = f"""
SELECT d.report, d.label, sum({_PRICE} * {_QUANTITY}), sum({_QUANTITY}), count(DISTINCT c.id),
       count(DISTINCT c.visit_id)
FROM analytics_conversion c CROSS JOIN LATERAL jsonb_array_elements(c.items) AS i(item)
CROSS JOIN LATERAL (VALUES ('Goals.getItemsSku', i.item->>0), ('Goals.getItemsName', i.item->>1)) AS d(report, label)
WHERE c.goal_id = 0 AND c.at >= %(start)s AND c.at < %(end)s AND d.label IS NOT NULL
GROUP BY 1, 2
"""
ITEM_COLUMNS = ("revenue", "quantity", "orders", "nb_visits")

# The 16-hex visitor id is a 64-bit number; user ids (free text) are hashed to one.
VISITORS_SQL = f"""
SELECT DISTINCT {as_int64("v.visitor_id")} FROM analytics_visit v
WHERE v.first_action_at >= %(start)s AND v.first_action_at < %(end)s
"""
USERS_SQL = f"""
SELECT DISTINCT {as_int64("v.user_id")} FROM analytics_visit v
WHERE v.first_action_at >= %(start)s AND v.first_action_at < %(end)s AND v.user_id <> ''
"""


@dataclass
class DayResult:
    """A day's reports (name -> rows, additive metrics only), its exact visitor and user sets, and
    its other named visitor sets (the media audience)."""

    reports: dict[str, list[dict]]
    visitors: np.ndarray
    users: np.ndarray
    sets: dict[str, np.ndarray]


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants where the site-local day starts and the next one starts (DST-safe)."""
    zone = ZoneInfo(timezone)
    return (datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone))


def span_bounds(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants where site-local day `first` starts and the day after `last` starts."""
    return day_bounds(first, timezone)[0], day_bounds(last, timezone)[1]


def _fetch(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ids(sql: str, params: dict) -> np.ndarray:
    return np.sort(np.fromiter((row[0] for row in _fetch(sql, params)), dtype=np.int64))


def _visit_reports(params: dict, reports: dict, sql=str, chosen: tuple[int, ...] = ALL_VISIT_DIMENSIONS,
                   visitors: dict | None = None) -> None:
    """The visit pass's rows into `reports`; with `visitors` (a dict), each row's visitors into it too,
    under (report, parent, label), as a string of ids."""
    count = len(chosen)
    with_parent = [j for j, i in enumerate(chosen) if VISIT_DIMENSIONS[i][1] != "NULL"]
    for grouping, *values in _fetch(sql(visits_query(chosen, visitors=visitors is not None)), params):
        # GROUPING() has a 1 bit for each label not grouped on; the row's dimension is the one 0 bit.
        j = next(j for j in range(count) if not grouping >> (count - 1 - j) & 1)
        label, parents = values[j], dict(zip(with_parent, values[count:]))
        metrics = values[count + len(with_parent):][:len(VISIT_COLUMNS)]
        if label is None:
            continue  # the visits this dimension leaves out (e.g. websites among search visits)
        row = {"label": label, **dict(zip(VISIT_COLUMNS, (int(v) for v in metrics)))}
        if j in parents:
            row["parent"] = parents[j]
        report = VISIT_DIMENSIONS[chosen[j]][0]
        reports.setdefault(report, []).append(row)
        if visitors is not None:
            visitors[report, parents.get(j), label] = values[-1]


def _page_reports(params: dict, reports: dict, sql=str) -> None:
    for by_title, path, title, hits, path_visits, title_visits, *values in _fetch(sql(PAGES_SQL), params):
        report, label, visits = ("Actions.getPageTitles", title, title_visits) if by_title else \
            ("Actions.getPageUrls", path, path_visits)
        row = {"label": label, **dict(zip(PAGE_COLUMNS, (int(v) for v in (hits, visits, *values))))}
        reports.setdefault(report, []).append(row)


def _action_reports(params: dict, reports: dict, sql=str, visitors: dict | None = None) -> None:
    """The action pass's rows into `reports` (and with `visitors`, as _visit_reports)."""
    for report, label, hits, visits, total, low, high, with_value, *ids in _fetch(
            sql(actions_query(visitors=visitors is not None)), params):
        if report.startswith("Events."):
            row = {"label": label, "nb_events": hits, "nb_visits": visits, "sum_event_value": total or 0,
                   "min_event_value": low, "max_event_value": high, "nb_events_with_value": with_value}
        else:
            row = {"label": label, "nb_hits": hits, "nb_visits": visits}
        reports.setdefault(report, []).append(row)
        if visitors is not None:
            visitors[report, None, label] = ids[0]


def _goal_reports(params: dict, reports: dict, sql=str) -> None:
    nb_visits = reports["VisitsSummary.get"][0]["nb_visits"]
    goals, overall = [], dict.fromkeys(GOAL_COLUMNS, 0)
    for goal_id, is_total, *values in _fetch(sql(GOALS_SQL), params):
        row = dict(zip(GOAL_COLUMNS, values))
        if is_total:
            overall = row
        else:  # no nb_visits here: a goal absent on some days would sum too few; read adds the period's
            goals.append({"label": str(goal_id), **row})
    reports["Goals.get"] = [{**overall, "nb_visits": nb_visits}]
    reports["Goals.getGoals"] = goals
    for report, label, *values in _fetch(sql(ITEMS_SQL), params):
        reports.setdefault(report, []).append({"label": label, **dict(zip(ITEM_COLUMNS, values))})


def _frequency(rows: list[dict]) -> dict:
    """VisitFrequency.get's one row from the new/returning split: nb_visits_new, nb_visits_returning, ..."""
    row = {f"{name}_{who}": 0 for who in ("new", "returning") for name in VISIT_COLUMNS}
    for split in rows:
        row.update({f"{name}_{split['label']}": split[name] for name in VISIT_COLUMNS})
    return row


# The passes, and the reports each one fills: a segment computed on request runs only those it needs.
PASSES = {
    "visits": ["VisitsSummary.get", "VisitFrequency.get", *(name for name, _p, _l in VISIT_DIMENSIONS[2:])],
    "pages": ["Actions.getPageUrls", "Actions.getPageTitles"],
    "actions": sorted({name for name, _k, _l in ACTION_DIMENSIONS}),
    "goals": ["Goals.get", "Goals.getGoals", "Goals.getItemsSku", "Goals.getItemsName"],
    "media": media.REPORTS,
}
_NEEDS = {"Actions.get": ("pages", "actions"), "goals": ("visits",), "media": ("visits",)}


def with_rows(names) -> set[str]:
    """The passes whose rows among `names` need their visitors counted: reports of rows, and
    VisitFrequency.get (its new and returning parts); not the other single-row ones."""
    single = {"VisitsSummary.get", "Goals.get", "MediaAnalytics.get"}
    return {kind for kind, reports in PASSES.items() if set(reports) & (set(names) - single)}


def passes_for(names) -> set[str]:
    """The passes that fill the stored reports `names` (and the ones those read: visits for goals)."""
    found = {kind for kind, reports in PASSES.items() if set(reports) & set(names)}
    found |= {kind for name in names for kind in _NEEDS.get(name, ())}
    return found | {kind for kind in list(found) for kind in _NEEDS.get(kind, ())}


def compute_day(day: date, timezone: str) -> DayResult:
    """All day reports of `day` (site-local) from the raw logs; call inside the site's schema."""
    return compute(day, day, timezone)


@transaction.atomic
def compute(first: date, last: date, timezone: str, *, passes=tuple(PASSES), segment=None, counted=None,
            names=None) -> DayResult:
    """The reports of the site-local days `first` to `last` read from the raw logs in one go, only
    of the visits `segment` selects when one is given (analytics.segments.restricted).

    Over several days the rows are those merging each day's would give (visits never cross
    midnight; a page's unique views count each visit once either way), so a segment asked on request
    over a month is read in one pass of each kind instead of thirty. A segmented result also says
    how many distinct visitors each row describes (`_k`, with their ids below the site's k), which
    the k-anonymity floor reads (analytics.reports.anonymity), for the rows of the passes `counted`
    (all passes run by default; a caller wanting only single-row reports counts none). `names`:
    the visit pass computes only those reports' dimensions (all by default).
    """
    from analytics.reports import anonymity  # NB: it reads this module's SQL
    from analytics.segments import restricted

    start, end = span_bounds(first, last, timezone)
    params = {"start": start, "end": end, "tz": timezone}
    reports: dict[str, list[dict]] = {}
    with connection.cursor() as cursor:
        # A busy day's aggregates fit in memory with room to spare (no spill to disk); JIT
        # compilation costs more than it saves on these queries.
        cursor.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        if segment is not None:
            restricted.select_visits(cursor, segment.parsed, timezone=timezone, start=start, end=end)
    sql = restricted.rewritten if segment is not None else str
    visitors = users = np.empty(0, dtype=np.int64)
    # a segment's rows of the visit and action passes come with their visitors (the k floor's) when counted
    counting = set() if segment is None else set(passes if counted is None else counted)
    counts = {}
    if "visits" in passes:
        chosen = ALL_VISIT_DIMENSIONS if names is None else tuple(
            i for i, (report, _p, _l) in enumerate(VISIT_DIMENSIONS) if i == 0 or report in names)
        _visit_reports(params, reports, sql, chosen, visitors=counts if "visits" in counting else None)
        visitors = _ids(restricted.VISITORS_SQL if segment is not None else VISITORS_SQL, params)
        users = _ids(sql(USERS_SQL), params)
        summary = (reports.pop("VisitsSummary.get", None) or [dict.fromkeys(VISIT_COLUMNS, 0)])[0]
        summary.pop("label", None)
        reports["VisitsSummary.get"] = [{**summary, "nb_uniq_visitors": len(visitors), "nb_users": len(users)}]
        reports["VisitFrequency.get"] = [_frequency(reports.pop("VisitFrequency.get", []))]
    if "pages" in passes:
        if segment is not None:  # with each row's visitors (the k floor's counts)
            with connection.cursor() as cursor:
                anonymity.page_reports(cursor, params, reports, k=segment.k)
        else:
            _page_reports(params, reports, sql)
    if "actions" in passes:
        _action_reports(params, reports, sql, visitors=counts if "actions" in counting else None)
    if "goals" in passes:
        _goal_reports(params, reports, sql)
    sets = {}
    if "media" in passes:
        with connection.cursor() as cursor:
            nb_visits = reports["VisitsSummary.get"][0]["nb_visits"]
            sets = media.day_reports(cursor, params, reports, nb_visits=nb_visits, sql=sql,
                                     visitors=counts if "media" in counting else None)
    if segment is not None:
        with connection.cursor() as cursor:
            anonymity.count_visitors(cursor, params, reports, passes=passes if counted is None else counted, sql=sql,
                                     k=segment.k, visitors=visitors, counted_rows=counts)
            cursor.execute("DROP TABLE pg_temp.segment_visits")
    return DayResult(reports, visitors, users, sets)
