"""The super cron fires on the minute (a crontab `* * * * *`), not every 60 s from whenever Beat
started: minute tasks are due at :00, and an interval drifts (each tick's delay adds up)."""
from django.db import migrations


def to_crontab(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC")
    PeriodicTask.objects.filter(name="super cron").update(interval=None, crontab=every_minute)


def to_interval(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.filter(name="super cron").update(crontab=None, interval=every_minute)


class Migration(migrations.Migration):
    dependencies = [("cron", "0003_minute_periods_and_runners"), ("django_celery_beat", "0019_alter_periodictasks_options")]
    operations = [migrations.RunPython(to_crontab, to_interval)]
