"""`manage.py farm_init`: bring a database up to date (run by `farm up` before the processes start).

Migrates the public schema, the tenant template schema and every provisioned site that lacks
migrations (one query finds them: instances.fleet_migrations), then makes sure a first superuser
exists. Safe to run any number of times.
"""
import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from farm.conf import farm_setting
from farm.cron.timetable import timetable_sync_all
from instances.fleet_migrations import fleet_migrate, fleet_schemas, schemas_pending
from instances.provisioning import template_schema_migrate


class Command(BaseCommand):
    help = "Migrate public, template and tenant schemas, and create the first superuser if none exists."

    def handle(self, *args, **options):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        self.stdout.write("public schema migrated")
        template_schema_migrate()
        self.stdout.write(f"template schema {farm_setting('FARM_TEMPLATE_SCHEMA')} migrated")
        sites = list(schemas_pending(fleet_schemas()[2:]))  # NB: one query; only sites behind are migrated
        run = fleet_migrate(sites, jobs=1)
        self.stdout.write(f"{len(run.migrated)} site schema(s) migrated")
        if run.failed:
            raise CommandError("Site schemas not migrated: " + "; ".join(f"{s}: {e}" for s, e in run.failed.items())
                               + ". Fix them and run `farm migrate_farm`.")
        created = timetable_sync_all()
        self.stdout.write(f"timetable synced ({created} new scheduled task row(s))")
        call_command("collectstatic", interactive=False, verbosity=0)  # incremental after the first run
        self._ensure_superuser()

    def _ensure_superuser(self):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        username = os.environ.get("FARM_ADMIN_USERNAME", "admin")
        password = os.environ.get("FARM_ADMIN_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        email = os.environ.get("FARM_ADMIN_EMAIL", f"admin@{farm_setting('FARM_DOMAIN')}")
        User.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created superuser “{username}” with password: {password}  (shown once; change it in the admin)"))
        else:
            self.stdout.write(f"Created superuser “{username}” (password from FARM_ADMIN_PASSWORD)")
