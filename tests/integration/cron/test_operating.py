"""Operating the cron: CLI, admin, site dashboard, health, and refusals of bad input."""
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from farm.cron import dispatch, registry
from farm.cron.models import RunStatus, ScheduledTask, TaskRun
from instances.models import Membership, Role
from tests import cron_tasks
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
RECORD = "tests.cron_tasks.record"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_run_scheduled_tasks_force_runs_now_without_consuming_the_period():
    site = make_instance("clirun", state="publie")
    task = ScheduledTask.objects.get(instance=site, name=RECORD)
    out = run("run_scheduled_tasks", "--instance", "clirun", "--task", RECORD, "--force")
    assert "succeeded" in out and cron_tasks.calls("clirun") == 1
    assert ScheduledTask.objects.get(pk=task.pk).next_run_at == task.next_run_at


def test_run_scheduled_tasks_without_force_runs_only_what_is_due():
    site = make_instance("due-now", state="publie")
    assert "Nothing is due." in run("run_scheduled_tasks", "--instance", "due-now")
    ScheduledTask.objects.filter(instance=site, name=RECORD).update(next_run_at=timezone.now() - timedelta(minutes=1))
    out = run("run_scheduled_tasks", "--instance", "due-now", "--task", RECORD)
    assert "succeeded" in out and cron_tasks.calls("due_now") == 1


def test_run_scheduled_tasks_exits_non_zero_when_a_run_fails():
    make_instance("clifail", state="publie")
    with pytest.raises(CommandError, match="1 task run\\(s\\) failed"):
        run("run_scheduled_tasks", "--instance", "clifail", "--task", "tests.cron_tasks.broken", "--force")


def test_run_scheduled_tasks_honours_the_overlap_lock_unless_told_otherwise():
    site = make_instance("locked", state="publie")
    task = ScheduledTask.objects.get(instance=site, name=RECORD)
    TaskRun.objects.create(task=task, period_key="H:x", scheduled_for=timezone.now(), status=RunStatus.RUNNING,
                           queued_at=timezone.now(), lease_expires_at=timezone.now() + timedelta(minutes=5))
    assert "No task matches." in run("run_scheduled_tasks", "--instance", "locked", "--task", RECORD, "--force")
    assert "succeeded" in run("run_scheduled_tasks", "--instance", "locked", "--task", RECORD, "--force",
                              "--ignore-lock")


@pytest.mark.parametrize("args, message", [
    (("--instance", "ghost"), "No site has the slug “ghost”"),
    (("--task", "no.such.task"), "No task is registered as “no.such.task”"),
    (("--instance", "ghost", "--force"), "No site has the slug"),
])
def test_bad_cli_arguments_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run("run_scheduled_tasks", *args)


def test_tasks_timetable_shows_next_run_local_and_utc():
    site = make_instance("paris", state="publie")
    site.timezone = "Europe/Paris"
    site.save()
    out = run("tasks_timetable", "--instance", "paris")
    minute = (site.pk * 37) % 60  # NB: spread: the site's own minute in the hour (registry.spread_minute)
    assert "instance_measure_size" in out and f"daily at 03:{minute:02d}" in out
    assert "CET" in out or "CEST" in out
    with pytest.raises(CommandError, match="No site has the slug"):
        run("tasks_timetable", "--instance", "nowhere")


@pytest.mark.parametrize("options, message", [
    (dict(hour=25), "hour must be an integer from 0 to 23"),
    (dict(priority=13), "priority must be an integer from 0"),
    (dict(scope="galaxy"), "scope must be"),
    (dict(overlap="sometimes"), "overlap must be one of"),
])
def test_invalid_registrations_are_refused_with_the_task_name(options, message):
    with pytest.raises(registry.RegistrationError, match=message) as raised:
        registry.daily(cron_tasks.record, param="bad", **options)
    assert "tests.cron_tasks.record" in str(raised.value)


def test_lambdas_and_local_functions_cannot_be_registered():
    with pytest.raises(registry.RegistrationError, match="module-level function"):
        registry.hourly(lambda: None)


def test_an_unregistered_task_is_disabled_at_the_next_sync_and_a_new_one_appears():
    from farm.cron.timetable import timetable_sync_all

    site = make_instance("synced", state="publie")
    registry.weekly(cron_tasks.record, param="weekly", weekday=2)
    try:
        timetable_sync_all()
        assert ScheduledTask.objects.filter(instance=site, name=RECORD, param="weekly", enabled=True).exists()
    finally:
        registry.unregister(RECORD, "weekly")
    timetable_sync_all()
    assert not ScheduledTask.objects.get(instance=site, name=RECORD, param="weekly").enabled


