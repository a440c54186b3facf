"""The media reports of one site-local day, from the media sessions (analytics_mediaplay), in three passes.

Call inside the site's schema, from analytics.reports.definitions.compute_day. A media session is
one player on one page view, and belongs to the day of its first ping. Matomo's rules, applied
here rather than at ingest so that they hold whatever order the pings came in:

- every session is an impression (the player was shown);
- it is a play once more than PLAY_SECONDS were watched;
- it is a finish when it is a play of media longer than FINISH_MARGIN seconds whose furthest
  position came within FINISH_MARGIN seconds of the end.

Pass 1 unpivots each session into its reports (LATERAL VALUES, as the action reports) and sums the
additive metrics. Pass 2 reads one row per visit and media type for the unique visitors and the
visits with an impression. Pass 3 reads the positions played (`ma_se`, a 5 s grid) of each play and
turns them into the drop-off curve (numpy): a play is "watching" at a point of the media when one
of its positions covers it.
"""
from functools import cache

import numpy as np

from analytics.reports.catalog import DROP_OFF_STEPS, MEDIA_METRICS, MEDIA_TYPES
from analytics.reports.sql_parts import UNKNOWN, as_int64, country_code
from analytics.reports.sql_parts import or_unknown as _or

PLAY_SECONDS = 1
FINISH_MARGIN = 2
POSITION_WIDTH = 5  # the tracker's positions: each one stands for [p, p + 5 s)

DAY_SESSIONS = f"""
    SELECT m.id, m.visit_id, m.media_type AS t, m.resource, m.title, m.player, m.width, m.height, m.first_at,
           m.length_seconds AS len, m.watched_seconds AS watched, m.progress_seconds AS progress,
           m.time_to_play_seconds AS ttp, m.fullscreen, m.segments,
           m.watched_seconds > {PLAY_SECONDS} AS play
    FROM analytics_mediaplay m WHERE m.first_at >= %(start)s AND m.first_at < %(end)s
"""


_GROUPED = _or("split_part(split_part(m.resource, '?', 1), '#', 1)")
# (report, media type or None for both, label expression)
DIMENSIONS = [
    ("MediaAnalytics.get", None, "m.t"),
    ("MediaAnalytics.getVideoResources", "video", _or("m.resource")),
    ("MediaAnalytics.getAudioResources", "audio", _or("m.resource")),
    ("MediaAnalytics.getGroupedVideoResources", "video", _GROUPED),
    ("MediaAnalytics.getGroupedAudioResources", "audio", _GROUPED),
    ("MediaAnalytics.getVideoTitles", "video", _or("m.title")),
    ("MediaAnalytics.getAudioTitles", "audio", _or("m.title")),
    ("MediaAnalytics.getVideoHours", "video", "extract(hour FROM m.first_at AT TIME ZONE %(tz)s)::int::text"),
    ("MediaAnalytics.getAudioHours", "audio", "extract(hour FROM m.first_at AT TIME ZONE %(tz)s)::int::text"),
    ("MediaAnalytics.getVideoResolutions", "video",
     f"CASE WHEN m.width > 0 AND m.height > 0 THEN m.width || 'x' || m.height ELSE '{UNKNOWN}' END"),
    ("MediaAnalytics.getPlayers", None, _or("m.player")),
    ("MediaAnalytics.getCountries", None, country_code()),  # the audience map
]


def labels(dimensions) -> str:
    """The VALUES list unpivoting a session `m` into (report, label) rows, one per dimension."""
    return ", ".join(f"('{report}', " + (f"({label})::text" if kind is None else
                                         f"CASE WHEN m.t = '{kind}' THEN ({label})::text END") + ")"
                     for report, kind, label in dimensions)


REPORTS = [name for name, _kind, _label in DIMENSIONS] + ["MediaAnalytics.getDropOff"]
_FINISH = f"m.play AND m.len > {FINISH_MARGIN} AND m.progress >= m.len - {FINISH_MARGIN}"
_SEGMENT_VISIT = " JOIN pg_temp.segment_visits sv ON sv.id = m.visit_id"  # a segment's visits, with their visitor


