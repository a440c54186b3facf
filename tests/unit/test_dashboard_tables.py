"""The dashboard's pure parts: the period picker's query and a report's table (sort, search, limit, comparison)."""
from datetime import date

import pytest

from analytics.dashboard.choice import PeriodChoice, period_choice
from analytics.dashboard.tables import table
from analytics.reports.periods import Period, PeriodError

TODAY = date(2026, 6, 10)
ROWS = [{"label": "/a", "nb_hits": 5, "nb_visits": 2}, {"label": "/B", "nb_hits": 9, "nb_visits": 1},
        {"label": "/c", "nb_hits": 1, "nb_visits": 7}]


def test_no_choice_is_today_and_a_choice_reads_back_as_the_same_query():
    assert period_choice({}, today=TODAY).period == Period.of("day", TODAY)
    choice = period_choice({"period": "week", "date": "2026-06-03", "compare": "1"}, today=TODAY)
    assert choice.period == Period("week", date(2026, 6, 1), date(2026, 6, 7))
    assert choice.query() == "period=week&date=2026-06-01&compare=1"
    assert period_choice(dict(p.split("=") for p in choice.query().split("&")), today=TODAY) == choice


def test_a_range_comes_from_two_fields_or_one_and_switching_kind_keeps_its_start():
    two = period_choice({"period": "range", "date": "2026-05-30", "end": "2026-06-02"}, today=TODAY)
    assert two == period_choice({"period": "range", "date": "2026-05-30,2026-06-02"}, today=TODAY)
    assert two.query() == "period=range&date=2026-05-30%2C2026-06-02"
    assert period_choice({"period": "month", "date": "2026-05-30,2026-06-02"}, today=TODAY).period.start == date(2026, 5, 1)


def test_bad_choices_are_explained():
    for params in ({"period": "fortnight"}, {"date": "soon"}, {"period": "range", "date": "2024-01-01,2026-01-01"}):
        with pytest.raises(PeriodError):
            period_choice(params, today=TODAY)


def test_arrows_and_the_evolution_walk_periods_of_the_same_kind():
    month = PeriodChoice(Period.of("month", date(2026, 1, 15)))
    assert month.shifted(-1).period.start == date(2025, 12, 1) and month.shifted(1).period.start == date(2026, 2, 1)
    days = month.evolution()
    assert len(PeriodChoice(Period.of("day", TODAY)).evolution()) == 30 and days[-1] == month.period
    assert [p.start for p in PeriodChoice(Period.span(date(2026, 1, 1), date(2026, 1, 3))).evolution()] == [
        date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]


def test_a_table_is_searched_sorted_and_limited():
    found = table("Actions.getDownloads", ROWS, search="b")
    assert [r["label"] for r in found.rows] == ["/B"]
    by_visits = table("Actions.getDownloads", ROWS, sort="nb_visits", order="asc", limit=5)
    assert [r["label"] for r in by_visits.rows] == ["/B", "/a", "/c"]
    assert [r["label"] for r in table("Actions.getDownloads", ROWS, sort="label", order="asc").rows] == ["/a", "/B", "/c"]
    limited = table("Actions.getDownloads", ROWS, limit=5)
    assert limited.limit == 5 and not limited.more
    assert table("Actions.getDownloads", ROWS, limit="7").limit == 10  # not offered: the default
    assert table("Actions.getDownloads", ROWS, sort="nope").sort == ""


def test_sorting_buckets_and_hours_by_label_keeps_their_own_order_not_the_texts():
    rows = [{"label": label, "nb_visits": 1} for label in ("121-240", "0-10", "1801+", "11-30")]
    name = "VisitorInterest.getNumberOfVisitsPerVisitDuration"
    assert [r["label"] for r in table(name, rows, sort="label", order="asc").rows] == ["0-10", "11-30", "121-240",
                                                                                        "1801+"]
    assert [r["label"] for r in table(name, rows, sort="label", order="desc").rows][0] == "1801+"


def test_a_compared_table_carries_the_previous_value_and_the_change():
    compared = table("Actions.getDownloads", ROWS, previous_rows=[{"label": "/a", "nb_hits": 4}])
    rows = {r["label"]: r for r in compared.rows}
    assert (rows["/a"]["previous"], rows["/a"]["change"]) == (4, 25.0)
    assert (rows["/B"]["previous"], rows["/B"]["change"]) == (0, None)
