"""The k-anonymity floor of segmented reports: no row shown that describes fewer than k visitors.

A segment can narrow a report down to one person ("visitors from this town, on this phone, at
3 am"). So every row of a segmented report knows how many distinct visitors it describes, and rows
under the site's k are not shown (`floor`): folded into one "Other" row when, together, they hold
at least k visitors, else withheld. A segment matching fewer than k visitors shows nothing at all.
Unsegmented reports are left as they are.

Counting (`count_visitors`, run by definitions.compute for a segment): each row gets `_k`, its
distinct visitors, and when that is under k also `_ids`, those visitors' 64-bit ids, so that the
rows folded into "Other" are counted exactly (a visitor in two small rows counts once). Longer
periods merge these (merge.py): the union of the ids when every part has them, else the largest
part's count — a row is then shown only if one part alone reaches it, never below k. Entry and
exit pages (views of the page report) carry their own counts (`_k_entry`, `_k_exit`), counted
with the page reports themselves (page_reports); VisitFrequency.get's new and returning parts theirs
(`_k_new`, `_k_returning`).
These keys never leave the service (`floor` removes them): Matomo clients parse the same columns.
"""
import numpy as np
from django.utils.translation import gettext

from analytics.reports.definitions import HOST_AND_PATH, PAGE_COLUMNS, PATH, TITLE

_SEGMENT_VISIT = "JOIN pg_temp.segment_visits s ON s.id = {}.visit_id"  # each row's visitor (restricted.py)
# Per pass, (report, parent, label, visitor) rows: one per visitor a row describes (the rows of the
# visit, action, page and media passes come with theirs: definitions.visits_query, actions_query,
# page_reports, media.day_reports). Only run for a segment: its visits' table gives each row's visitor.
_STREAMS = {
    "goals": f"""
        SELECT 'Goals.getGoals', NULL::text, c.goal_id::text, s.vid
        FROM analytics_conversion c {_SEGMENT_VISIT.format("c")}
        WHERE c.at >= %(start)s AND c.at < %(end)s
        UNION ALL
        SELECT d.report, NULL::text, d.label, s.vid
        FROM analytics_conversion c {_SEGMENT_VISIT.format("c")}
        CROSS JOIN LATERAL jsonb_array_elements(c.items) AS i(item)
        CROSS JOIN LATERAL (VALUES ('Goals.getItemsSku', i.item->>0), ('Goals.getItemsName', i.item->>1)) AS d(report, label)
        WHERE c.goal_id = 0 AND c.at >= %(start)s AND c.at < %(end)s AND d.label IS NOT NULL""",
}
# The page reports of a segment with each row's distinct visitors (also as entry and exit page), in
# one statement: the page views windowed once per visit (a page's entry, exit and time as archiving
# defines them: definitions.PAGES_SQL, which tests compare), summed per URL and per title with the
# visits and visitors of each as 8-byte strings, then per path. Distinct visits and visitors are
# counted from those strings (numpy) rather than hashed per (page, visit) and (page, visitor) in SQL
# (measured on 578 k page views: 1.9 M hashed groups, 3 s of the pass's 4), and a URL's path is cut
# once per URL instead of once per page view (0.4 s there).
PAGES_SQL = f"""
WITH a AS (
    SELECT a.url, a.title, a.visit_id, s.vid, v.actions,
           GREATEST(0, floor(date_part('epoch', COALESCE(lead(a.at) OVER w, v.last_action_at) - a.at)))::int AS spent,
           row_number() OVER w = 1 AS entry, lead(a.id) OVER w IS NULL AS exit,
           GREATEST(0, floor(date_part('epoch', v.last_action_at - v.first_action_at)))::int AS length
    FROM analytics_action a JOIN pg_temp.segment_visits s ON s.id = a.visit_id
    JOIN analytics_visit v ON v.id = a.visit_id
    WHERE a.kind = 'pageview' AND a.at >= %(start)s AND a.at < %(end)s
    WINDOW w AS (PARTITION BY a.visit_id ORDER BY a.at, a.id)
), per_url AS (
    SELECT GROUPING(a.url) = 1 AS by_title, a.url, a.title, count(*) AS hits, sum(a.spent) AS spent,
           count(*) FILTER (WHERE a.entry) AS entries, COALESCE(sum(a.actions) FILTER (WHERE a.entry), 0) AS entry_actions,
           COALESCE(sum(a.length) FILTER (WHERE a.entry), 0) AS entry_length,
           count(*) FILTER (WHERE a.entry AND a.actions <= 1) AS bounces, count(*) FILTER (WHERE a.exit) AS exits,
           string_agg(int8send(a.visit_id), '') AS visits, string_agg(int8send(a.vid), '') AS visitors,
           string_agg(int8send(a.vid), '') FILTER (WHERE a.entry) AS entry_visitors,
           string_agg(int8send(a.vid), '') FILTER (WHERE a.exit) AS exit_visitors
    FROM a GROUP BY GROUPING SETS ((a.url), (a.title))
)
SELECT a.by_title, CASE WHEN a.by_title THEN {TITLE} ELSE {PATH} END, sum(a.hits), sum(a.spent), sum(a.entries),
       sum(a.entry_actions), sum(a.entry_length), sum(a.bounces), sum(a.exits), string_agg(a.visits, ''),
       string_agg(a.visitors, ''), string_agg(a.entry_visitors, ''), string_agg(a.exit_visitors, '')
FROM per_url a CROSS JOIN LATERAL (SELECT {HOST_AND_PATH} AS hp) u
GROUP BY 1, 2
"""