@cache
def sessions_query(*, visitors: bool = False) -> str:
    """Pass 1; with `visitors`, each row's visitors too, as a string of 8-byte ids (a segment's k
    floor counts them: analytics.reports.anonymity)."""
    return f"""
WITH m AS ({DAY_SESSIONS})
SELECT d.report, d.label, count(*), count(*) FILTER (WHERE m.play), count(*) FILTER (WHERE {_FINISH}),
       COALESCE(sum(m.watched) FILTER (WHERE m.play), 0),
       COALESCE(sum(LEAST(m.progress::float8 / m.len, 1)) FILTER (WHERE m.play AND m.len > 0), 0),
       count(*) FILTER (WHERE m.play AND m.len > 0), COALESCE(sum(m.len) FILTER (WHERE m.play AND m.len > 0), 0),
       COALESCE(sum(m.ttp) FILTER (WHERE m.play), 0), count(m.ttp) FILTER (WHERE m.play),
       count(*) FILTER (WHERE m.play AND m.fullscreen){", string_agg(int8send(sv.vid), '')" if visitors else ""}
FROM m LEFT JOIN analytics_visit v ON v.id = m.visit_id{_SEGMENT_VISIT if visitors else ""}
CROSS JOIN LATERAL (VALUES {labels(DIMENSIONS)}) AS d(report, label)
WHERE d.label IS NOT NULL
GROUP BY 1, 2
"""


SESSION_COLUMNS = ("nb_impressions", "nb_plays", "nb_finishes", "sum_total_time_watched", "sum_completion",
                   "nb_plays_with_length", "sum_media_length", "sum_time_to_initial_play",
                   "nb_plays_with_time_to_initial_play", "nb_fullscreen_plays")
assert set(SESSION_COLUMNS) == set(MEDIA_METRICS)

# Visitors as 64-bit numbers, as the visitor sets of VisitsSummary (definitions.VISITORS_SQL).
VISITS_SQL = f"""
WITH m AS ({DAY_SESSIONS})
SELECT m.visit_id, m.t, bool_or(m.play), {as_int64("v.visitor_id")}
FROM m JOIN analytics_visit v ON v.id = m.visit_id
GROUP BY m.visit_id, m.t, v.visitor_id
"""



def measured(alias: str) -> str:
    """Whether a session is on the drop-off curve: a play of known length with a clean list of positions."""
    return f"{alias}.play AND {alias}.len > 0 AND {alias}.segments ~ '^[0-9]{{1,9}}(,[0-9]{{1,9}})*$'"


# A play is "watching" at step s when one of its positions covers the point s % of the way from the
# start to the media's last second, t = s * span / 100 with span = max(length - 1, 1): p <= t < p + width.
# Rows whose positions are not a clean list (stored before ingest cleaned them) are left off the curve.


@cache
def drop_off_query(*, visitors: bool = False) -> str:
    """Pass 3's measured plays; with `visitors`, each one's visitor too (see sessions_query)."""
    return f"""
SELECT {_or("m.resource")}, GREATEST(m.len - 1, 1), m.segments{", sv.vid" if visitors else ""}
FROM ({DAY_SESSIONS}) m{_SEGMENT_VISIT if visitors else ""}
WHERE {measured("m")}
"""


def _fetch(cursor, sql: str, params: dict) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


def day_reports(cursor, params: dict, reports: dict, *, nb_visits: int, sql=str,
                visitors: dict | None = None) -> dict[str, np.ndarray]:
    """Add the day's media reports to `reports`; return its unique-visitor sets by name
    ("impressions", "plays", "impressions_video", ...), which longer periods union. `sql` rewrites
    each query (a segment's restriction, analytics.segments.restricted); with `visitors` (a dict,
    a segment's), each row's visitors go into it under (report, None, label) as a string of ids."""
    by_type, counting = {}, visitors is not None
    for report, label, *values in _fetch(cursor, sql(sessions_query(visitors=counting)), params):
        row = dict(zip(SESSION_COLUMNS, values))
        row["sum_completion"] = float(row["sum_completion"])
        if report == "MediaAnalytics.get":
            by_type[label] = row
        else:
            reports.setdefault(report, []).append({"label": label, **{k: _number(v) for k, v in row.items()}})
            if counting:
                visitors[report, None, label] = values[-1]
    sets, visits = _audience(_fetch(cursor, sql(VISITS_SQL), params))
    reports["MediaAnalytics.get"] = [overview(by_type, sets, nb_visits=nb_visits, visits=visits)]
    plays = _fetch(cursor, sql(drop_off_query(visitors=counting)), params)
    reports["MediaAnalytics.getDropOff"] = drop_off(plays)
    if counting:
        played = {}
        for label, _span, _positions, visitor in plays:
            played.setdefault(label, []).append(visitor)
        for label, ids in played.items():  # NB: as the strings the SQL gives
            visitors["MediaAnalytics.getDropOff", None, label] = np.array(ids, dtype=">i8").tobytes()
    return sets


