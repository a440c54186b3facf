"""All websites: each site's daily totals (written by archiving) and every site's totals for a period, in one query.

The public table `SiteDay` holds, per site and site-local day, the numbers "All websites" shows:
visits, actions, page views, revenue, conversions, ecommerce orders and their revenue. Archiving
writes a day's row whenever it archives that day (`site_day_record`), so re-archiving rewrites it.
A week, a month, a year or a range is the sum of its days: these metrics are additive, as in
Matomo's own period archives (unique visitors are not, and are not shown here).

Reading never enters a site's schema: the portal's "My sites" and the API's MultiSites.* read
every site of a period, and the period before it, with one grouped query over (site, day).

The period maths is the small part of Matomo's (ISO weeks, calendar months) these pages need; it
is written here rather than imported because the portal must not depend on `analytics`.
"""
import calendar
import functools
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import F, Sum
from django.db.models.functions import TruncMonth, TruncWeek, TruncYear

from instances.errors import FarmError
from instances.summaries import SiteDay

METRICS = ("nb_visits", "nb_actions", "nb_pageviews", "revenue", "nb_conversions", "orders", "ecommerce_revenue")
KINDS = ("day", "week", "month", "year", "range")
SERIES_LENGTH = {"day": 30, "week": 26, "month": 12, "year": 5}  # sparkline points per kind (a range: its days)
MAX_RANGE_DAYS = 366
FIRST_DAY, LAST_DAY = date(1991, 8, 6), date(9998, 12, 31)  # Matomo's first date; room for the period after
_TRUNC = {"week": TruncWeek, "month": TruncMonth, "year": TruncYear}


class OverviewError(FarmError):
    """The period asked for cannot be understood; the message says what is accepted."""


def site_day_record(*, instance_id: int, day: date, totals: dict) -> None:
    """Store (insert or replace) one site's totals for one local day; `totals` maps METRICS to numbers.

    Called by archiving after it stores the day's reports, in the same transaction.
    """
    values = {metric: totals.get(metric) or 0 for metric in METRICS}
    SiteDay.objects.bulk_create([SiteDay(instance_id=instance_id, day=day, **values)], update_conflicts=True,
                                unique_fields=["instance", "day"], update_fields=[*METRICS, "archived_at"])


@dataclass(frozen=True)
class Span:
    """A period of days, as Matomo names it: day, week (Monday to Sunday), month, year or range."""

    kind: str
    start: date
    end: date

    @classmethod
    def of(cls, kind: str, day: date) -> "Span":
        """The day, week, month or year containing `day`."""
        if kind == "week":
            start = day - timedelta(days=day.weekday())
            return cls(kind, start, start + timedelta(days=6))
        if kind == "month":
            return cls(kind, day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1]))
        if kind == "year":
            return cls(kind, date(day.year, 1, 1), date(day.year, 12, 31))
        return cls("day", day, day)

    @property
    def length(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Span":
        """The period just before: the previous day, week, month or year; for a range, as many days before."""
        if self.kind == "range":
            return Span("range", self.start - timedelta(days=self.length), self.start - timedelta(days=1))
        return Span.of(self.kind, self.start - timedelta(days=1))

    def following(self) -> "Span":
        after = self.end + timedelta(days=1)
        return Span("range", after, self.end + timedelta(days=self.length)) if self.kind == "range" \
            else Span.of(self.kind, after)

    @property
    def label(self) -> str:
        """Matomo's key for the period: its day, or "start,end"."""
        return self.start.isoformat() if self.kind == "day" else f"{self.start},{self.end}"

    def series(self) -> list["Span"]:
        """The sparkline's periods, oldest first: the last SERIES_LENGTH of this kind, or a range's days."""
        if self.kind == "range":
            return [Span("day", self.start + timedelta(days=n), self.start + timedelta(days=n))
                    for n in range(self.length)]
        spans = [self]
        for _ in range(SERIES_LENGTH[self.kind] - 1):
            spans.append(spans[-1].previous())
        return spans[::-1]


def span_choice(*, kind: str | None, day: str | None, end: str | None, today: date) -> Span:
    """The period a portal page asks for (`period`, `date`, `end`), today's day by default.

    Raises OverviewError with a message fit for the page.
    """
    kind = kind or "day"
    if kind not in KINDS:
        raise OverviewError(f"period must be one of {', '.join(KINDS)}, not “{kind[:20]}”")
    start = _day(day, today)
    if kind != "range":
        return Span.of(kind, start)
    last = _day(end, today) if end else start
    if last < start:
        raise OverviewError(f"a range must not end ({last}) before it starts ({start})")
    span = Span("range", start, last)
    if span.length > MAX_RANGE_DAYS:
        raise OverviewError(f"a range may span at most {MAX_RANGE_DAYS} days; pick a year instead")
    return span


def _day(value: str | None, today: date) -> date:
    text = (value or "today").strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise OverviewError(f"“{text[:30]}” is not a date: use YYYY-MM-DD, today or yesterday") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise OverviewError(f"dates go from {FIRST_DAY} to {LAST_DAY}, not {day}")
    return day


def today_in(timezone_name: str, now: datetime | None = None) -> date:
    return (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(timezone_name)).date()


# Reads ------------------------------------------------------------------------------------------

def sites_totals(*, site_ids: list[int], span: Span, metrics: tuple = METRICS) -> dict[int, tuple[dict, dict]]:
    """Each site's `metrics` for `span` and for the period before it, as (current, previous).

    One grouped query over both periods (they are adjacent). Sites without any row are left out:
    the caller reads them as zeros. NB: the ids travel as one array parameter, not 1,000 bind
    parameters, and rows come back as tuples: for 1,000 sites that halves the time of the ORM's
    `__in` + `values()`.
    """
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; use some of {METRICS}")
    sums = [f"sum({metric}) FILTER (WHERE day >= %(start)s)" for metric in metrics]
    sums += [f"sum({metric}) FILTER (WHERE day < %(start)s)" for metric in metrics]
    sql = (f"SELECT instance_id, {', '.join(sums)} FROM {SiteDay._meta.db_table} "
           "WHERE instance_id = ANY(%(ids)s) AND day >= %(first)s AND day <= %(end)s GROUP BY instance_id")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": list(site_ids), "start": span.start, "first": span.previous().start,
                             "end": span.end})
        rows = cursor.fetchall()
    count = len(metrics)
    return {row[0]: (dict(zip(metrics, (value or 0 for value in row[1:count + 1]))),
                     dict(zip(metrics, (value or 0 for value in row[count + 1:])))) for row in rows}


