"""Period maths for scheduled tasks: boundaries and period keys, DST-safe. Pure functions.

- minutes: every N minutes (N divides 60), at UTC minutes m with m % N == offset (`minute`);
  key "N:2026-03-29T01:05" (the UTC minute). The offset spreads many sites' runs over the period.
- hourly: boundary at minute M of every UTC hour; key "H:2026-03-29T01" (the UTC hour).
- daily: at hh:mm local time; key "D:2026-03-29" (the local date).
- weekly: on a weekday at hh:mm local; key "W:2026-W13" (the ISO week).
- monthly: on a day of month (clamped to the month's length) at hh:mm local; key "M:2026-03".

A local time that does not exist (spring-forward gap) resolves to the first valid instant after
it; an ambiguous one (fall-back) to its first occurrence — the key is the local date, so the task
runs once either way.
"""
import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
PERIODS = ("minutes", "hourly", "daily", "weekly", "monthly")
NOMINAL_SECONDS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400}
MINUTE_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # the divisors of 60 below 60 (60 is "hourly")


@dataclass(frozen=True)
class Schedule:
    """When a task runs: its period and its time within the period (local to the task's timezone)."""

    period: str
    minute: int = 0
    hour: int = 0
    weekday: int = 0  # Monday = 0, as datetime.weekday()
    day: int = 1
    every: int = 0  # minutes between runs, for the "minutes" period only

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ValueError(f"unknown period {self.period!r}; use one of {', '.join(PERIODS)}")
        if self.period == "minutes":
            if self.every not in MINUTE_STEPS:
                raise ValueError(f"every must divide an hour: one of {', '.join(map(str, MINUTE_STEPS))} minutes"
                                 f" (60 is the hourly period), not {self.every!r}")
            if not isinstance(self.minute, int) or not 0 <= self.minute < self.every:
                raise ValueError(f"minute (the offset) must be an integer from 0 to {self.every - 1}, "
                                 f"not {self.minute!r}")
        elif self.every:
            raise ValueError(f"every is for the minutes period only, not {self.period}")
        for name, value, low, high in (("minute", self.minute, 0, 59), ("hour", self.hour, 0, 23),
                                       ("weekday", self.weekday, 0, 6), ("day", self.day, 1, 31)):
            if not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer from {low} to {high}, not {value!r}")

    @property
    def nominal_seconds(self) -> int:
        """The period's length (a month counts 30 days): start deadlines and forced runs' windows."""
        return self.every * 60 if self.period == "minutes" else NOMINAL_SECONDS[self.period]

    def describe(self) -> str:
        at = f"{self.hour:02d}:{self.minute:02d}"
        if self.period == "minutes":
            return "every minute" if self.every == 1 else f"every {self.every} minutes"
        return {
            "hourly": f"hourly at :{self.minute:02d}",
            "daily": f"daily at {at}",
            "weekly": f"weekly on {calendar.day_name[self.weekday]} at {at}",
            "monthly": f"monthly on day {self.day} at {at}",
        }[self.period]


def resolve_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall time `at` on `day` in `tz`: gaps move forward, folds take the first."""
    wall = datetime.combine(day, at)
    for _ in range(48 * 60):  # the longest known gap is a whole day (Samoa, 2011)
        local = wall.replace(tzinfo=tz, fold=0)
        if local.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
            return local.astimezone(UTC)
        wall += timedelta(minutes=1)
    raise ValueError(f"no valid local time near {day} {at} in {tz}")


def _month_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _candidates(schedule: Schedule, around: datetime, tz: ZoneInfo):
    """(instant, key) boundaries near `around`, enough to contain the next one after it."""
    if schedule.period == "minutes":
        base = around.astimezone(UTC).replace(second=0, microsecond=0)
        base -= timedelta(minutes=(base.minute - schedule.minute) % schedule.every)
        for steps in (-1, 0, 1, 2):
            start = base + timedelta(minutes=steps * schedule.every)
            yield start, "N:" + start.strftime("%Y-%m-%dT%H:%M")
        return
    if schedule.period == "hourly":
        base = around.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        for hours in (-1, 0, 1, 2):
            start = base + timedelta(hours=hours)
            yield start.replace(minute=schedule.minute), "H:" + start.strftime("%Y-%m-%dT%H")
        return
    at = time(schedule.hour, schedule.minute)
    local_day = around.astimezone(tz).date()
    if schedule.period == "daily":
        for days in (-1, 0, 1, 2):
            day = local_day + timedelta(days=days)
            yield resolve_local(day, at, tz), "D:" + day.isoformat()
    elif schedule.period == "weekly":
        monday = local_day - timedelta(days=local_day.weekday())
        for weeks in (-1, 0, 1, 2):
            day = monday + timedelta(weeks=weeks, days=schedule.weekday)
            iso = day.isocalendar()
            yield resolve_local(day, at, tz), f"W:{iso.year}-W{iso.week:02d}"
    else:
        for months in (-1, 0, 1, 2):
            index = local_day.year * 12 + local_day.month - 1 + months
            year, month = divmod(index, 12)
            yield resolve_local(_month_day(year, month + 1, schedule.day), at, tz), f"M:{year}-{month + 1:02d}"


def next_boundary(schedule: Schedule, after: datetime, tz: ZoneInfo) -> tuple[datetime, str]:
    """The first boundary strictly after `after` (an aware datetime) and its period key."""
    return min((c for c in _candidates(schedule, after, tz) if c[0] > after), key=lambda c: c[0])


def current_boundary(schedule: Schedule, at: datetime, tz: ZoneInfo) -> tuple[datetime, str]:
    """The last boundary at or before `at` and its period key (the period `at` falls in)."""
    return max((c for c in _candidates(schedule, at, tz) if c[0] <= at), key=lambda c: c[0])


def boundaries_between(schedule: Schedule, start: datetime, end: datetime, tz: ZoneInfo, *, limit: int):
    """Boundaries b with start <= b <= end, oldest first, at most the last `limit` of them."""
    nominal = timedelta(seconds=schedule.nominal_seconds)
    start = max(start, end - nominal * (limit + 2))
    found = []
    instant, key = current_boundary(schedule, start, tz)
    if instant < start:
        instant, key = next_boundary(schedule, instant, tz)
    while instant <= end:
        found.append((instant, key))
        instant, key = next_boundary(schedule, instant, tz)
    return found[-limit:]