def _number(value):
    return value if isinstance(value, float) else int(value)


def _audience(rows: list[tuple]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The visitor sets and the visits with an impression, from one row per (visit, media type)."""
    visit_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    kinds = np.array([row[1] for row in rows], dtype=object)
    played = np.fromiter((bool(row[2]) for row in rows), dtype=bool, count=len(rows))
    visitors = np.fromiter((row[3] for row in rows), dtype=np.int64, count=len(rows))
    sets = {"impressions": np.unique(visitors), "plays": np.unique(visitors[played])}
    visits = {"": len(np.unique(visit_ids))}
    for kind in MEDIA_TYPES:
        of_kind = kinds == kind
        sets[f"impressions_{kind}"] = np.unique(visitors[of_kind])
        sets[f"plays_{kind}"] = np.unique(visitors[of_kind & played])
        visits[kind] = int(of_kind.sum())
    return sets, visits


def overview(by_type: dict[str, dict], sets: dict[str, np.ndarray], *, nb_visits: int,
             visits: dict[str, int]) -> dict:
    """MediaAnalytics.get's one row: all media, then each type suffixed (`nb_plays_video`)."""
    row = {"nb_visits": nb_visits, "nb_visits_with_impressions": visits.get("", 0)}
    for name in SESSION_COLUMNS:
        row[name] = _number(sum(by_type.get(kind, {}).get(name, 0) for kind in MEDIA_TYPES))
    for kind in MEDIA_TYPES:
        row |= {f"{name}_{kind}": _number(by_type.get(kind, {}).get(name, 0)) for name in SESSION_COLUMNS}
        row[f"nb_visits_with_impressions_{kind}"] = visits.get(kind, 0)
    return with_uniques(row, sets)


def with_uniques(row: dict, sets: dict[str, np.ndarray]) -> dict:
    """Set the overview row's unique visitor counts from the period's exact visitor sets."""
    for name, ids in sets.items():
        what, _sep, kind = name.partition("_")
        row[f"nb_unique_visitors_{what}" + (f"_{kind}" if kind else "")] = int(len(ids))
    return row


def drop_off(rows: list[tuple]) -> list[dict]:
    """Per media, its measured plays and how many were watching at each step, from (label, span,
    positions) rows. In numpy rather than SQL: a busy day's plays hold millions of positions, which
    SQL would expand into a row per position and step (seconds); here each position becomes the
    range of steps it covers, k from ceil(100 p / (5 span)) to ceil(100 (p + width) / (5 span)) - 1,
    and a play covers the union of its positions' ranges (a difference array per play)."""
    if not rows:
        return []
    count, steps = len(rows), len(DROP_OFF_STEPS)
    names, media_index = np.unique(np.array([row[0] for row in rows], dtype=object), return_inverse=True)
    spans = np.fromiter((row[1] for row in rows), dtype=np.int64, count=count)
    sizes = np.fromiter((row[2].count(",") + 1 for row in rows), dtype=np.int64, count=count)
    positions = np.fromstring(",".join(row[2] for row in rows), dtype=np.int64, sep=",")
    play = np.repeat(np.arange(count), sizes)
    divisor = (100 // (steps - 1)) * spans[play]
    low = (positions * 100 + divisor - 1) // divisor
    high = np.minimum(((positions + POSITION_WIDTH) * 100 + divisor - 1) // divisor - 1, steps - 1)
    kept = low <= high
    cells = count * (steps + 1)
    difference = (np.bincount(play[kept] * (steps + 1) + low[kept], minlength=cells)
                  - np.bincount(play[kept] * (steps + 1) + high[kept] + 1, minlength=cells))
    covered = np.cumsum(difference.reshape(count, steps + 1), axis=1)[:, :steps] > 0
    measured = np.bincount(media_index, minlength=len(names))
    watching = [np.bincount(media_index, weights=covered[:, k], minlength=len(names)) for k in range(steps)]
    return [{"label": name, "nb_plays_measured": int(measured[i]),
             **{f"nb_plays_at_{step}": int(watching[k][i]) for k, step in enumerate(DROP_OFF_STEPS)}}
            for i, name in enumerate(names)]
