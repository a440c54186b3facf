"""Reports of a segment: the report queries read only the visits the segment selects.

A segment is first turned into its visits, once, in a temporary table of the transaction
(`pg_temp.segment_visits`, as Matomo's `logtmpsegment` tables); then every report query runs
unchanged except that each log table it names reads only the rows of those visits
(`rewritten`). So segmented reports are the same SQL as the archived ones, and equal what
filtering the raw rows by hand would give.

    selection = Selection.of("visitCount>1", k=5, timezone="Europe/Paris")
    compute(day, day, tz, segment=selection)        # analytics.reports.definitions
"""
import hashlib
import re
from dataclasses import dataclass
from datetime import date
from functools import cache

from analytics.reports.sql_parts import as_int64
from analytics.segments import grammar, query
from analytics.segments.grammar import Segment, SegmentError

# each log table, and the column holding its visit's id
_BY_VISIT = {"analytics_visit": "id", "analytics_action": "visit_id", "analytics_conversion": "visit_id",
             "analytics_mediaplay": "visit_id"}
_TABLE = re.compile(r"\b(" + "|".join(_BY_VISIT) + r")\b")


@dataclass(frozen=True)
class Selection:
    """A segment applied to one site's reports: its definition as given, read, and the site's k
    (analytics.reports.anonymity: no row shown that describes fewer visitors)."""

    definition: str
    parsed: Segment
    k: int
    since: date | None = None  # a pre-processed segment's first day (None: the site's first data)

    @classmethod
    def of(cls, definition: str, *, k: int, timezone: str) -> "Selection":
        """Raises SegmentError for a definition that cannot be read or compiled."""
        return cls(definition, query.check(definition, timezone=timezone), k)

    @property
    def key(self) -> str:
        return key_of(self.definition)


def key_of(definition: str) -> str:
    """What archives and caches of a segment are stored under (Matomo hashes definitions too): of its
    canonical form, so that `visitCount>1`, `visitCount%3E1` and ` visitCount>1 ` share them."""
    try:
        definition = grammar.definition(grammar.parse(definition))
    except SegmentError:
        pass  # NB: never stored nor read as a segment; a key all the same
    return hashlib.sha1(definition.encode()).hexdigest()


def preprocessed(definition: str) -> bool:
    """Whether a saved segment of the current site pre-processes this definition (in any spelling)."""
    from analytics.models import SavedSegment
    key = key_of(definition)
    return any(key_of(saved) == key for saved in
               SavedSegment.objects.filter(auto_archive=True).values_list("definition", flat=True))


# The distinct visitors of the segment's visits, read from the table of those visits.
VISITORS_SQL = "SELECT DISTINCT vid FROM pg_temp.segment_visits"


def select_visits(cursor, segment: Segment, *, timezone: str, start, end) -> None:
    """Fill `pg_temp.segment_visits` with the ids (`id`) and 64-bit visitor ids (`vid`, see
    sql_parts.as_int64) of the visits starting in [start, end) that the segment selects (dropped at
    commit, or by the caller once done). Reports that count visitors read `vid` here rather than
    convert each row's visitor id again."""
    sql, params = query.visits_sql(segment, timezone=timezone, start=start, end=end, rows_within=(start, end),
                                   extra=f"{as_int64('v.visitor_id')} AS vid")
    cursor.execute("DROP TABLE IF EXISTS pg_temp.segment_visits")
    cursor.execute(f"CREATE TEMPORARY TABLE segment_visits ON COMMIT DROP AS {sql}", params)
    cursor.execute("ALTER TABLE pg_temp.segment_visits ADD PRIMARY KEY (id); ANALYZE pg_temp.segment_visits")


@cache
def rewritten(sql: str) -> str:
    """`sql` with each log table read as only the rows of the segment's visits."""
    return _TABLE.sub(lambda found: f"(SELECT * FROM {found[1]} WHERE {_BY_VISIT[found[1]]} IN "
                                    "(SELECT id FROM pg_temp.segment_visits))", sql)
