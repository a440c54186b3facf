"""The farm console: staff only; what it says of sites, queues and the last day comes from real
ticks, hits through the door and ingest, a failed run, and the ticks' minute samples."""
from datetime import date, datetime, timedelta, timezone as tz

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from analytics.tracking import queue
from farm.console import console_figures
from farm.cron import dispatch, execution
from farm.cron.models import RunStatus, ScheduledTask, TickSample
from farm.cron.samples import FAILED, STORED, buckets, tick_sample_record, tick_samples_prune
from instances.models import Instance, SchemaState, SiteMonthHits
from instances.site_cron import TASK_NAME as SITE_CRON
from instances.site_cron import instance_cron_url_set
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
NOON = datetime(2026, 6, 10, 12, 0, tzinfo=tz.utc)  # a fixed day: nothing here depends on the time it runs


def test_the_console_is_for_staff_who_may_see_the_sites(client):
    anonymous = client.get("/admin/console/", **PORTAL)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    client.force_login(make_user())
    assert client.get("/admin/console/", **PORTAL).status_code == 302
    staff = make_user(is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/console/", **PORTAL).status_code == 403  # staff without a right on the sites
    staff.user_permissions.add(Permission.objects.get(codename="view_instance"))
    client.force_login(staff)
    page = client.get("/admin/console/", **PORTAL)
    assert page.status_code == 200 and b'id="farm-console"' in page.content
    assert b"/admin/console/" in client.get("/admin/", **PORTAL).content  # linked from the admin's home


def _fail_one_run(site) -> None:
    task = ScheduledTask.objects.get(instance=site, name="tests.cron_tasks.broken")
    started = execution.run_claim(run_id=execution.run_now(task=task).pk)
    assert execution.run_execute(started) == RunStatus.FAILED


def test_the_console_reads_real_ticks_hits_and_a_failed_run(client, settings, monkeypatch):
    settings.TIME_ZONE = "UTC"
    # NB: hits earlier tests of this process wrote through are counted with the first hit queued here
    monkeypatch.setattr(queue, "_uncounted", {"accepted": 0, "stored": 0})
    live, other = make_instance(state="publie"), make_instance(state="publie")
    pending = make_instance()
    broken = make_instance(state="publie")
    Instance.objects.filter(pk=broken.pk).update(schema_state=SchemaState.FAILED,
                                                  provisioning_error="clone failed: disk full")
    Instance.objects.filter(pk=live.pk).update(schema_size_bytes=7 * 1024 * 1024, schema_size_measured_at=NOON)
    Instance.objects.filter(pk=other.pk).update(schema_size_bytes=1024 * 1024, schema_size_measured_at=NOON)
    instance_cron_url_set(instance=live, url="http://127.0.0.1:9/cron.php")  # allowed in tests; never called here
    ScheduledTask.objects.filter(instance=live, name=SITE_CRON).update(consecutive_failures=4, last_run_at=NOON)
    SiteMonthHits.objects.create(instance=live, month=date(2026, 6, 1), hits=1200)
    SiteMonthHits.objects.create(instance=other, month=date(2026, 6, 1), hits=34)
    SiteMonthHits.objects.create(instance=other, month=date(2026, 5, 1), hits=99999)  # another month
    # a site in another time zone counts in its own month (June there too, already June 11)
    Instance.objects.filter(pk=pending.pk).update(timezone="Pacific/Kiritimati")
    SiteMonthHits.objects.create(instance=pending, month=date(2026, 6, 1), hits=1000)

    # A tick with the site's record task due, as the super cron would run it at 11:20.
    ScheduledTask.objects.filter(instance=live, name="tests.cron_tasks.record").update(
        next_run_at=NOON - timedelta(minutes=45))
    first = dispatch.tick(now=NOON - timedelta(minutes=40), wake=False)
    assert first.queued >= 1
    # Then three hits stored and a run that fails, and the next tick at 11:52.
    for n in range(3):
        assert client.get("/matomo.php", {"idsite": live.pk, "rec": 1, "url": f"https://s.example/{n}"},
                          **PORTAL).status_code in (200, 204)
    assert queue.ingest_drain() == 3
    _fail_one_run(live)
    dispatch.tick(now=NOON - timedelta(minutes=8), wake=False)

    figures = console_figures(now=NOON)
    assert figures["sites"]["total"] == 4 and figures["sites"]["pending"] == 1 and figures["sites"]["ready"] == 2
    assert {row["status"]: row["count"] for row in figures["sites"]["by_status"]} == {
        "prepa": 1, "publie": 3, "desactive": 0}
    assert [site.pk for site in figures["sites"]["failed"]] == [broken.pk]
    assert figures["hits"] == {"today": 3, "month": 2234}
    assert figures["day"]["minutes"] == 24 * 60 - 10  # the window starts at 12:10 yesterday
    assert figures["day"]["minutes_ticked"] == figures["day"]["ticks"] == 2
    assert figures["day"]["dispatched"] == first.queued
    assert figures["day"]["failed"] == 1
    assert [site.pk for site in figures["largest"]] == [live.pk, other.pk]
    assert [task.instance_id for task in figures["cron_failing"]] == [live.pk]
    charts = {chart["id"]: chart["spec"] for chart in figures["charts"]}
    assert len(charts["console-ticks"]["labels"]) == 144 and charts["console-ticks"]["labels"][-1] == "12:00"
    assert sum(charts["console-ticks"]["values"]) == 2
    assert sum(charts["console-dispatched"]["values"]) == first.queued
    assert max(v for v in charts["console-runs-queued"]["values"] if v is not None) >= first.queued
    assert pending.pk not in [site.pk for site in figures["largest"]]

    client.force_login(make_user(superuser=True))
    page = client.get("/admin/console/", **PORTAL).content.decode()
    for text in (live.name, broken.name, "clone failed: disk full", "7.0\xa0MB", "console-dispatched"):
        assert text in page, text


def test_ticks_of_one_minute_add_up_and_a_reset_counter_counts_from_zero():
    tick_sample_record(now=NOON + timedelta(seconds=5), due=10, dispatched=8, missed=1)
    tick_sample_record(now=NOON + timedelta(seconds=40), due=3, dispatched=3, missed=0)
    sample = TickSample.objects.get(at=NOON)
    assert (sample.ticks, sample.due, sample.dispatched, sample.missed) == (2, 13, 11, 1)

    TickSample.objects.all().delete()
    for minute, failed, stored in ((0, 5, 100), (1, 7, 130), (2, 1, 10), (3, None, None), (4, 4, 25)):
        counters = None if failed is None else {FAILED: failed, STORED: stored}
        TickSample.objects.create(at=NOON + timedelta(minutes=minute), counters=counters)
    (stretch,) = buckets(since=NOON + timedelta(minutes=1), until=NOON + timedelta(minutes=5), minutes=10)
    # 5 → 7 is 2; 7 → 1 is a reset: 1; a sample without counters is skipped; 1 → 4 is 3
    assert (stretch.failed, stretch.hits_stored, stretch.ticks) == (6, 30 + 10 + 15, 4)


def test_old_samples_are_pruned(settings):
    settings.FARM_CRON_SAMPLE_DAYS = 7
    TickSample.objects.create(at=timezone.now() - timedelta(days=8))
    kept = TickSample.objects.create(at=timezone.now() - timedelta(days=6))
    assert tick_samples_prune() == 1
    assert list(TickSample.objects.values_list("pk", flat=True)) == [kept.pk]


def test_hits_today_start_at_the_farms_midnight_and_the_month_is_each_sites_own(settings):
    settings.TIME_ZONE = "America/New_York"  # UTC-4 in June: the day starts at 04:00 UTC
    for at, stored in ((NOON.replace(hour=3, minute=50), 100), (NOON.replace(hour=4, minute=10), 130),
                       (NOON.replace(hour=11), 150)):
        TickSample.objects.create(at=at, counters={STORED: stored, FAILED: 0})
    assert console_figures(now=NOON)["hits"]["today"] == 30 + 20  # not the 100 of the day before

    behind = make_instance(state="publie")  # on July 1st 02:00 UTC, Pago Pago (UTC-11) is still in June
    Instance.objects.filter(pk=behind.pk).update(timezone="Pacific/Pago_Pago")
    SiteMonthHits.objects.create(instance=behind, month=date(2026, 6, 1), hits=40)
    # a July row, which reading by the farm's month alone would take instead of June's
    SiteMonthHits.objects.create(instance=behind, month=date(2026, 7, 1), hits=1)
    assert console_figures(now=datetime(2026, 7, 1, 2, 0, tzinfo=tz.utc))["hits"]["month"] == 40


def test_a_late_tick_reading_the_counters_after_the_next_one_is_not_taken_for_a_reset():
    """The 12:00 tick ran late and read the counters after the 12:01 tick did: in the order of their
    minutes the counter goes down (130, then 120), which would read as a reset and count 120 again."""
    read = NOON + timedelta(minutes=1)
    for minute, stored, read_at in ((-1, 100, NOON - timedelta(seconds=60)), (0, 130, read + timedelta(seconds=3)),
                                    (1, 120, read + timedelta(seconds=0.5))):
        TickSample.objects.create(at=NOON + timedelta(minutes=minute), counters={STORED: stored, FAILED: 0},
                                  counters_at=read_at)
    (stretch,) = buckets(since=NOON, until=NOON + timedelta(minutes=2), minutes=10)
    assert stretch.hits_stored == 30
