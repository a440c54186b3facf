"""Periods as Matomo names them (day, week, month, year, range) and how a request's date resolves to them.

Pure date arithmetic, no database: weeks run Monday to Sunday (ISO, as in Matomo); "today" is the
site's today, passed in by the caller so that these functions never guess a timezone.
"""
import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from analytics.reports.errors import ReportError

KINDS = ("day", "week", "month", "year", "range")
_LAST_N = re.compile(r"^(last|previous)(\d{1,4})$")


class PeriodError(ReportError):
    """The period or date cannot be understood; the message says what is accepted."""


@dataclass(frozen=True, order=True)
class Period:
    """A closed interval of site-local days with its kind; `range` periods are any span of days."""

    kind: str
    start: date
    end: date

    @classmethod
    def of(cls, kind: str, day: date) -> "Period":
        """The day, week, month or year containing `day`."""
        if kind == "day":
            return cls(kind, day, day)
        if kind == "week":
            start = day - timedelta(days=day.weekday())
            return cls(kind, start, start + timedelta(days=6))
        if kind == "month":
            last = calendar.monthrange(day.year, day.month)[1]
            return cls(kind, day.replace(day=1), day.replace(day=last))
        if kind == "year":
            return cls(kind, date(day.year, 1, 1), date(day.year, 12, 31))
        raise PeriodError(f"period must be one of {', '.join(KINDS[:-1])} here, not “{kind}”")

    @classmethod
    def span(cls, start: date, end: date) -> "Period":
        if end < start:
            raise PeriodError(f"a range must not end ({end}) before it starts ({start})")
        return cls("range", start, end)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def previous(self) -> "Period":
        """The period of the same kind just before this one (same length for a range)."""
        if self.kind == "range":
            length = self.end - self.start + timedelta(days=1)
            return Period.span(self.start - length, self.end - length)
        return Period.of(self.kind, self.start - timedelta(days=1))

    def ended(self, today: date) -> bool:
        return self.end < today

    @property
    def label(self) -> str:
        """Matomo's key for a period in multi-period results: the date, or "start,end"."""
        return self.start.isoformat() if self.kind == "day" else f"{self.start},{self.end}"

    def parts(self) -> list["Period"]:
        """This span cut into whole months, then whole weeks, then days: the archives a range reads."""
        parts, day = [], self.start
        while day <= self.end:
            month, week = Period.of("month", day), Period.of("week", day)
            if self.kind != "month" and month.start == day and month.end <= self.end:
                part = month
            elif self.kind != "week" and week.start == day and week.end <= self.end:
                part = week
            else:
                part = Period.of("day", day)
            parts.append(part)
            day = part.end + timedelta(days=1)
        return parts


def parse_day(value: str | date, *, today: date) -> date:
    """A day from `YYYY-MM-DD`, `today` or `yesterday`."""
    if isinstance(value, date):
        return value
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"“{value}” is not a date: use YYYY-MM-DD, today or yesterday") from None


def periods_for(period: str, value: str | date | tuple[date, date], *, today: date) -> list[Period]:
    """Resolve Matomo's `period` and `date` parameters to the periods to report, oldest first.

    One period for a date (`2026-06-01`, `today`, `yesterday`) or a range (`A,B` or a (start, end)
    tuple with period=range); several for `lastN` (the N periods ending with the current one) and
    `previousN` (the N periods before the current one), as Matomo's evolution requests use them.
    With period=range, `lastN`/`previousN` mean one range of N days. Raises PeriodError.
    """
    if period not in KINDS:
        raise PeriodError(f"period must be one of {', '.join(KINDS)}, not “{period}”")
    if isinstance(value, tuple):
        return [Period.span(*value) if period == "range" else _refuse_range(period)]
    text = value if isinstance(value, date) else value.strip().lower()
    match = _LAST_N.match(text) if isinstance(text, str) else None
    if match:
        return _last_n(period, match.group(1), int(match.group(2)), today)
    if isinstance(text, str) and "," in text:
        if period != "range":
            _refuse_range(period)
        start, _sep, end = text.partition(",")
        return [Period.span(parse_day(start, today=today), parse_day(end, today=today))]
    if period == "range":
        raise PeriodError("period=range needs date=START,END (or lastN / previousN)")
    return [Period.of(period, parse_day(text, today=today))]


def _refuse_range(period: str):
    raise PeriodError(f"a date range (A,B) needs period=range, not period={period}")


def _last_n(period: str, which: str, n: int, today: date) -> list[Period]:
    if not 1 <= n <= 1000:
        raise PeriodError(f"{which}N takes N from 1 to 1000, not {n}")
    if period == "range":
        end = today if which == "last" else today - timedelta(days=1)
        return [Period.span(end - timedelta(days=n - 1), end)]
    current = Period.of(period, today)
    if which == "previous":
        current = current.previous()
    periods = [current]
    for _ in range(n - 1):
        periods.append(periods[-1].previous())
    return periods[::-1]
