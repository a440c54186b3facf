"""`manage.py migrate_farm` (also `farm migrate_farm`): bring every schema of the farm up to date —
public, the template, then each site — migrating only those that lack migrations
(instances.fleet_migrations), in parallel processes, with a progress bar and a line per site.

    farm migrate_farm --check        exit 0 when nothing is pending, 1 otherwise (and say which)
    farm migrate_farm [--jobs N] [--canary N] [--log FILE]

Resumable: a run stopped anywhere (even killed) is carried on by the next, which finds what is
still pending. `--canary N`: the first N sites one by one, stopping at the first failure.
"""
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from instances.fleet_migrations import fleet_migrate, schemas_pending


class Command(BaseCommand):
    help = "Migrate public, the template and every site schema that lacks migrations (or --check)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only say whether migrations are pending")
        parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel processes")
        parser.add_argument("--canary", type=int, default=0, help="migrate N sites first, stop on an error")
        parser.add_argument("--log", help="also append a line per schema to this file")

    def handle(self, *args, **options):
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        if options["canary"] < 0:
            raise CommandError("--canary must be 0 or more (0: no canary).")
        try:  # NB: opened before anything runs: a wrong path is said at once, not after the migrations
            log = open(options["log"], "a", encoding="utf-8") if options["log"] and not options["check"] \
                else None  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"cannot write the log {options['log']}: {exc.strerror}") from None
        try:
            self._run(options, log)
        finally:
            if log:
                log.close()

    def _run(self, options, log):
        started = time.monotonic()
        pending = schemas_pending()
        if options["check"]:
            for schema, missing in pending.items():
                self.stdout.write(f"{schema}: {missing} migration(s) pending")
            self.stdout.write(f"{len(pending)} schema(s) with pending migrations "
                              f"(checked in {time.monotonic() - started:.2f} s)")
            sys.exit(1 if pending else 0)
        if not pending:
            self.stdout.write(f"nothing to migrate (checked in {time.monotonic() - started:.2f} s)")
            return
        columns = (TextColumn("migrating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, disable=not sys.stdout.isatty()) as progress:
            bar = progress.add_task("migrating", total=len(pending))

            def done(schema, error):
                line = f"{schema}: {'FAILED ' + error if error else 'migrated'}"
                progress.console.print(line, highlight=False, markup=False)
                if log:
                    log.write(line + "\n")
                    log.flush()
                progress.advance(bar)
            run = fleet_migrate(list(pending), jobs=options["jobs"], canary=options["canary"], on_done=done)
        self.stdout.write(f"{len(run.migrated)} schema(s) migrated, {len(run.failed)} failed in "
                          f"{time.monotonic() - started:.1f} s")
        if run.stopped:
            self.stderr.write("The canary failed: nothing more was migrated. Fix it and run migrate_farm again.")
        if run.failed:
            sys.exit(1)
