"""Period maths, Matomo's date parameter, merging rows and ratios: no database."""
from datetime import date

import numpy as np
import pytest

from analytics.reports import catalog
from analytics.reports.merge import merge_rows, pack, union, unpack
from analytics.reports.periods import Period, PeriodError, periods_for

TODAY = date(2026, 6, 3)  # a Wednesday


def test_weeks_run_monday_to_sunday_and_months_and_years_are_calendar_ones():
    assert Period.of("week", TODAY) == Period("week", date(2026, 6, 1), date(2026, 6, 7))
    assert Period.of("month", date(2024, 2, 10)).end == date(2024, 2, 29)
    assert Period.of("year", TODAY) == Period("year", date(2026, 1, 1), date(2026, 12, 31))


def test_matomo_dates_resolve_to_periods_oldest_first():
    assert periods_for("day", "yesterday", today=TODAY) == [Period.of("day", date(2026, 6, 2))]
    assert [p.start for p in periods_for("week", "last3", today=TODAY)] == [
        date(2026, 5, 18), date(2026, 5, 25), date(2026, 6, 1)]
    assert periods_for("month", "previous1", today=TODAY) == [Period.of("month", date(2026, 5, 1))]
    assert periods_for("range", "2026-05-30,today", today=TODAY) == [Period.span(date(2026, 5, 30), TODAY)]
    assert periods_for("range", "last7", today=TODAY) == [Period.span(date(2026, 5, 28), TODAY)]


@pytest.mark.parametrize("period, value", [("hour", "today"), ("day", "2026-02-30"), ("day", "A,B"),
                                           ("range", "today"), ("range", "2026-06-02,2026-06-01"),
                                           ("week", "last0"), ("day", "soon")])
def test_bad_periods_and_dates_say_what_is_accepted(period, value):
    with pytest.raises(PeriodError):
        periods_for(period, value, today=TODAY)


def test_a_range_reads_whole_months_then_whole_weeks_then_days():
    parts = Period.span(date(2026, 4, 28), date(2026, 6, 9)).parts()
    assert [(p.kind, p.start) for p in parts] == [
        ("day", date(2026, 4, 28)), ("day", date(2026, 4, 29)), ("day", date(2026, 4, 30)),
        ("month", date(2026, 5, 1)), ("week", date(2026, 6, 1)), ("day", date(2026, 6, 8)), ("day", date(2026, 6, 9))]


def test_merging_sums_counts_keeps_extremes_and_drops_unique_counts():
    merged = merge_rows([[{"label": "a", "nb_visits": 2, "max_actions": 5, "min_event_value": 1.0,
                           "nb_uniq_visitors": 2}],
                         [{"label": "a", "nb_visits": 3, "max_actions": 4, "min_event_value": None},
                          {"label": "b", "nb_visits": 1, "max_actions": 1}]])
    assert merged == [{"label": "a", "nb_visits": 5, "max_actions": 5, "min_event_value": 1.0},
                      {"label": "b", "nb_visits": 1, "max_actions": 1}]


def test_rows_with_a_parent_merge_by_parent_and_label():
    rows = merge_rows([[{"parent": "spring", "label": "k", "nb_visits": 1}],
                       [{"parent": "summer", "label": "k", "nb_visits": 1}]])
    assert len(rows) == 2


def test_ratios_are_recomputed_from_sums_and_zero_without_visits():
    spec = catalog.spec("VisitsSummary.get")
    row = spec.with_ratios({"nb_visits": 3, "nb_actions": 7, "sum_visit_length": 100, "bounce_count": 1})
    assert (row["nb_actions_per_visit"], row["avg_time_on_site"], row["bounce_rate"]) == (2.3, 33, 33.3)
    assert spec.with_ratios({"nb_visits": 0})["bounce_rate"] == 0.0


def test_visitor_sets_pack_and_union_exactly():
    a, b = np.array([1, 5, -3], dtype=np.int64), np.array([5, 7], dtype=np.int64)
    assert unpack(pack(np.sort(a))).tolist() == [-3, 1, 5]
    assert union([a, b]).tolist() == [-3, 1, 5, 7]


def test_an_unknown_report_name_is_a_report_error():
    with pytest.raises(catalog.UnknownReport, match="getReportMetadata"):
        catalog.spec("Nope.get")


def test_rates_for_the_api_are_matomos_quotients_rounding_halves_away_from_zero():
    bounce = next(ratio for ratio in catalog.VISIT_RATIOS if ratio.name == "bounce_rate")
    assert bounce.quotient({"bounce_count": 1, "nb_visits": 8}) == 0.13  # PHP's round(), not Python's 0.12
    assert bounce.quotient({"bounce_count": 5, "nb_visits": 8}) == 0.63 and bounce.quotient({"nb_visits": 0}) == 0
    conversion = next(ratio for ratio in catalog.GOAL_RATIOS if ratio.name == "conversion_rate")
    assert conversion.quotient({"nb_visits_converted": 1, "nb_visits": 32}) == 0.0313
    frequency = {ratio.name: ratio for ratio in catalog.FREQUENCY_RATIOS}
    assert frequency["bounce_rate_returning"].quotient({"bounce_count_returning": 1, "nb_visits_returning": 3}) == 0.33