def _distinct(ids: bytes | None) -> np.ndarray:
    """The distinct 64-bit ids in a string of them (PostgreSQL's int8send: 8 bytes, big-endian)."""
    return np.unique(np.frombuffer(ids, dtype=">i8")) if ids else np.empty(0, dtype=np.int64)


def _counted(ids: bytes | None, k: int) -> tuple[int, list[int] | None]:
    """How many distinct visitors a string of ids holds, and below k which ones."""
    distinct = _distinct(ids)
    return len(distinct), [int(i) for i in distinct] if len(distinct) < k else None


_SPLIT = {"VisitFrequency.get": ("new", "returning")}  # its columns end with these: nb_visits_new, ...
_COUNTED_WITH_PAGES = ("Actions.getPageUrls", "Actions.getPageTitles")


def page_reports(cursor, params: dict, reports: dict, *, k: int) -> None:
    """Actions.getPageUrls and getPageTitles of the segment's visits, each row with its visitors."""
    cursor.execute(PAGES_SQL, params)
    for by_title, label, hits, spent, *values in cursor.fetchall():
        figures, (visits, *visitors) = values[:5], values[5:]
        row = {"label": label, **dict(zip(PAGE_COLUMNS, (int(v) for v in (hits, len(_distinct(visits)), spent, *figures))))}
        for view, ids in zip(("", "entry", "exit"), visitors):
            _set(row, view, *_counted(ids, k))
        reports.setdefault("Actions.getPageTitles" if by_title else "Actions.getPageUrls", []).append(row)


# Each row's visitors as one string of 8-byte ids (deduplicated by _counted), not a DISTINCT over
# every (row, visitor) pair: a month's visits of one segment are 3.6 M such pairs (4.1 s hashed).
_COUNTED = "SELECT report, parent, label, string_agg(int8send(visitor), '') FROM ({}) AS d(report, parent, label, visitor) GROUP BY 1, 2, 3"


def _keys(view: str = "") -> tuple[str, str]:
    return (f"_k_{view}", f"_ids_{view}") if view else ("_k", "_ids")


def count_visitors(cursor, params: dict, reports: dict, *, passes, sql, k: int, visitors, counted_rows: dict) -> None:
    """Give each row of `reports` (of the passes run) its distinct visitors; VisitsSummary.get's
    row, the segment's, gets them all (`visitors`, the sorted ids). The rows of the visit, action
    and media passes come with theirs (`counted_rows`: (report, parent, label) -> a string of ids),
    the page rows counted already."""
    counts = {key: _counted(ids, k) for key, ids in counted_rows.items()}
    # NB: hashed: the planner, expecting many more rows than labels, would sort millions of pairs
    cursor.execute("SET LOCAL enable_sort = off")
    for kind in (kind for kind in passes if kind in _STREAMS):
        cursor.execute(sql(_COUNTED.format(_STREAMS[kind])), params)
        for report, parent, label, ids in cursor.fetchall():
            counts[report, parent, label] = _counted(ids, k)
    cursor.execute("SET LOCAL enable_sort = on")
    for name, rows in reports.items():
        if name in _SPLIT:  # one row, its parts counted apart: VisitFrequency.get's new and returning
            for part in _SPLIT[name]:
                _set(rows[0], part, *counts.get((name, None, part), (0, [])))
        elif name not in _COUNTED_WITH_PAGES:
            for row in rows:
                _set(row, "", *counts.get((name, row.get("parent"), row.get("label")), (0, [])))
    if summary := reports.get("VisitsSummary.get"):
        _set(summary[0], "", len(visitors), [int(i) for i in visitors] if len(visitors) < k else None)


def _set(row: dict, view: str, count: int, ids) -> None:
    k_key, ids_key = _keys(view)
    row[k_key] = count
    if ids is not None:
        row[ids_key] = sorted(ids)


