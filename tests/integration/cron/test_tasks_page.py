"""The site's Scheduled tasks page reads as a person's page: task labels, translated schedules and
statuses, and times in the site's timezone."""
from zoneinfo import ZoneInfo

import pytest
from django.forms.models import model_to_dict
from django.utils import translation

from farm.cron import execution
from farm.cron.models import RunStatus, ScheduledTask
from instances import hosts
from instances.forms import SiteSettingsForm
from instances.services import instance_settings_update
from tests.factories import make_instance

pytestmark = pytest.mark.django_db
MEASURE = "instances.sizes.instance_measure_size"
ARCHIVE = "analytics.reports.tasks.archive_reports"


def succeeded_run(task):
    run = execution.run_now(task=task)
    run = execution.run_claim(run_id=run.pk)
    assert execution.run_execute(run) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    return run


def test_the_tasks_page_in_french_shows_labels_schedules_statuses_and_site_times(client):
    site = make_instance("horloge", state="publie")
    site.timezone = "Asia/Tokyo"
    instance_settings_update(instance=site, form=SiteSettingsForm(model_to_dict(site), instance=site))
    hosts.clear_cache()
    measure = ScheduledTask.objects.get(instance=site, name=MEASURE)
    run = succeeded_run(measure)
    client.force_login(site.owner)

    page = client.get("/tasks/", HTTP_HOST="horloge.localhost", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    minute = f"{site.pk * 37 % 60:02d}"  # NB: spread tasks start at the site's own minute (registry.spread_minute)

    assert "<td>Archivage des rapports</td>" in page and "<td>Mesure de la taille du site</td>" in page
    assert f"<td>toutes les heures à :{minute}</td>" in page and f"<td>tous les jours à 03:{minute}</td>" in page
    assert ">réussie</td>" in page
    assert f">{ARCHIVE}<" not in page and ">succeeded<" not in page and "hourly at" not in page
    tokyo = ZoneInfo("Asia/Tokyo")
    assert run.started_at.astimezone(tokyo).strftime("%Y-%m-%d %H:%M:%S JST") in page
    next_run = ScheduledTask.objects.get(pk=measure.pk).next_run_at.astimezone(tokyo)
    assert next_run.strftime(f"%Y-%m-%d 03:{minute} JST") in page  # 03:mm on the site's clock


def test_the_tasks_page_in_english_and_the_run_now_message_use_the_label(client):
    site = make_instance("clock", state="publie")
    measure = ScheduledTask.objects.get(instance=site, name=MEASURE)
    client.force_login(site.owner)
    page = client.get("/tasks/", HTTP_HOST="clock.localhost").content.decode()
    assert "<td>Archive reports</td>" in page and f"<td>hourly at :{site.pk * 37 % 60:02d}</td>" in page
    landed = client.post(f"/tasks/{measure.pk}/run/", HTTP_HOST="clock.localhost", follow=True).content.decode()
    assert "“Measure the site&#x27;s size” will run in a moment." in landed


def test_a_weekly_schedule_names_its_day_in_the_active_language():
    from farm.cron.labels import schedule_label
    from farm.cron.periods import Schedule

    weekly = Schedule(period="weekly", weekday=0, hour=6, minute=30)
    assert schedule_label(weekly) == "weekly on Monday at 06:30"
    with translation.override("fr"):
        assert schedule_label(weekly) == "chaque lundi à 06:30"
