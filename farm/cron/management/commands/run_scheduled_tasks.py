"""`manage.py run_scheduled_tasks`: run due tasks now (as a tick would), or force selected ones."""
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_tenant_model
from rich.console import Console
from rich.progress import track

from farm.cron import dispatch, execution, registry
from farm.cron.models import RunStatus, ScheduledTask, TaskRun


class Command(BaseCommand):
    help = ("Without --force: plan what is due now and run it in this process. With --force: run the selected "
            "tasks now as forced runs, which neither consume nor shift their period.")

    def add_arguments(self, parser):
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--instance", metavar="SLUG", help="only this site's tasks")
        where.add_argument("--farm", action="store_true", help="only farm-level tasks")
        parser.add_argument("--task", metavar="NAME", help="dotted name of the task function")
        parser.add_argument("--param", metavar="P", help="only the task with this parameter")
        parser.add_argument("--force", action="store_true", help="run now even if not due")
        parser.add_argument("--ignore-lock", action="store_true", help="run even if the previous run still runs")

    def handle(self, *args, **options):
        filters = self._filters(options)
        run_ids = self._forced(filters, options["ignore_lock"]) if options["force"] else \
            dispatch.tick(filters=filters, wake=False).run_ids
        if not run_ids:
            self.stdout.write("Nothing is due." if not options["force"] else "No task matches.")
            return
        console = Console(file=self.stdout)
        outcomes = {}
        for run_id in track(run_ids, description="running tasks", console=console, disable=len(run_ids) < 3):
            run = execution.run_claim(run_id=run_id)
            outcomes[run_id] = execution.run_execute(run) if run else TaskRun.objects.get(pk=run_id).status
        failed = 0
        for run in TaskRun.objects.filter(pk__in=run_ids).select_related("task", "task__instance"):
            where = run.task.instance.slug if run.task.instance_id else "farm"
            self.stdout.write(f"{where:<20} {run.task.name}({run.task.param}) {run.period_key}: {run.status}"
                              f"{' — ' + run.error.splitlines()[-1] if run.error else ''}")
            failed += run.status == RunStatus.FAILED
        if failed:
            raise CommandError(f"{failed} task run(s) failed")

    def _filters(self, options) -> dict:
        filters = {}
        if options["instance"]:
            tenant = get_tenant_model().objects.filter(slug=options["instance"]).first()
            if tenant is None:
                raise CommandError(f"No site has the slug “{options['instance']}”.")
            filters["instance_id"] = tenant.pk
        elif options["farm"]:
            filters["farm_only"] = True
        if options["task"]:
            names = {name for name, _param in registry.registered()}
            if options["task"] not in names:
                raise CommandError(f"No task is registered as “{options['task']}”; known: "
                                   + ", ".join(sorted(names)))
            filters["name"] = options["task"]
        if options["param"] is not None:
            filters["param"] = options["param"]
        return filters

    def _forced(self, filters, ignore_lock) -> list[int]:
        rows = ScheduledTask.objects.filter(enabled=True, live=True)
        if "instance_id" in filters:
            rows = rows.filter(instance_id=filters["instance_id"])
        if filters.get("farm_only"):
            rows = rows.filter(instance__isnull=True)
        rows = rows.filter(**{k: v for k, v in filters.items() if k in ("name", "param")})
        runs = [execution.run_now(task=row, ignore_lock=ignore_lock) for row in rows]
        skipped = [r for r in runs if r.status == RunStatus.SKIPPED]
        for run in skipped:
            self.stderr.write(f"{run.task.name}: skipped, the previous run still runs (use --ignore-lock)")
        return [r.pk for r in runs if r.status == RunStatus.QUEUED]
