"""Sites' own cron URLs, called by the super cron: once per period, retried, flagged, and stopped
with the site. A local server stands in for the sites and counts the calls it gets."""
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from farm.cron import dispatch
from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from instances import services
from instances.models import Instance
from instances.site_cron import RUNNER, TASK_NAME, instance_cron_url_set, site_crons_call
from tests.conftest import wait_for
from tests.cron_server import cron_server
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server():
    with cron_server() as running:
        yield running


def tick_and_call(at, *, racing: int = 1) -> int:
    """`racing` ticks at once at `at`, then the runner with what they handed over; returns calls made."""
    handed, lock = [], threading.Lock()

    def one_tick():
        try:
            result = dispatch.tick(now=at, filters={"name": TASK_NAME}, wake=False)
            with lock:
                handed.extend(result.handed.get(RUNNER, []))
        finally:
            connection.close()

    threads = [threading.Thread(target=one_tick) for _ in range(racing)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return site_crons_call(run_ids=handed, now=at + timedelta(seconds=1)) if handed else 0


def test_a_cron_url_is_called_once_per_period_over_a_simulated_day_with_two_racing_ticks(server):
    site = make_instance("spip-day", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"), every=5)
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    start = task.next_run_at
    for minute in range(24 * 60):
        tick_and_call(start + timedelta(minutes=minute, seconds=3), racing=2)

    assert server.called("/ok") == 24 * 12
    periods = Counter(TaskRun.objects.filter(task=task).values_list("period_key", flat=True))
    assert len(periods) == 24 * 12 and set(periods.values()) == {1}
    assert TaskRun.objects.filter(task=task, status=RunStatus.SUCCEEDED).count() == 24 * 12
    task.refresh_from_db()
    assert (task.run_count, task.failure_count, task.consecutive_failures) == (288, 0, 0)
    assert all(call["user_agent"].startswith("farm-super-cron/") for call in server.calls)


def test_a_tick_late_in_the_minute_still_runs_that_minute_and_a_skipped_minute_is_folded_not_missed(server):
    site = make_instance("late-tick", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    tick_and_call(task.next_run_at + timedelta(seconds=50))  # a tick 50 s late
    tick_and_call(task.next_run_at + timedelta(minutes=2, seconds=30))  # the next tick missed a whole minute
    runs = list(TaskRun.objects.filter(task=task).order_by("scheduled_for"))
    assert [(r.status, r.coalesced) for r in runs] == [(RunStatus.SUCCEEDED, 0), (RunStatus.SUCCEEDED, 1)]
    assert runs[1].scheduled_for == task.next_run_at + timedelta(minutes=2)
    assert server.called("/ok") == 2


@pytest.mark.parametrize("cap,read,truncated", [(1000, 1000, True), (150_000, 150_000, True),
                                                 (1_000_000, 200_000, False)])
def test_each_run_records_the_status_code_duration_and_bytes_read_capped(server, settings, cap, read, truncated):
    settings.FARM_CRON_URL_MAX_BYTES = cap
    site = make_instance(state="publie")
    instance_cron_url_set(instance=site, url=server.url("/big"))
    tick_and_call(ScheduledTask.objects.get(instance=site, name=TASK_NAME).next_run_at)
    run = TaskRun.objects.get(task__instance=site)
    assert run.status == RunStatus.SUCCEEDED
    expected = {"status_code": 200, "bytes_read": read, "duration_ms": run.duration_ms}
    assert run.result == ({**expected, "truncated": True} if truncated else expected)


def test_a_site_answering_nonsense_fails_alone_and_the_rest_of_its_batch_is_recorded(server):
    sites = [make_instance(state="publie") for _ in range(3)]
    for site, path in zip(sites, ("/redirect-bad", "/ok", "/status/500"), strict=True):
        instance_cron_url_set(instance=site, url=server.url(path))
    ScheduledTask.objects.filter(name=TASK_NAME).update(max_retries=0)
    tick_and_call(max(ScheduledTask.objects.filter(name=TASK_NAME).values_list("next_run_at", flat=True)))
    statuses = [TaskRun.objects.get(task__instance=site).status for site in sites]
    assert statuses == [RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.FAILED]
    assert not TaskRun.objects.filter(status=RunStatus.RUNNING).exists()


def test_a_new_url_starts_with_no_failures_in_a_row(server, settings):
    settings.FARM_CRON_URL_FAILURE_ALERT = 3
    site = make_instance("new-url", state="publie")
    mail.outbox.clear()
    instance_cron_url_set(instance=site, url=server.url("/status/404"))
    start = ScheduledTask.objects.get(instance=site, name=TASK_NAME).next_run_at
    for minute in range(2):
        tick_and_call(start + timedelta(minutes=minute))
    instance_cron_url_set(instance=site, url=server.url("/status/410"))
    tick_and_call(start + timedelta(minutes=2))
    assert ScheduledTask.objects.get(instance=site, name=TASK_NAME).consecutive_failures == 1
    assert Instance.objects.get(pk=site.pk).cron_failing_since is None and mail.outbox == []


def test_runs_of_one_task_handed_over_together_are_claimed_one_at_a_time_and_all_counted(server):
    from farm.cron import batches, execution

    site = make_instance("backlog", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    scheduled = dispatch.tick(now=task.next_run_at, filters={"name": TASK_NAME}, wake=False).handed[RUNNER]
    forced = execution.run_now(task=task, now=task.next_run_at)
    claimed = batches.runs_claim_many([*scheduled, forced.pk], lease_seconds=60, now=task.next_run_at)
    assert len(claimed) == 1  # the task forbids overlap: one call at a time
    waiting = TaskRun.objects.get(pk__in=[*scheduled, forced.pk], status=RunStatus.QUEUED)
    batches.runs_finish_many([batches.Outcome(run=claimed[0], status=RunStatus.SUCCEEDED)], now=task.next_run_at)
    again = batches.runs_claim_many([waiting.pk], lease_seconds=60, now=task.next_run_at)
    batches.runs_finish_many([batches.Outcome(run=again[0], status=RunStatus.FAILED, error="x")],
                             now=task.next_run_at)
    task.refresh_from_db()
    assert (task.run_count, task.failure_count, task.consecutive_failures) == (2, 1, 1)


def test_two_runs_of_a_task_recorded_in_one_batch_both_count():
    from farm.cron import batches

    site = make_instance("two-at-once", state="publie")
    instance_cron_url_set(instance=site, url="http://127.0.0.1:9/cron")
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    ScheduledTask.objects.filter(pk=task.pk).update(overlap="allow")
    now = task.next_run_at
    runs = [TaskRun.objects.create(task=task, period_key=f"N:{i}", scheduled_for=now + timedelta(minutes=i),
                                   queued_at=now) for i in range(3)]
    claimed = batches.runs_claim_many([r.pk for r in runs], lease_seconds=60, now=now)
    assert len(claimed) == 3
    outcomes = [batches.Outcome(run=run, status=status) for run, status in
                zip(claimed, (RunStatus.FAILED, RunStatus.SUCCEEDED, RunStatus.FAILED), strict=True)]
    batches.runs_finish_many(outcomes, now=now)
    task.refresh_from_db()
    assert (task.run_count, task.failure_count, task.consecutive_failures, task.last_status) == (3, 2, 1, "failed")


def test_a_503_is_retried_within_the_period_by_a_real_worker_until_it_succeeds(server, celery_worker_process):
    # NB: the retries (about a second apart) must fit in the minute the run is for: started in its
    # last seconds, the third attempt fell in the next minute and rightly gave up (seen in a full run)
    if (second := timezone.now().second) > 40:
        time.sleep(60.5 - second)
    site = make_instance("flaky-cron", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/flaky/2/a"))
    ScheduledTask.objects.filter(instance=site, name=TASK_NAME).update(next_run_at=timezone.now())
    assert dispatch.tick(filters={"name": TASK_NAME}).handed  # sent to the worker's site cron queue
    run = wait_for(lambda: TaskRun.objects.filter(task__instance=site, status=RunStatus.SUCCEEDED).first(),
                   timeout=45)
    assert server.called("/flaky/2/a") == 3 and run.attempt == 3
    assert run.result["status_code"] == 200


def test_a_timeout_is_recorded_as_a_failure(server, settings):
    settings.FARM_CRON_URL_TIMEOUT = 0.3
    site = make_instance("slow-cron", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/slow/2"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    ScheduledTask.objects.filter(pk=task.pk).update(max_retries=0)
    tick_and_call(task.next_run_at)
    run = TaskRun.objects.get(task=task)
    assert run.status == RunStatus.FAILED and run.error == "timed out after 0.3 s"
    assert 300 <= run.duration_ms < 1500


def test_a_404_fails_at_once_and_redirects_are_followed_on_the_same_host_only(server):
    paths = {"not-found": "/status/404", "same": "/redirect-same", "other": "/redirect-other/127.0.0.2:9"}
    sites = {}
    for name, path in paths.items():
        sites[name] = make_instance(f"redirect-{name}", state="publie")
        instance_cron_url_set(instance=sites[name], url=server.url(path))
    due = max(ScheduledTask.objects.filter(name=TASK_NAME).values_list("next_run_at", flat=True))
    tick_and_call(due)
    run = {name: TaskRun.objects.get(task__instance=site) for name, site in sites.items()}
    assert (run["not-found"].status, run["not-found"].attempt, run["not-found"].result["status_code"]) == \
        (RunStatus.FAILED, 1, 404)
    assert run["same"].status == RunStatus.SUCCEEDED and server.called("/ok") == 1
    assert run["other"].status == RunStatus.FAILED and "another host, not followed" in run["other"].error


def test_failures_in_a_row_flag_the_site_and_email_its_admins_once_and_once_more_on_recovery(server, settings):
    settings.FARM_CRON_URL_FAILURE_ALERT = 3
    owner = make_user("cron-owner", email="owner@example.org")
    site = make_instance("failing-cron", owner=owner, state="publie")
    instance_cron_url_set(instance=site, url=server.url("/status/410"))
    start = ScheduledTask.objects.get(instance=site, name=TASK_NAME).next_run_at
    mail.outbox.clear()
    for minute in range(5):
        tick_and_call(start + timedelta(minutes=minute))
    site.refresh_from_db()
    assert site.cron_failing_since is not None
    assert len(mail.outbox) == 1 and "failing" in mail.outbox[0].subject
    assert mail.outbox[0].to == ["owner@example.org"] and "3 times in a row" in mail.outbox[0].body

    Instance.objects.filter(pk=site.pk).update(cron_url=server.url("/ok"))  # the site repaired its cron
    for minute in range(5, 8):
        tick_and_call(start + timedelta(minutes=minute))
    site.refresh_from_db()
    assert site.cron_failing_since is None
    assert len(mail.outbox) == 2 and "answers again" in mail.outbox[1].subject


def test_a_deactivated_site_is_never_called_and_reactivation_resumes_without_a_flood(server):
    site = make_instance("paused-cron", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    now = timezone.now()
    queued = dispatch.tick(now=task.next_run_at, filters={"name": TASK_NAME}, wake=False).handed[RUNNER]
    site = services.instance_deactivate(instance=site, by=None, reason="test")
    assert site_crons_call(run_ids=queued, now=task.next_run_at) == 0  # queued before, skipped after
    assert TaskRun.objects.get(pk=queued[0]).status == RunStatus.SKIPPED
    for minute in range(1, 30):
        assert tick_and_call(now + timedelta(minutes=minute)) == 0
    assert server.called("/ok") == 0

    services.instance_reactivate(instance=site, by=None)
    assert tick_and_call(timezone.now() + timedelta(minutes=30)) == 1  # one call, not thirty
    assert server.called("/ok") == 1


def test_changing_the_schedule_or_clearing_the_url_moves_or_removes_the_task(server):
    site = make_instance("resched", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"), every=15)
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    assert (task.period, task.every) == ("minutes", 15) and task.next_run_at.minute % 15 == task.minute
    instance_cron_url_set(instance=site, url=server.url("/ok"), every=60)
    task.refresh_from_db()
    assert task.period == "hourly" and task.every == 0
    instance_cron_url_set(instance=site, url="")
    assert not ScheduledTask.objects.filter(instance=site, name=TASK_NAME).exists()
    assert Instance.objects.get(pk=site.pk).cron_url == ""


def test_minute_runs_are_pruned_after_their_short_history_and_the_totals_stay(server, settings):
    from farm.cron.maintenance import prune_minute_run_history

    settings.FARM_CRON_MINUTE_HISTORY_HOURS = 1
    site = make_instance("pruned", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    for minute in range(3):
        tick_and_call(task.next_run_at + timedelta(minutes=minute))
    TaskRun.objects.filter(task=task).update(queued_at=timezone.now() - timedelta(hours=2))
    assert prune_minute_run_history() == 3
    task.refresh_from_db()
    assert not TaskRun.objects.filter(task=task).exists() and task.run_count == 3


def test_the_super_cron_beat_entry_is_moved_to_fire_on_the_minute():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_60_s = IntervalSchedule.objects.create(every=60, period="seconds")
    PeriodicTask.objects.update_or_create(name="super cron", defaults={"task": "cron.tick", "interval": every_60_s,
                                                                      "crontab": None})
    importlib.import_module("farm.cron.migrations.0004_super_cron_on_the_minute").to_crontab(apps, None)
    entry = PeriodicTask.objects.get(name="super cron")
    assert entry.interval is None
    assert (entry.crontab.minute, entry.crontab.hour, str(entry.crontab.timezone)) == ("*", "*", "UTC")


def _admin_change(client, site, **changes):
    """Post the admin's change form for `site` as it stands, with `changes`."""
    from django.forms.models import model_to_dict

    from instances.admin import InstanceAdminForm

    data = {k: v for k, v in model_to_dict(site, fields=InstanceAdminForm._meta.fields).items() if v is not None}
    data.update({"owner": site.owner_id, "alias_urls": "[]", **changes})
    for prefix in ("domains", "memberships", "status_changes"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return client.post(f"/admin/instances/instance/{site.pk}/change/", data, HTTP_HOST="localhost")


def test_a_farm_admin_sets_the_cron_url_in_the_admin_and_the_list_flags_failing_sites(client, server):
    client.force_login(make_user("root", superuser=True))
    site = make_instance("admin-cron", state="publie")
    refused = _admin_change(client, site, cron_url="http://10.1.1.1/cron", cron_every="1")
    assert refused.status_code == 200 and "a private or reserved address" in refused.content.decode()
    assert _admin_change(client, site, cron_url=server.url("/ok"), cron_every="15").status_code == 302
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    assert (Instance.objects.get(pk=site.pk).cron_url, task.every) == (server.url("/ok"), 15)

    Instance.objects.filter(pk=site.pk).update(cron_failing_since=timezone.now())
    listing = client.get("/admin/instances/instance/?cron_url_state=failing", HTTP_HOST="localhost").content.decode()
    assert "admin-cron" in listing and ">failing</strong>" in listing
    assert _admin_change(client, Instance.objects.get(pk=site.pk), cron_url="").status_code == 302
    site.refresh_from_db()
    assert (site.cron_url, site.cron_failing_since) == ("", None)
    assert not ScheduledTask.objects.filter(instance=site, name=TASK_NAME).exists()


def test_workers_leave_a_runners_runs_to_the_runner_and_the_registry_sync_leaves_their_schedule(server):
    from farm.cron import execution
    from farm.cron.timetable import timetable_sync_all

    site = make_instance("opted-in", state="publie")
    other = make_instance("not-opted-in", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"), every=15)
    timetable_sync_all()
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    assert (task.period, task.every, task.runner) == ("minutes", 15, RUNNER)
    assert not ScheduledTask.objects.filter(instance=other, name=TASK_NAME).exists()

    dispatch.tick(now=task.next_run_at, filters={"name": TASK_NAME}, wake=False)
    assert execution.work(max_runs=100) == 0  # a generic worker never takes it
    assert TaskRun.objects.get(task=task).status == RunStatus.QUEUED and server.called("/ok") == 0


def test_the_sweeper_hands_waiting_and_recovered_runs_back_to_their_runner(server, celery_worker_process):
    from farm.cron import batches, sweeper

    waiting, lost = make_instance("waiting-cron", state="publie"), make_instance("lost-cron", state="publie")
    instance_cron_url_set(instance=waiting, url=server.url("/ok?site=waiting"))
    instance_cron_url_set(instance=lost, url=server.url("/ok?site=lost"))
    now = timezone.now()
    ScheduledTask.objects.filter(name=TASK_NAME).update(next_run_at=now)
    queued = dispatch.tick(now=now, filters={"name": TASK_NAME}, wake=False).handed[RUNNER]  # no message sent
    lost_run = TaskRun.objects.get(pk__in=queued, task__instance=lost)
    batches.runs_claim_many([lost_run.pk], lease_seconds=60, now=now)  # its runner then died
    TaskRun.objects.filter(pk=lost_run.pk).update(lease_expires_at=now - timedelta(seconds=1))
    TaskRun.objects.filter(pk__in=queued).exclude(pk=lost_run.pk).update(queued_at=now - timedelta(minutes=2))

    result = sweeper.runs_sweep()

    assert result.requeued == 1 and result.woken >= 1
    wait_for(lambda: TaskRun.objects.filter(pk__in=queued, status=RunStatus.SUCCEEDED).count() == 2)
    assert server.called("/ok?site=waiting") == 1 and server.called("/ok?site=lost") == 1


def test_calls_to_one_host_wait_for_the_per_host_limit(server, settings):
    import time

    from instances import cron_calls

    settings.FARM_CRON_URL_PER_HOST = 2
    started = time.monotonic()
    results = cron_calls.call_all({i: server.url(f"/slow/0.4?call={i}") for i in range(6)})
    elapsed = time.monotonic() - started
    assert all(r.ok for r in results.values()) and elapsed >= 3 * 0.4  # three rounds of two
    assert all(r.duration_ms < 1000 for r in results.values())  # the timeout starts with the call's turn


def test_a_runner_waiting_on_slow_sites_renews_its_leases(server):
    from farm.cron import batches
    from instances import cron_calls

    ticks = []
    cron_calls.call_all({1: server.url("/slow/1")}, every=0.2, while_waiting=lambda: ticks.append(1))
    assert len(ticks) >= 3

    site = make_instance("leased", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/ok"))
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    queued = dispatch.tick(now=task.next_run_at, filters={"name": TASK_NAME}, wake=False).handed[RUNNER]
    run, = batches.runs_claim_many(queued, lease_seconds=60, now=task.next_run_at)
    assert batches.leases_renew([run.pk], lease_seconds=60) == 1
    assert TaskRun.objects.get(pk=run.pk).lease_expires_at > timezone.now() + timedelta(seconds=50)


def test_an_alert_email_that_could_not_be_sent_is_tried_again_with_the_next_failure(server, settings, monkeypatch):
    from instances import notifications

    settings.FARM_CRON_URL_FAILURE_ALERT = 1
    site = make_instance("mail-down", state="publie")
    instance_cron_url_set(instance=site, url=server.url("/status/404"))
    start = ScheduledTask.objects.get(instance=site, name=TASK_NAME).next_run_at
    mail.outbox.clear()
    real = notifications.notify_cron_url_state

    def refused(*args, **kwargs):
        raise ConnectionRefusedError("the mail server is down")

    monkeypatch.setattr(notifications, "notify_cron_url_state", refused)
    tick_and_call(start)
    assert Instance.objects.get(pk=site.pk).cron_failing_since is None and mail.outbox == []
    monkeypatch.setattr(notifications, "notify_cron_url_state", real)
    tick_and_call(start + timedelta(minutes=1))
    assert Instance.objects.get(pk=site.pk).cron_failing_since is not None and len(mail.outbox) == 1
