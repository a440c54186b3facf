"""Period keys and next boundaries, including DST days in Europe/Paris."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farm.cron.periods import Schedule, boundaries_between, current_boundary, next_boundary, resolve_local

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_hourly_boundaries_and_keys_follow_the_utc_hour():
    hourly = Schedule("hourly")
    assert next_boundary(hourly, utc(2026, 3, 29, 0, 59, 59), PARIS) == (utc(2026, 3, 29, 1), "H:2026-03-29T01")
    assert next_boundary(hourly, utc(2026, 3, 29, 1), PARIS) == (utc(2026, 3, 29, 2), "H:2026-03-29T02")
    at_15 = Schedule("hourly", minute=15)
    assert next_boundary(at_15, utc(2026, 1, 1, 10, 20), UTC) == (utc(2026, 1, 1, 11, 15), "H:2026-01-01T11")


def test_a_daily_task_at_0230_on_spring_forward_day_runs_at_the_first_valid_instant_after():
    # 2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    daily = Schedule("daily", hour=2, minute=30)
    at, key = next_boundary(daily, utc(2026, 3, 28, 12), PARIS)
    assert at == utc(2026, 3, 29, 1, 0)  # 03:00 CEST, the first valid instant after 02:30
    assert at.astimezone(PARIS).strftime("%H:%M %Z") == "03:00 CEST"
    assert key == "D:2026-03-29"
    following = next_boundary(daily, at, PARIS)
    assert following == (utc(2026, 3, 30, 0, 30), "D:2026-03-30")  # 02:30 CEST the next day


def test_a_daily_task_at_0230_on_fall_back_day_runs_once():
    # 2026-10-25 in Paris: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    daily = Schedule("daily", hour=2, minute=30)
    at, key = next_boundary(daily, utc(2026, 10, 24, 12), PARIS)
    assert (at, key) == (utc(2026, 10, 25, 0, 30), "D:2026-10-25")  # the first 02:30 (CEST)
    after_second_occurrence = utc(2026, 10, 25, 1, 30)  # the second 02:30 (CET)
    assert current_boundary(daily, after_second_occurrence, PARIS) == (at, key)
    assert next_boundary(daily, at, PARIS)[1] == "D:2026-10-26"


def test_daily_keys_are_the_local_date_not_the_utc_date():
    daily = Schedule("daily", hour=0, minute=30)
    at, key = next_boundary(daily, utc(2026, 6, 30, 12), PARIS)
    assert at == utc(2026, 6, 30, 22, 30) and key == "D:2026-07-01"


def test_weekly_keys_are_iso_weeks_and_monthly_days_are_clamped():
    weekly = Schedule("weekly", weekday=0, hour=6)
    assert next_boundary(weekly, utc(2026, 12, 30), UTC) == (utc(2027, 1, 4, 6), "W:2027-W01")
    monthly = Schedule("monthly", day=31, hour=1)
    assert next_boundary(monthly, utc(2026, 2, 1), UTC) == (utc(2026, 2, 28, 1), "M:2026-02")
    assert next_boundary(monthly, utc(2026, 2, 28, 1), UTC) == (utc(2026, 3, 31, 1), "M:2026-03")


def test_boundaries_between_lists_missed_periods_capped():
    hourly = Schedule("hourly")
    found = boundaries_between(hourly, utc(2026, 1, 1, 0), utc(2026, 1, 1, 5, 30), UTC, limit=100)
    assert [k for _at, k in found] == [f"H:2026-01-01T0{h}" for h in range(6)]
    assert len(boundaries_between(hourly, utc(2025, 1, 1), utc(2026, 1, 1), UTC, limit=100)) == 100


def test_resolve_local_skips_a_whole_missing_day():
    # Samoa skipped 2011-12-30 entirely.
    apia = ZoneInfo("Pacific/Apia")
    at = resolve_local(datetime(2011, 12, 30).date(), datetime.min.time(), apia)
    assert at.astimezone(apia).date().isoformat() == "2011-12-31"


@pytest.mark.parametrize("bad", [dict(period="yearly"), dict(period="daily", hour=24),
                                 dict(period="hourly", minute=60), dict(period="weekly", weekday=7),
                                 dict(period="monthly", day=0)])
def test_invalid_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        Schedule(**bad)


ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Santiago",
                         "Asia/Kolkata"])
SCHEDULES = st.builds(Schedule, period=st.sampled_from(["hourly", "daily", "weekly", "monthly"]),
                      minute=st.integers(0, 59), hour=st.integers(0, 23), weekday=st.integers(0, 6),
                      day=st.integers(1, 31))
INSTANTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(SCHEDULES, INSTANTS, ZONES)
def test_boundaries_strictly_advance_and_every_period_key_is_new(schedule, start, zone_name):
    tz = ZoneInfo(zone_name)
    instant, keys = start, []
    for _ in range(6):
        following, key = next_boundary(schedule, instant, tz)
        assert following > instant
        keys.append(key)
        instant = following
    assert len(set(keys)) == len(keys)


def test_minute_boundaries_fall_on_the_utc_minutes_of_the_step_and_its_offset():
    every_5_at_2 = Schedule("minutes", every=5, minute=2)
    assert next_boundary(every_5_at_2, utc(2026, 3, 29, 0, 58, 30), PARIS) == (
        utc(2026, 3, 29, 1, 2), "N:2026-03-29T01:02")
    assert current_boundary(every_5_at_2, utc(2026, 3, 29, 1, 6, 59), PARIS) == (
        utc(2026, 3, 29, 1, 2), "N:2026-03-29T01:02")
    every_minute = Schedule("minutes", every=1)
    assert next_boundary(every_minute, utc(2026, 3, 29, 1, 0), PARIS) == (utc(2026, 3, 29, 1, 1), "N:2026-03-29T01:01")
    assert every_minute.nominal_seconds == 60 and Schedule("minutes", every=15).nominal_seconds == 900


@given(st.sampled_from([1, 5, 15]), st.integers(0, 14), st.datetimes(min_value=datetime(2000, 1, 1),
                                                                      max_value=datetime(2100, 1, 1)))
def test_minute_periods_are_consecutive_and_each_key_names_one_period(every, offset, naive):
    schedule = Schedule("minutes", every=every, minute=offset % every)
    at = naive.replace(tzinfo=UTC)
    start, key = current_boundary(schedule, at, PARIS)
    following, next_key = next_boundary(schedule, at, PARIS)
    assert start <= at < following and (following - start).total_seconds() == every * 60
    assert key != next_key and following.minute % every == offset % every


@pytest.mark.parametrize("options,message", [
    ({"every": 7}, "every must divide an hour"), ({"every": 60}, "every must divide an hour"),
    ({"every": 5, "minute": 5}, "offset"), ({"period": "hourly", "every": 5}, "minutes period only"),
])
def test_minute_schedules_refuse_steps_that_do_not_divide_an_hour(options, message):
    with pytest.raises(ValueError, match=message):
        Schedule(**{"period": "minutes", **options})
