"""`manage.py archive_reports`: archive a range of days again (and their weeks, months, years), with a progress bar."""
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import Progress

from analytics.reports.archive import archive_range, archive_run
from analytics.reports.periods import Period, PeriodError
from farm.tenancy import in_tenant
from instances.models import Instance, SchemaState, Status


class Command(BaseCommand):
    help = ("Archive reports again for the days from --from to --to (site-local dates), then the weeks, months "
            "and years containing them. Without dates: the hourly run (today and days with late data).")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--instance", metavar="SLUG", help="the site to archive")
        which.add_argument("--all-instances", action="store_true", help="every live site with a ready schema")
        parser.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day to archive")
        parser.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day to archive (default: --from)")

    def handle(self, *args, **options):
        days = self._days(options["start"], options["end"])
        console = Console(file=self.stdout)
        for instance in self._instances(options):
            with in_tenant(instance), Progress(console=console, transient=True) as progress:
                bar = progress.add_task(f"{instance.slug}: archiving", total=None)
                if days is None:
                    summary = archive_run()
                else:
                    summary = archive_range(days.start, days.end, progress=lambda done, total: progress.update(
                        bar, completed=done, total=total))
            self.stdout.write(f"{instance.slug}: {len(summary.days)} day(s), {len(summary.periods)} week/month/year "
                              f"archive(s) in {summary.seconds:.1f} s")

    def _days(self, start: str | None, end: str | None) -> Period | None:
        if start is None:
            if end is not None:
                raise CommandError("--to needs --from (the first day to archive).")
            return None
        try:
            first = date.fromisoformat(start)
            return Period.span(first, date.fromisoformat(end) if end else first)
        except ValueError as exc:
            if isinstance(exc, PeriodError):
                raise CommandError(f"{exc}; swap --from and --to.") from None
            raise CommandError(f"dates are YYYY-MM-DD, like 2026-06-01 ({exc}).") from None

    def _instances(self, options) -> list:
        if options["all_instances"]:
            return list(Instance.objects.filter(status=Status.PUBLIE, schema_state=SchemaState.READY).order_by("slug"))
        instance = Instance.objects.filter(slug=options["instance"]).first()
        if instance is None:
            raise CommandError(f"No site has the slug “{options['instance']}”; see `manage.py instance list`.")
        if instance.schema_state != SchemaState.READY:
            raise CommandError(f"Site “{instance.slug}” has no ready schema yet ({instance.schema_state}).")
        return [instance]
