"""Segmented reports on real PostgreSQL.

The oracle: a segment's reports equal the reports of the same site from which every visit the
segment does not select (found by the brute-force filter of test_segments) has been deleted, for
random traffic and random segments, over one day and over several; each row's visitor count (the
k floor's input) equals the distinct visitors counted in Python. Then a pre-processed segment's
archives equal its real-time answer for a day, a week and a range.
"""
from datetime import date, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from analytics.models import Action, Archive, ArchiveSet, ArchiveState, ArchiveVisitors, Conversion, MediaPlay, Visit
from analytics.reports import service
from analytics.reports.archive import archive_run
from analytics.reports.definitions import compute
from analytics.reports.periods import Period
from analytics.segments.restricted import Selection
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics.test_archive import T0, hits_of
from tests.integration.analytics.test_ingest import store
from tests.integration.analytics.test_segments import TZ, brute_force, segments

pytestmark = pytest.mark.django_db
FIRST = (T0 - timedelta(days=1)).date()
LAST = FIRST + timedelta(days=5)


@pytest.fixture
def site():
    instance = make_instance("segreports", state="publie")
    instance.timezone = TZ
    instance.k_anonymity = 2
    instance.save()
    return instance


def _rounded(row: dict) -> dict:
    """A row with its floats rounded: a sum of floats (sum_completion) differs in its last bits when
    added in another order, a week's from its days' sums against one sum over the week."""
    return {c: round(v, 6) if isinstance(v, float) else v for c, v in row.items()}


def _public(reports: dict) -> dict:
    """Reports without the k floor's keys, rows in a stable order, floats rounded."""
    def clean(row):
        return _rounded({c: v for c, v in row.items() if not c.startswith("_")})
    return {name: sorted((clean(row) for row in rows), key=repr) for name, rows in reports.items()}


def _answers_rounded(reports: dict) -> dict:
    """The service's answers (a row, or a list of rows, per report) with their floats rounded."""
    return {name: _rounded(rows) if isinstance(rows, dict) else [_rounded(row) for row in rows]
            for name, rows in reports.items()}


class _Undo(Exception):
    pass


def _reports_of_only(visit_ids: set[int], first: date, last: date) -> dict:
    """The unsegmented reports of a copy of the site holding only `visit_ids` (rolled back after)."""
    found = {}
    try:
        with transaction.atomic():
            for model in (Action, Conversion, MediaPlay):
                model.objects.exclude(visit_id__in=visit_ids).delete()
            Visit.objects.exclude(pk__in=visit_ids).delete()
            found = compute(first, last, TZ).reports
            raise _Undo
    except _Undo:
        return found


def _visitors_by_browser(visit_ids: set[int], first: date, last: date) -> dict[str, int]:
    start, end = service.definitions.span_bounds(first, last, TZ)
    by_browser: dict[str, set] = {}
    for visit in Visit.objects.filter(pk__in=visit_ids, first_action_at__gte=start, first_action_at__lt=end):
        by_browser.setdefault(visit.browser_name or "Unknown", set()).add(visit.visitor_id)
    return {name: len(ids) for name, ids in by_browser.items()}


@hsettings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_segmented_reports_equal_the_reports_of_only_the_selected_visits(site, data):
    with in_tenant(site):
        for model in (Action, Conversion, MediaPlay, Visit):
            model.objects.all().delete()
    store(site, data.draw(hits_of(site)))
    with in_tenant(site):
        for _ in range(6):
            expression = data.draw(segments)
            first = FIRST + timedelta(days=data.draw(st.integers(0, 3)))
            last = first + timedelta(days=data.draw(st.sampled_from([0, 0, 2, 4])))
            selected = brute_force(expression)
            segmented = compute(first, last, TZ, segment=Selection.of(expression, k=2, timezone=TZ)).reports
            assert _public(segmented) == _public(_reports_of_only(selected, first, last)), (expression, first, last)
            asked = ["VisitsSummary.get", "DevicesDetection.getBrowsers"]  # only those dimensions of the visit pass
            alone = compute(first, last, TZ, segment=Selection.of(expression, k=2, timezone=TZ), names=asked,
                            passes={"visits"}, counted={"visits"}).reports
            assert _public({name: alone.get(name, []) for name in asked}) == _public(
                {name: segmented.get(name, []) for name in asked}), expression
            counts = {row["label"]: row["_k"] for row in segmented.get("DevicesDetection.getBrowsers", [])}
            assert counts == _visitors_by_browser(selected, first, last), expression
            assert connection.cursor().execute("SELECT to_regclass('pg_temp.segment_visits')").fetchone()[0] is None


_SINGLE_ROW = {"VisitsSummary.get", "VisitFrequency.get", "Goals.get", "MediaAnalytics.get"}
_VIEWS = {"_k": None, "_k_entry": "entry_nb_visits", "_k_exit": "exit_nb_visits"}


