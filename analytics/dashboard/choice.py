"""The dashboard's period picker: `?period=…&date=…&compare=1` read into a period, and written back.

Pure, no database: "today" is the site's today, passed in. The choice lives in the URL so a page
can be bookmarked or shared, and every link of the navigation carries it along.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from analytics.reports.periods import KINDS, Period, PeriodError, periods_for

# How many periods the evolution graph and the sparklines show, per kind (a range: its days).
EVOLUTION_LENGTH = {"day": 30, "week": 26, "month": 24, "year": 5}
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class PeriodChoice:
    """The period a page reports on, and whether it is compared with the one before."""

    period: Period
    compare: bool = False

    @property
    def kind(self) -> str:
        return self.period.kind

    @property
    def date_param(self) -> str:
        """The `date` query value that gives this period back: the start day, or "start,end" for a range."""
        return self.period.label if self.kind == "range" else self.period.start.isoformat()

    @property
    def previous(self) -> Period:
        return self.period.previous()

    def query(self, **overrides) -> str:
        """The query string (without "?") of this choice, with `overrides` (None drops a key)."""
        params = {"period": self.kind, "date": self.date_param, "compare": "1" if self.compare else None}
        params.update(overrides)
        return urlencode({key: value for key, value in params.items() if value is not None})

    def shifted(self, steps: int) -> "PeriodChoice":
        """The same kind of period `steps` periods later (negative: earlier), for the ← → arrows."""
        period = self.period
        for _ in range(abs(steps)):
            period = period.previous() if steps < 0 else _following(period)
        return PeriodChoice(period, self.compare)

    def evolution(self) -> list[Period]:
        """The periods of the evolution graph, oldest first: the last N of this kind, or a range's days."""
        if self.kind == "range":
            return [Period.of("day", day) for day in self.period.days()]
        periods = [self.period]
        for _ in range(EVOLUTION_LENGTH[self.kind] - 1):
            periods.append(periods[-1].previous())
        return periods[::-1]


def _following(period: Period) -> Period:
    next_day = period.end + timedelta(days=1)
    if period.kind == "range":
        return Period.span(next_day, next_day + (period.end - period.start))
    return Period.of(period.kind, next_day)


def period_choice(params, *, today: date) -> PeriodChoice:
    """The choice in a request's query (`period`, `date`, `end` from the picker's form, `compare`).

    Missing values default to today's day. A range may come as `date=A,B` or as `date=A&end=B`
    (the picker's two date fields). Raises PeriodError with a message fit for the page.
    """
    kind = params.get("period") or "day"
    value = (params.get("date") or "today").strip()
    if kind not in KINDS:
        raise PeriodError(f"period must be one of {', '.join(KINDS)}, not “{kind}”")
    if kind == "range" and "," not in value:
        value = f"{value},{params.get('end') or value}"
    elif kind != "range" and "," in value:
        value = value.split(",", 1)[0]  # switching from a range: keep its start
    periods = periods_for(kind, value, today=today)
    period = periods[0] if len(periods) == 1 else Period.span(periods[0].start, periods[-1].end)
    if period.kind == "range" and len(period.days()) > MAX_RANGE_DAYS:
        raise PeriodError(f"a range may span at most {MAX_RANGE_DAYS} days; pick a year instead")
    return PeriodChoice(period, compare=params.get("compare") in ("1", "on", "true"))