def sites_series(*, site_ids: list[int], spans: list[Span], metric: str = "nb_visits") -> dict[int, list]:
    """Each site's `metric` over consecutive periods of one kind (a sparkline), oldest first; one query."""
    kind = spans[0].kind
    rows = SiteDay.objects.filter(instance_id__in=site_ids, day__gte=spans[0].start, day__lte=spans[-1].end)
    if kind in _TRUNC:
        rows = rows.annotate(bucket=_TRUNC[kind]("day")).values("instance_id", "bucket")
    else:
        rows = rows.annotate(bucket=F("day")).values("instance_id", "bucket")
    position = {span.start: n for n, span in enumerate(spans)}
    series = {site_id: [0] * len(spans) for site_id in site_ids}
    for row in rows.annotate(total=Sum(metric)).order_by():
        n = position.get(row["bucket"])
        if n is not None:
            series[row["instance_id"]][n] = row["total"] or 0
    return series


# Evolution, as Matomo computes it ----------------------------------------------------------------

def elapsed_ratio(span: Span, *, now: datetime, timezone_name: str) -> float:
    """How much of the current period has passed (1 once it is over), rounded to 3 places.

    Matomo compares an unfinished period with the same share of the period before: the previous
    value is scaled by this ratio before the evolution is computed.
    """
    zone = ZoneInfo(timezone_name)
    local = now.astimezone(zone).replace(tzinfo=None)
    start, end = datetime.combine(span.start, time.min), datetime.combine(span.end, time(23, 59, 59))
    if not start <= local <= end:
        return 1.0
    previous = span.previous()
    past_seconds = (datetime.combine(previous.end, time(23, 59, 59)) - datetime.combine(previous.start, time.min))
    return php_round((local - start).total_seconds() / past_seconds.total_seconds(), 3)


def evolution(current: float, previous: float, *, ratio: float = 1.0) -> float:
    """The change from `previous` (scaled by `ratio`) to `current` as a quotient rounded to 3 places
    (0.5 for +50 %): 0 when equal, 1 (i.e. +100 %) when there was nothing before, as in Matomo."""
    past = previous * ratio
    if current - past == 0:
        return 0
    if past == 0:
        return 1
    return php_round((current - past) / past, 3)


def trend(quotient: float) -> int:
    return (quotient > 0) - (quotient < 0)


def php_round(value: float, digits: int) -> float:
    """Round halves away from zero, as PHP's round() does (Python's rounds them to even)."""
    factor = 10 ** digits
    return math.copysign(math.floor(abs(value) * factor + 0.5 + 1e-9), value) / factor


@functools.lru_cache(maxsize=4096)  # quotients have 3 decimals: 1,000 sites share few of them
def percent(quotient: float) -> str:
    """A quotient as Matomo's API writes a percentage: "50%", "-33.3%", "1,200%" (up to 4 decimals)."""
    text = f"{quotient * 100:,.4f}".rstrip("0").rstrip(".")
    return f"{'0' if text in ('-0', '') else text}%"
