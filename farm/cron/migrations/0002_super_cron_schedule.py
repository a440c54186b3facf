"""The super cron: one django-celery-beat entry sending the tick every 60 s (editable in admin)."""
from django.db import migrations


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.get_or_create(
        name="super cron", defaults={
            "task": "cron.tick", "interval": every_minute,
            "description": "Dispatches every live site's due scheduled tasks (farm.cron).",
        })


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="super cron").delete()


class Migration(migrations.Migration):
    dependencies = [("cron", "0001_initial"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(create, remove)]