def combine(into: dict, row: dict) -> None:
    """Merge a part's visitor counts into a longer period's row (see the module's docstring)."""
    for k_key in [key for key in row if key.startswith("_k")]:
        ids_key = "_ids" + k_key[2:]
        if k_key not in into:
            into[k_key] = row[k_key]
            if ids_key in row:
                into[ids_key] = list(row[ids_key])
        elif ids_key in into and ids_key in row:
            into[ids_key] = sorted(set(into[ids_key]) | set(row[ids_key]))
            into[k_key] = len(into[ids_key])
        else:
            into[k_key] = max(into[k_key], row[k_key])
            into.pop(ids_key, None)


def private(column: str) -> bool:
    return column.startswith(("_k", "_ids"))


def as_view(row: dict, view: str) -> dict:
    """A page row as an entry (exit) page row: its own visitor count for that view, the other
    view's count kept (its columns are on the row too, and floored by it)."""
    k_key, ids_key = _keys(view)
    out = {c: v for c, v in row.items() if c not in ("_k", "_ids", ids_key)}
    out["_k"] = row.get(k_key, 0)
    if ids_key in row:
        out["_ids"] = row[ids_key]
    return out


def segment_visitors(summary: dict) -> int:
    """The distinct visitors of a segment in the period, from its VisitsSummary.get row: exact for
    days, weeks, months and ranges; the largest month's for a year (which keeps no visitor set)."""
    return max(summary.get("nb_uniq_visitors") or 0, summary.get("_k", 0))


def public(row: dict) -> dict:
    return {c: v for c, v in row.items() if not private(c)}


def other_label(k: int) -> str:
    return gettext("Other (fewer than %(k)s visitors each)") % {"k": k}


def is_other(label: str) -> bool:
    """Whether a row is the k floor's "Other" row (in any language: its label ends the same way)."""
    return bool(label) and label.endswith(")") and "(" in label and label == other_label(_k_of(label))


def _k_of(label: str) -> int:
    digits = "".join(ch for ch in label if ch.isdigit())
    return int(digits) if digits and len(digits) < 4 else 0


def visitors_of(rows: list[dict]) -> int:
    """At least how many distinct visitors some rows describe together: exact from their ids when
    every row has them, else the largest row's count."""
    if rows and all("_ids" in row for row in rows):
        return len(set().union(*(row["_ids"] for row in rows)))
    return max((row.get("_k", 0) for row in rows), default=0)


def split_floored(name: str, row: dict, k: int) -> dict:
    """A single row split in parts (VisitFrequency.get: new, returning) with every part zeroed when
    one describes from 1 to k-1 visitors (no count, as in an older archive, counts as such): the
    other part would give it away, subtracted from the segment's totals."""
    parts = _SPLIT.get(name, ())
    if any(row.get(f"_k_{part}") is None or 0 < row[f"_k_{part}"] < k for part in parts):  # NB: none is no one
        row = {c: (0 if c.endswith(tuple(f"_{part}" for part in parts)) and not private(c) else v)
               for c, v in row.items()}
    return row


def _with_views_floored(row: dict, k: int) -> dict:
    """A page row whose entry or exit columns describe fewer than k visitors, with those zeroed
    (else the row would tell what the entry or exit page report withholds)."""
    for view, columns in _VIEW_COLUMNS.items():
        if columns[0] in row and row.get(f"_k_{view}", 0) < k:  # NB: no count (an older archive): zeroed
            row = {**row, **dict.fromkeys(columns, 0)}
    return row


_VIEW_COLUMNS = {"entry": ("entry_nb_visits", "entry_nb_actions", "entry_sum_visit_length", "entry_bounce_count"),
                 "exit": ("exit_nb_visits",)}


def floor(rows: list[dict], k: int) -> tuple[list[dict], list[dict], int]:
    """The rows that may be shown; those under k folded into "Other" rows (one per parent, when
    together they hold k visitors); and how many rows were withheld altogether."""
    from analytics.reports.merge import KEY_COLUMNS, combine_metrics

    shown, small = [], {}
    for row in rows:
        if row.get("_k", 0) >= k:
            shown.append(public(_with_views_floored(row, k)))
        else:
            small.setdefault(row.get("parent"), []).append(row)
    others, withheld = [], 0
    for parent, group in small.items():
        foldable = [row for row in group if "_ids" in row]  # an old archive's row may only have its count
        visitors = set().union(*(row["_ids"] for row in foldable)) if foldable else set()
        if len(visitors) < k:
            withheld += len(group)
            continue
        other = {"label": other_label(k)}
        if parent is not None:
            other["parent"] = parent
        for row in foldable:
            combine_metrics(other, {c: v for c, v in row.items() if c not in KEY_COLUMNS})
        others.append(other)
        withheld += len(group) - len(foldable)
    return shown, others, withheld
