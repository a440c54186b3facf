"""`manage.py tasks_timetable`: what runs when, and how it went last time."""
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_tenants.utils import get_tenant_model
from rich.console import Console
from rich.table import Table

from farm.cron.selectors import humanize_delta, timetable
from farm.cron.tenants import tenant_zone


class Command(BaseCommand):
    help = "Show the timetable: task, param, schedule, priority, next run, last status, duration, failures."

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--instance", metavar="SLUG", help="only this site")
        where.add_argument("--farm", action="store_true", help="only farm-level tasks")

    def handle(self, *args, **options):
        instance_id = None
        if options["instance"]:
            tenant = get_tenant_model().objects.filter(slug=options["instance"]).first()
            if tenant is None:
                raise CommandError(f"No site has the slug “{options['instance']}”.")
            instance_id = tenant.pk
        rows = timetable(instance_id=instance_id, farm_only=options["farm"])
        now = timezone.now()
        table = Table(title=f"Scheduled tasks ({now:%Y-%m-%d %H:%M} UTC)")
        for column in ("site", "task", "param", "schedule", "prio", "next run (local)", "next run (UTC)", "in",
                       "last", "duration", "failures"):
            table.add_column(column)
        for row in rows:
            tz = tenant_zone(row.instance)
            local = row.next_run_at.astimezone(tz)
            table.add_row(
                row.instance.slug if row.instance_id else "(farm)", row.name.rsplit(".", 1)[-1], row.param,
                row.schedule.describe(), str(row.priority), f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
                f"{row.next_run_at:%Y-%m-%d %H:%M}", humanize_delta(row.next_run_at - now) if row.live else "paused",
                row.last_status or "—", f"{row.last_duration_ms} ms" if row.last_duration_ms is not None else "—",
                str(row.consecutive_failures),
            )
        Console(file=self.stdout, width=200).print(table)
