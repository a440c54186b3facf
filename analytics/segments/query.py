"""A parsed segment as SQL selecting whole visits, with Matomo's meaning of each combination.

    sql, params = visits_sql(parse("pageUrl=@/blog;visitCount>1"), timezone="Europe/Paris")
    -> "SELECT DISTINCT v.id FROM analytics_visit v LEFT JOIN analytics_action a ON ... WHERE ...", [...]

As Matomo's LogQueryBuilder: the visit is joined once to each row source its conditions name
(actions, conversions, media sessions), and a visit is selected when one joined row satisfies the
whole expression — so `pageUrl=@/blog;pageTitle=@Honey` needs one page view matching both, and
`pageUrl=@/blog,visitCount>5` is tested row by row too. `!=` and `!@` on a row-level dimension
select the visits with no matching row at all (Matomo's `idvisit NOT IN` subquery, those of one OR
group on one table merged into one; here NOT EXISTS, the same visits). Values only ever reach SQL
as parameters; the site's timezone, a validated zone name, is written in as a literal so that the
parameters stay in one simple positional list.
"""
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from analytics.segments import dimensions
from analytics.segments.dimensions import ACTION, ALIASES, CONVERSION, TABLES, VISIT, Dimension
from analytics.segments.grammar import IS_EMPTY, IS_NOT_EMPTY, Condition, Segment, SegmentError, parse

_NEGATIVE = {"!=": "==", "!@": "=@"}  # and the positive operator their subquery looks for
_ZONE = re.compile(r"^[A-Za-z0-9_+\-/]+$")


