"""Report retention: the reports of periods that ended before the site's retention in months (the
current month not counted) are deleted by its daily task; days and weeks always, months and years
unless kept, the basic metrics kept if asked; a deleted report is never rebuilt, even from raw logs
still kept, and recent reports are untouched."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
from django.forms.models import model_to_dict

from analytics.models import Archive, ArchiveState, ArchiveVisitors
from analytics.privacy.report_retention import BASIC_REPORTS, reports_cutoff, reports_purge
from analytics.reports import archive, service
from analytics.reports.periods import Period
from farm.cron.models import ScheduledTask
from farm.tenancy import in_tenant
from tests.factories import make_instance, run_task_now
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
TODAY = datetime.now(timezone.utc).date()
CUTOFF = reports_cutoff(TODAY, 2)  # the first day of the month two months before this one
OLD, RECENT = CUTOFF - timedelta(days=40), TODAY - timedelta(days=1)


def test_the_cutoff_does_not_count_the_current_month():
    assert reports_cutoff(date(2026, 12, 1), 2) == date(2026, 10, 1)
    assert reports_cutoff(date(2026, 12, 31), 2) == date(2026, 10, 1)
    assert reports_cutoff(date(2026, 2, 10), 14) == date(2024, 12, 1)


@pytest.fixture
def site():
    instance = make_instance("reports-retention", state="publie")  # UTC
    entries = []
    for n, day in enumerate((OLD, RECENT)):
        noon = datetime.combine(day, time(12), timezone.utc)
        visitor = {"_id": f"{n + 1:016x}"}
        entries += [hit(instance, noon, url="https://s.example/a", action_name="A", **visitor),
                    hit(instance, noon + timedelta(minutes=1), url="https://s.example/b", idgoal=1, revenue=5,
                        **visitor)]
    store(instance, entries)
    with in_tenant(instance):
        archive.archive_run()  # the days, their weeks, months and years
    return instance


def reports(day: date) -> dict:
    return {kind: (service.report("VisitsSummary.get", Period.of(kind, day)),
                   service.report("Actions.getPageTitles", Period.of(kind, day)))
            for kind in ("day", "week", "month")}


def test_by_default_days_and_weeks_keep_their_basic_metrics_and_months_stay_whole(site):
    with in_tenant(site):
        old, recent = reports(OLD), reports(RECENT)
        assert old["day"][0]["nb_visits"] == 1 and len(old["day"][1]) == 1
        counts = reports_purge(months=2)
        assert counts["before"] == CUTOFF.isoformat() and counts["archive"] > 0 and counts["archivevisitors"] == 2
        left = set(Archive.objects.filter(period__in=("day", "week"), start__lt=CUTOFF - timedelta(days=6))
                   .values_list("report", flat=True))
        assert left == set(BASIC_REPORTS)
        assert not ArchiveVisitors.objects.filter(period="day", start=OLD).exists()
        after = reports(OLD)
        assert after["day"][0] == old["day"][0] and after["day"][1] == []  # metrics kept, detail gone
        assert after["week"][0]["nb_visits"] == 1 and after["week"][1] == []
        assert after["month"] == old["month"]  # the month is kept whole
        assert service.report("Goals.get", Period.of("day", OLD))["nb_conversions"] == 1
        assert reports(RECENT) == recent  # recent periods untouched

        archive.archive_range(OLD, OLD)  # the raw logs are still there, yet nothing comes back
        archive.archive_run()
        assert reports(OLD) == after
        assert Archive.objects.filter(period="day", start=OLD).count() == len(BASIC_REPORTS)
        assert reports_purge(months=2)["archive"] == 0  # nothing more the same day


def test_without_keeping_anything_the_old_periods_are_empty_and_stay_so(site):
    with in_tenant(site):
        reports_purge(months=2, keep_basic_metrics=False, keep_month_year=False)
        assert not Archive.objects.filter(period__in=("day", "month"), start__lt=CUTOFF).exists()
        old = reports(OLD)
        assert all(summary["nb_visits"] == 0 and pages == [] for summary, pages in old.values())
        assert service.report("VisitsSummary.get", Period.of("day", RECENT))["nb_visits"] == 1
        cuts = ArchiveState.objects.get().reports_purged_before
        assert cuts == {"day": CUTOFF.isoformat(), "week": (CUTOFF - timedelta(days=6)).isoformat(),
                        "month": CUTOFF.isoformat(), "year": date(CUTOFF.year, 1, 1).isoformat()}
        reports_purge(months=6)  # a longer retention later: what went stays gone
        assert ArchiveState.objects.get().reports_purged_before == cuts
        archive.archive_range(OLD, OLD)
        assert reports(OLD) == old
        if RECENT.year == TODAY.year:  # the year going on is built from what its months kept: it grows on
            assert service.report("VisitsSummary.get", Period.of("year", TODAY))["nb_visits"] == 1
            store(site, [hit(site, datetime.combine(TODAY, time(0, 5), timezone.utc), url="https://s.example/c",
                             action_name="C", _id="9" * 16)])
            archive.archive_run()
            assert service.report("VisitsSummary.get", Period.of("year", TODAY))["nb_visits"] == 2


def test_the_daily_task_reads_the_sites_settings(client, site):
    task = ScheduledTask.objects.get(instance=site, name="analytics.privacy.tasks.purge_old_reports")
    assert (task.period, task.hour) == ("daily", 3)

    assert run_task_now(task) is None  # no report retention: nothing deleted
    client.force_login(site.owner)
    form = {k: v for k, v in model_to_dict(site).items() if v is not None}
    response = client.post("/settings/", {**form, "report_retention_months": "1"}, HTTP_HOST="reports-retention.localhost")
    assert response.status_code == 200 and "greater than or equal to 2" in response.content.decode()
    response = client.post("/settings/", {**form, "report_retention_months": "2",
                                          "report_retention_keep_basic_metrics": ""}, HTTP_HOST="reports-retention.localhost")
    assert response.status_code == 302
    result = run_task_now(task)
    assert result["before"] == CUTOFF.isoformat() and result["archive"] > 0
    with in_tenant(site):
        assert service.report("VisitsSummary.get", Period.of("day", OLD))["nb_visits"] == 0
        assert service.report("VisitsSummary.get", Period.of("month", OLD))["nb_visits"] == 1  # months kept