def _visitors_per_row(visit_ids: set[int], first: date, last: date) -> dict[tuple, int]:
    """Each row's distinct visitors (and as an entry or exit page), counted by brute force: the
    visitors whose visits alone give a report with that row."""
    by_visitor: dict[str, set] = {}
    for pk, visitor in Visit.objects.filter(pk__in=visit_ids).values_list("pk", "visitor_id"):
        by_visitor.setdefault(visitor, set()).add(pk)
    counted: dict[tuple, int] = {}
    for theirs in by_visitor.values():
        for name, rows in _reports_of_only(theirs, first, last).items():
            for row in rows if name not in _SINGLE_ROW else ():
                for key, column in _VIEWS.items():
                    if column is None or row.get(column):
                        where = (name, row.get("parent"), row["label"], key)
                        counted[where] = counted.get(where, 0) + 1
    return counted


@hsettings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_row_of_every_report_counts_its_distinct_visitors(site, data):
    """The k floor's input, for every family of report (visits, pages with their entry and exit
    views, actions and events, goals and items, media and the drop-off)."""
    with in_tenant(site):
        for model in (Action, Conversion, MediaPlay, Visit):
            model.objects.all().delete()
    store(site, data.draw(hits_of(site)))
    first = FIRST + timedelta(days=data.draw(st.integers(0, 2)))  # NB: T0's days, where the traffic is
    last = LAST - timedelta(days=data.draw(st.integers(0, 2)))
    for expression in (data.draw(segments), "visitCount>=1"):  # NB: a random one often selects no one
        with in_tenant(site):
            selected = brute_force(expression)
            segmented = compute(first, last, TZ, segment=Selection.of(expression, k=2, timezone=TZ)).reports
            expected = _visitors_per_row(selected, first, last)
        got = {(name, row.get("parent"), row["label"], key): row[key] for name, rows in segmented.items()
               if name not in _SINGLE_ROW for row in rows for key in _VIEWS if row.get(key)}
        assert got == expected, expression


def test_passes_for_reads_only_what_the_reports_need():
    from analytics.reports.definitions import passes_for
    assert passes_for(["VisitsSummary.get"]) == {"visits"}
    assert passes_for(["Actions.getPageUrls", "VisitsSummary.get"]) == {"visits", "pages"}
    assert passes_for(["Actions.get"]) == {"pages", "actions"}
    assert passes_for(["Goals.getItemsSku"]) == {"goals", "visits"}
    assert passes_for(["MediaAnalytics.getPlayers"]) == {"media", "visits"}


def _read(names, period, definition, today):
    with service.segmented(definition):
        return service.reports(names, period, today=today)


NAMES = ["VisitsSummary.get", "Actions.getPageUrls", "Actions.getEntryPageUrls", "DevicesDetection.getBrowsers",
         "Referrers.getKeywordsFromSearchEngineId", "Goals.getGoals", "MediaAnalytics.getVideoResources",
         "MediaAnalytics.get", "Events.getCategory"]


@hsettings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_pre_processed_segment_reads_as_its_real_time_answer(site, data, settings):
    from analytics.models import SavedSegment
    settings.FARM_SEGMENT_CACHE_SECONDS = 0
    with in_tenant(site):
        for model in (Action, Conversion, MediaPlay, Visit, Archive, ArchiveVisitors, ArchiveSet, ArchiveState,
                      SavedSegment):
            model.objects.all().delete()
    store(site, data.draw(hits_of(site)))
    expression = data.draw(segments)
    today = LAST + timedelta(days=1)
    periods = [Period.of("day", FIRST + timedelta(days=2)), Period.of("week", FIRST + timedelta(days=2)),
               Period.span(FIRST, LAST)]
    with in_tenant(site):
        real_time = [_read(NAMES, period, expression, today) for period in periods]
        SavedSegment.objects.create(name="s", definition=expression, owner_id=1, owner_login="o", auto_archive=True)
        archive_run(now=service.definitions.day_bounds(today, TZ)[0] + timedelta(hours=1))
        assert Archive.objects.filter(segment=Selection.of(expression, k=2, timezone=TZ).key).exists()
        for period, expected in zip(periods, real_time):
            with service.segmented(expression) as scope:
                assert scope.preprocessed
                got = service.reports(NAMES, period, today=today)
            assert _answers_rounded(got) == _answers_rounded(expected), (expression, period)


def test_a_saved_segment_that_no_longer_reads_never_stops_the_sites_archiving(site):
    from analytics.models import SavedSegment
    with in_tenant(site):
        Visit.objects.create(visitor_id="0" * 15 + "1", first_action_at=T0, last_action_at=T0, actions=1)
        SavedSegment.objects.create(name="old", definition="goneDimension==1", owner_id=1, owner_login="o",
                                    auto_archive=True)
        SavedSegment.objects.create(name="ok", definition="visitCount>=1", owner_id=1, owner_login="o",
                                    auto_archive=True)
        summary = archive_run(now=T0 + timedelta(days=1))
        assert T0.date() in summary.days and summary.segments == {"visitCount>=1": 2}  # T0's day, and today
        assert Archive.objects.filter(segment="", period="day", start=T0.astimezone(
            service.definitions.ZoneInfo(TZ)).date()).exists()


