"""`manage.py farm_init`: bring a database up to date (run by `farm up` before the processes start).

Migrates the public schema, the tenant template schema and every provisioned site, then makes
sure a first superuser exists. Safe to run any number of times.
"""
import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rich.progress import track

from farm.conf import farm_setting
from farm.cron.timetable import timetable_sync_all
from instances.models import Instance, SchemaState
from instances.provisioning import template_schema_migrate


class Command(BaseCommand):
    help = "Migrate public, template and tenant schemas, and create the first superuser if none exists."

    def handle(self, *args, **options):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        self.stdout.write("public schema migrated")
        template_schema_migrate()
        self.stdout.write(f"template schema {farm_setting('FARM_TEMPLATE_SCHEMA')} migrated")
        schemas = list(Instance.objects.filter(schema_state=SchemaState.READY).values_list("schema_name", flat=True))
        for schema in track(schemas, description="migrating sites", disable=not schemas):
            call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
        self.stdout.write(f"{len(schemas)} site schema(s) migrated")
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
