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
exit pages (views of the page report) carry their own counts (`_k_entry`, `_k_exit`).
These keys never leave the service (`floor` removes them): Matomo clients parse the same columns.
"""
from django.utils.translation import gettext

from analytics.reports import media
from analytics.reports.definitions import ACTION_DIMENSIONS, DAY_PAGE_VIEWS, DAY_VISITS, VISIT_DIMENSIONS
from analytics.reports.sql_parts import or_unknown as _or

_SEGMENT_VISIT = "JOIN pg_temp.segment_visits s ON s.id = {}.visit_id"  # each row's visitor (restricted.py)
# Per pass, (report, parent, label, visitor) rows: one per distinct visitor a row describes. Only
# run for a segment: its visits' table gives each row's visitor.
_STREAMS = {
    "visits": f"""
        WITH v AS ({DAY_VISITS})
        SELECT d.report, d.parent, d.label, s.vid FROM v JOIN pg_temp.segment_visits s ON s.id = v.id
        CROSS JOIN LATERAL (VALUES {", ".join(
            f"('{report}', ({parent})::text, ({label})::text)" for report, parent, label in VISIT_DIMENSIONS[2:])}
        ) AS d(report, parent, label) WHERE d.label IS NOT NULL""",
    "pages": f"""
        WITH a AS ({DAY_PAGE_VIEWS}), p AS (
            SELECT a.visit_id, a.path, a.title, row_number() OVER w = 1 AS entry, lead(a.id) OVER w IS NULL AS exit,
                   row_number() OVER (PARTITION BY a.visit_id, a.path ORDER BY a.at, a.id) = 1 AS first_path,
                   row_number() OVER (PARTITION BY a.visit_id, a.title ORDER BY a.at, a.id) = 1 AS first_title
            FROM a WINDOW w AS (PARTITION BY a.visit_id ORDER BY a.at, a.id))
        SELECT d.report, NULL::text, d.label, s.vid FROM p {_SEGMENT_VISIT.format("p")}
        CROSS JOIN LATERAL (VALUES ('Actions.getPageUrls', CASE WHEN p.first_path THEN p.path END),
            ('Actions.getPageTitles', CASE WHEN p.first_title THEN p.title END),
            ('Actions.getPageUrls_entry', CASE WHEN p.entry THEN p.path END),
            ('Actions.getPageUrls_exit', CASE WHEN p.exit THEN p.path END),
            ('Actions.getPageTitles_entry', CASE WHEN p.entry THEN p.title END),
            ('Actions.getPageTitles_exit', CASE WHEN p.exit THEN p.title END)) AS d(report, label)
        WHERE d.label IS NOT NULL""",
    "actions": f"""
        SELECT d.report, NULL::text, d.label, s.vid
        FROM analytics_action a {_SEGMENT_VISIT.format("a")} CROSS JOIN LATERAL (VALUES {", ".join(
            f"('{report}', CASE WHEN a.kind = '{kind}' THEN ({label})::text END)"
            for report, kind, label in ACTION_DIMENSIONS)}) AS d(report, label)
        WHERE a.kind IN ('download', 'outlink', 'search', 'event') AND a.at >= %(start)s AND a.at < %(end)s
          AND d.label IS NOT NULL""",
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
    "media": f"""
        WITH m AS ({media.DAY_SESSIONS})
        SELECT d.report, NULL::text, d.label, s.vid FROM m {_SEGMENT_VISIT.format("m")}
        LEFT JOIN analytics_visit v ON v.id = m.visit_id
        CROSS JOIN LATERAL (VALUES {media.labels(media.DIMENSIONS[1:])},
            ('MediaAnalytics.getDropOff', CASE WHEN {media.measured("m")} THEN {_or("m.resource")} END)
        ) AS d(report, label) WHERE d.label IS NOT NULL""",
}
_COUNTED = "SELECT report, parent, label, count(*), CASE WHEN count(*) < %(k)s THEN array_agg(visitor) END FROM ({}) AS s GROUP BY 1, 2, 3"
_VIEWS = {f"{report}_{view}": (report, view)  # -> the page row's _k_entry, _k_exit
          for report in ("Actions.getPageUrls", "Actions.getPageTitles") for view in ("entry", "exit")}


def _keys(view: str = "") -> tuple[str, str]:
    return (f"_k_{view}", f"_ids_{view}") if view else ("_k", "_ids")


def count_visitors(cursor, params: dict, reports: dict, *, passes, sql, k: int, visitors) -> None:
    """Give each row of `reports` (of the passes run) its distinct visitors; VisitsSummary.get's
    row, the segment's, gets them all (`visitors`, the sorted ids)."""
    counts = {}
    # NB: both levels hashed: the planner, expecting many more rows than labels, would sort a million
    # (label, visitor) pairs for the second (measured: a third of the pass on 30 days of page views)
    cursor.execute("SET LOCAL enable_sort = off")
    for kind in passes:
        distinct = f"SELECT DISTINCT * FROM ({_STREAMS[kind]}) AS d(report, parent, label, visitor)"
        cursor.execute(sql(_COUNTED.format(distinct)), {**params, "k": k})
        for report, parent, label, count, ids in cursor.fetchall():
            report, view = _VIEWS.get(report, (report, ""))
            counts[report, parent, label, view] = (count, ids)
    cursor.execute("SET LOCAL enable_sort = on")
    for name, rows in reports.items():
        for row in rows:
            for view in ("", "entry", "exit") if name in ("Actions.getPageUrls", "Actions.getPageTitles") else ("",):
                count, ids = counts.get((name, row.get("parent"), row.get("label"), view), (0, []))
                _set(row, view, count, ids)
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