def test_pre_processed_segments_follow_late_data_and_go_with_their_last_saved_segment(site, settings):
    from analytics.reports.errors import ReportError
    from analytics.segments import saved
    from analytics.segments.restricted import key_of

    settings.FARM_MAX_PREPROCESSED_SEGMENTS, settings.FARM_SEGMENT_CACHE_SECONDS = 1, 0
    day, later = T0.astimezone(service.definitions.ZoneInfo(TZ)).date(), T0 + timedelta(days=1)

    def visit(n):
        Visit.objects.create(visitor_id=f"{n:016x}", first_action_at=T0 + timedelta(minutes=n),
                             last_action_at=T0 + timedelta(minutes=n), actions=1)

    def visits_in_segment():
        with service.segmented("visitCount>=1") as scope:
            assert scope.preprocessed
            return service.report("VisitsSummary.get", Period.of("day", day), today=later.date())["nb_visits"]
    with in_tenant(site):
        visit(1), visit(2)
        segment = saved.segment_add(site.owner, site, name="all", definition="visitCount>=1", auto_archive=True)
        with pytest.raises(ReportError, match="already pre-processes 1"):
            saved.segment_add(site.owner, site, name="more", definition="visitCount>=2", auto_archive=True)
        archive_run(now=later)
        assert visits_in_segment() == 2
        with service.segmented(" visitCount%3E%3D1") as scope:  # spelled otherwise: the same segment
            assert scope.preprocessed
        visit(3)  # late data on a day already archived
        archive_run(now=later + timedelta(hours=1))
        assert visits_in_segment() == 3
        assert Archive.objects.filter(segment=key_of("visitCount>=1")).exists()
        saved.segment_delete(site.owner, site, segment.pk)
        assert not Archive.objects.filter(segment=key_of("visitCount>=1")).exists()


def test_a_pre_processed_segment_is_archived_from_its_chosen_day_on(site):
    from analytics.models import SavedSegment
    from analytics.segments.restricted import key_of
    day = T0.astimezone(service.definitions.ZoneInfo(TZ)).date()  # Tuesday 30 December 2025
    with in_tenant(site):
        for n in (1, 6):  # Wednesday 31 December, Monday 5 January (another week, month and year)
            at = T0 + timedelta(days=n)
            Visit.objects.create(visitor_id=f"{n:016x}", first_action_at=at, last_action_at=at, actions=1)
        SavedSegment.objects.create(name="late", definition="visitCount>=1", owner_id=1, owner_login="o",
                                    auto_archive=True, archive_from=day + timedelta(days=6))
        archive_run(now=T0 + timedelta(days=7))
        archived = set(Archive.objects.filter(segment=key_of("visitCount>=1"), period="day",
                                              report="VisitsSummary.get").values_list("start", flat=True))
        assert day + timedelta(days=6) in archived and day + timedelta(days=1) not in archived


def test_a_new_pre_processed_segment_fills_its_past_a_slice_a_run(site, monkeypatch):
    from analytics.models import SavedSegment
    from analytics.reports import archive
    from analytics.segments.restricted import key_of
    monkeypatch.setattr(archive, "SEGMENT_DAYS_PER_RUN", 5)
    first = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)
    with in_tenant(site):
        for n in range(12):  # a visit every third day, 10 January to 12 February
            at = first + timedelta(days=3 * n)
            Visit.objects.create(visitor_id=f"{n:016x}", first_action_at=at, last_action_at=at, actions=1)
        now = first + timedelta(days=40)
        archive_run(now=now)  # all visits first
        SavedSegment.objects.create(name="all", definition="visitCount>=1", owner_id=1, owner_login="o",
                                    auto_archive=True)
        mine = Archive.objects.filter(segment=key_of("visitCount>=1"), report="VisitsSummary.get")
        summary = archive_run(now=now + timedelta(hours=1))
        assert summary.segments == {"visitCount>=1": 5} and mine.filter(period="day").count() == 5
        assert not mine.filter(period="year").exists()  # not before every day of it is there
        for hour in range(2, 6):
            archive_run(now=now + timedelta(hours=hour))
        assert mine.filter(period="day").count() == 13  # the twelve days with visits, and today
        assert mine.filter(period="year").exists() and mine.filter(period="month").count() == 2
        with service.segmented("visitCount>=1"):
            year = service.report("VisitsSummary.get", Period.of("year", first.date()), today=now.date())
        assert year["nb_visits"] == 12