def test_the_admin_run_now_action_queues_a_forced_run(client):
    site = make_instance("admin-run", state="publie")
    task = ScheduledTask.objects.get(instance=site, name=RECORD)
    client.force_login(make_user("root", superuser=True))
    response = client.post("/admin/cron/scheduledtask/", {"action": "run_now", ACTION_CHECKBOX_NAME: [task.pk]},
                           HTTP_HOST="localhost")
    assert response.status_code == 302
    assert TaskRun.objects.filter(task=task, forced=True, status=RunStatus.QUEUED).count() == 1
    page = client.get("/admin/instances/instance/", HTTP_HOST="localhost").content.decode()
    assert "task failures (24 h)" in page.lower() and "dispatch lag" in page.lower()


def test_site_admins_see_the_timetable_and_run_now_but_viewers_cannot_run(client):
    site = make_instance("dash", state="publie")
    task = ScheduledTask.objects.get(instance=site, name=RECORD)
    viewer = make_user("watcher")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)

    client.force_login(site.owner)
    page = client.get("/tasks/", HTTP_HOST="dash.localhost").content.decode()
    assert 'id="tasks"' in page and RECORD in page and "Run now" in page
    response = client.post(f"/tasks/{task.pk}/run/", HTTP_HOST="dash.localhost")
    assert response.status_code == 302
    assert TaskRun.objects.filter(task=task, forced=True).count() == 1

    client.force_login(viewer)
    assert "Run now" not in client.get("/tasks/", HTTP_HOST="dash.localhost").content.decode()
    assert client.post(f"/tasks/{task.pk}/run/", HTTP_HOST="dash.localhost").status_code == 403


def test_a_site_cannot_run_another_sites_task(client):
    mine = make_instance("mine", state="publie")
    other = make_instance("theirs", state="publie")
    foreign = ScheduledTask.objects.get(instance=other, name=RECORD)
    client.force_login(mine.owner)
    assert client.post(f"/tasks/{foreign.pk}/run/", HTTP_HOST="mine.localhost").status_code == 404
    assert not TaskRun.objects.filter(task=foreign).exists()


def test_healthz_reports_the_tick_age_and_says_when_it_is_stale(client):
    from django.core.cache import cache

    dispatch.tick(now=timezone.now() - timedelta(days=1))
    body = client.get("/healthz", HTTP_HOST="localhost").json()
    assert body["super_cron"] == "ok" and body["super_cron_last_tick_age_seconds"] < 5
    cache.set(dispatch.LAST_TICK_KEY, timezone.now().timestamp() - 600, timeout=None)
    body = client.get("/healthz", HTTP_HOST="localhost").json()
    assert body["super_cron"].startswith("stale") and body["status"] == "ok"


def test_measure_size_stores_the_schema_size_on_the_instance():
    site = make_instance("measured", state="publie")
    run("run_scheduled_tasks", "--instance", "measured", "--task", "instances.sizes.instance_measure_size", "--force")
    site.refresh_from_db()
    assert site.schema_size_bytes > 0 and site.schema_size_measured_at is not None
    with connection.cursor() as cursor:  # every relation of the schema counted (the catalogue's own list)
        cursor.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                       "WHERE c.relnamespace = 'measured'::regnamespace AND c.relkind IN ('r', 'm')")
        assert site.schema_size_bytes == cursor.fetchone()[0]


def test_prune_run_history_deletes_old_finished_runs_only():
    from farm.cron.maintenance import prune_run_history

    site = make_instance("pruned", state="publie")
    task = ScheduledTask.objects.get(instance=site, name=RECORD)
    old = timezone.now() - timedelta(days=40)
    TaskRun.objects.create(task=task, period_key="H:old", scheduled_for=old, status=RunStatus.SUCCEEDED, queued_at=old)
    TaskRun.objects.create(task=task, period_key="H:stuck", scheduled_for=old, status=RunStatus.QUEUED, queued_at=old)
    assert prune_run_history() == 1
    assert list(TaskRun.objects.filter(task=task).values_list("period_key", flat=True)) == ["H:stuck"]