def _like(value: str, *, prefix: bool, suffix: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{'%' if prefix else ''}{escaped}{'%' if suffix else ''}"


def _holds(operator: str, candidate: str, value: str) -> bool:
    """A positive text condition on one value, as SQL would test it (any case)."""
    candidate, value = candidate.casefold(), value.casefold()
    return {"==": candidate == value, "=@": value in candidate, "=^": candidate.startswith(value),
            "=$": candidate.endswith(value), ">": candidate > value, "<": candidate < value,
            ">=": candidate >= value, "<=": candidate <= value}[operator]


@dataclass
class _Compiled:
    timezone: str
    params: list = field(default_factory=list)
    levels: set = field(default_factory=set)
    rows_within: tuple | None = None

    def within(self, level: str, params: list) -> str:
        """The time bounds of a level's rows (actions, conversions) when the span is known, their
        values appended to `params`; media sessions may outlast their visit's day, never bounded."""
        if self.rows_within is None or level not in (ACTION, CONVERSION):
            return ""
        params.extend(self.rows_within)
        alias = ALIASES[level]
        return f" AND {alias}.at >= %s AND {alias}.at < %s"

    def bind(self, value) -> str:
        self.params.append(value)
        return "%s"

    def expression(self, dimension: Dimension) -> str:
        return sql_of(dimension, self.timezone)

    def group(self, conditions: tuple[Condition, ...]) -> str:
        """One OR group. As Matomo merges them, the group's `!=` / `!@` conditions on one row source
        make one NOT EXISTS: no single row matching all of them (`pageUrl!@x,pageTitle!=y` keeps the
        visits without a page view both under x and titled y)."""
        parts, negatives = [], {}
        for condition in conditions:
            dimension = dimensions.require(condition.name, condition.position)
            if dimension.level != VISIT and condition.operator in _NEGATIVE:
                negatives.setdefault(dimension.level, []).append((dimension, condition))
                continue
            self.levels.add(dimension.level)
            match = self.match(dimension, condition.operator, condition)
            parts.append(f"({dimension.rows} AND {match})" if dimension.rows else match)
        for level, found in negatives.items():  # NB: bound after the others, and written after them too
            alias = ALIASES[level]
            matches = [self.match(d, _NEGATIVE[c.operator], c) for d, c in found]
            tests = " AND ".join(f"({d.rows} AND {m})" if d.rows else m for (d, _c), m in zip(found, matches))
            tests += self.within(level, self.params)  # NB: bound after the tests, written after them
            parts.append(f"NOT EXISTS (SELECT 1 FROM {TABLES[level]} {alias} WHERE {alias}.visit_id = v.id AND {tests})")
        return "(" + " OR ".join(parts) + ")"

    def match(self, dimension: Dimension, operator: str, condition: Condition) -> str:
        expr, value = self.expression(dimension), condition.value
        if operator == IS_EMPTY:
            return f"({expr} IS NULL OR {expr}::text IN ('', '0'))"
        if operator == IS_NOT_EMPTY:
            return f"({expr} IS NOT NULL AND {expr}::text NOT IN ('', '0'))"
        if dimension.stored is not None:  # compare the stored values whose names match
            positive = _NEGATIVE.get(operator, operator)
            matching = sorted(k for k, named in dimension.stored().items() if _holds(positive, named, value))
            found = f"COALESCE({expr} = ANY({self.bind(matching)}), false)"
            return f"NOT {found}" if operator in _NEGATIVE else found
        if dimension.number and operator in ("==", "!=", "<", ">", "<=", ">="):
            try:
                number = float(value)
            except ValueError:
                raise SegmentError(f"{dimension.name} (at position {condition.position}) compares numbers: "
                                   f"“{value[:50]}” is not one.") from None
            sql_operator = "<>" if operator == "!=" else "=" if operator == "==" else operator
            compared = f"{expr} {sql_operator} {self.bind(number)}"
            return f"({expr} IS NULL OR {compared})" if operator == "!=" else compared
        text = f"({expr})::text"
        if operator == "==":
            return f"lower({text}) = lower({self.bind(value)})"
        if operator == "!=":
            return f"({expr} IS NULL OR lower({text}) <> lower({self.bind(value)}))"
        if operator in ("<", ">", "<=", ">="):
            return f"{text} {operator} {self.bind(value)}"
        pattern = _like(value, prefix=operator in ("=@", "!@", "=$"), suffix=operator in ("=@", "!@", "=^"))
        if operator == "!@":
            return f"({expr} IS NULL OR {text} NOT ILIKE {self.bind(pattern)})"
        return f"{text} ILIKE {self.bind(pattern)}"


def _checked_zone(timezone: str) -> str:
    if not _ZONE.match(timezone):
        raise SegmentError("the site's timezone is not a zone name")
    ZoneInfo(timezone)  # a known zone, or ZoneInfoNotFoundError
    return timezone


def sql_of(dimension: Dimension, timezone: str) -> str:
    """The dimension's SQL expression with the site's timezone written in (a checked zone name)."""
    return dimension.sql.replace("{tz}", f"'{_checked_zone(timezone)}'")


def visits_sql(segment: Segment, *, timezone: str, start=None, end=None, visitor_id: str | None = None,
               extra: str = "", rows_within: tuple | None = None) -> tuple[str, list]:
    """The SQL (and its positional parameters) listing the ids of the visits the segment selects,
    among those starting in [start, end) when given, of one visitor when `visitor_id` is, with the
    `extra` columns of each visit `v` if asked. `rows_within`: the span holding every action and
    conversion of those visits when the caller knows one (local midnights: a visit never crosses
    one), so that a condition on them reads that span of the log, not the site's whole history.
    Raises SegmentError."""
    bounds = _Compiled(_checked_zone(timezone))
    tests = []
    if start is not None:
        tests.append(f"v.first_action_at >= {bounds.bind(start)}")
    if end is not None:
        tests.append(f"v.first_action_at < {bounds.bind(end)}")
    if visitor_id is not None:  # NB: a profile's few visits, read on the visitor's index
        tests.append(f"v.visitor_id = {bounds.bind(visitor_id)}")
    compiled = _Compiled(bounds.timezone, rows_within=rows_within)
    where = " AND ".join(compiled.group(ors) for ors in segment)
    joined, joins = [], ""
    for level in sorted(compiled.levels - {VISIT}):
        joins += dimensions.joined(level, "LEFT JOIN") + compiled.within(level, joined)
    select = ("SELECT DISTINCT v.id" if joins else "SELECT v.id") + (f", {extra}" if extra else "")
    # NB: parameters in the order of the text: the joins', the bounds', the conditions'
    sql = f"{select} FROM analytics_visit v{joins} WHERE {' AND '.join([*tests, where or 'true'])}"
    return sql, [*joined, *bounds.params, *compiled.params]


def check(expression: str | None, *, timezone: str) -> Segment:
    """The expression read and compiled once, so that a bad one is refused before anything is done
    with it (an answer streamed later, a segment about to be saved). Raises SegmentError."""
    segment = parse(expression)
    if segment:
        visits_sql(segment, timezone=timezone)
    return segment
