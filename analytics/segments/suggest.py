"""API.getSuggestedValuesForSegment: a dimension's most frequent values over the last 60 days.

Call inside the site's schema. As Matomo: at most 30 values, most frequent first, empty values left
out, read from the raw rows of the most recent visits (Matomo reads its last visits through Live),
at most RECENT of them, so the answer stays quick on a busy site.
"""
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone as dj_timezone

from analytics.reports.archive import site_timezone
from analytics.segments import dimensions
from analytics.segments.dimensions import VISIT
from analytics.segments.query import sql_of

DAYS = 60
LIMIT = 30
RECENT = 5000


def suggested_values(name: str, *, now: datetime | None = None, limit: int = LIMIT) -> list[str]:
    dimension = dimensions.require(name)
    expr = f"({sql_of(dimension, site_timezone())})"
    join = "" if dimension.level == VISIT else dimensions.joined(dimension.level)
    rows = f" AND {dimension.rows}" if dimension.rows else ""
    # the most recent RECENT visits of the window: a bounded read whatever the site's traffic
    sql = (f"WITH v AS (SELECT * FROM analytics_visit WHERE first_action_at >= %s ORDER BY first_action_at DESC "
           f"LIMIT {RECENT}) SELECT {expr}::text, count(*) FROM v{join} WHERE true{rows} "
           f"AND {expr} IS NOT NULL AND {expr}::text NOT IN ('', '0') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT %s")
    since = (now or dj_timezone.now()) - timedelta(days=DAYS)
    with connection.cursor() as cursor:
        cursor.execute(sql, [since, limit if dimension.stored is None else 10 * limit])
        found = cursor.fetchall()
    if dimension.stored is None:
        return [value for value, _count in found]
    named: dict[str, int] = {}  # stored values shown as segments name them (a browser's code)
    for value, count in found:
        if (shown := dimension.stored().get(value)) is not None:
            named[shown] = named.get(shown, 0) + count
    return [value for value, _count in sorted(named.items(), key=lambda item: (-item[1], item[0]))][:limit]
