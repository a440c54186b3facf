"""`manage.py instance <action>`: the lifecycle from the command line, through the same services."""
import json
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from instances import services, site_cron
from instances.errors import FarmError
from instances.models import Instance, SchemaState, Status


class Command(BaseCommand):
    help = "List sites and move them through their lifecycle (request, validate, refuse, deactivate, ...)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser("list", help="list sites")
        listing.add_argument("--status", choices=Status.values)
        listing.add_argument("--json", action="store_true", help="machine-readable output")
        req = sub.add_parser("request", help="record a site request (prepa)")
        req.add_argument("slug")
        req.add_argument("--name", required=True)
        req.add_argument("--owner", required=True, help="username of the requester")
        req.add_argument("--purpose", default="")
        req.add_argument("--url", default="", help="the website its analytics track")
        val = sub.add_parser("validate", help="validate a request and provision it")
        val.add_argument("slug")
        val.add_argument("--wait", action="store_true", help="return once the schema is ready")
        val.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits (default 120)")
        cron = sub.add_parser("cron-url", help="set, show or clear the site's cron URL (called by the super cron)")
        cron.add_argument("slug")
        cron.add_argument("url", nargs="?", help="the site's cron entry point, e.g. "
                                                 "https://www.example.org/spip.php?action=cron")
        cron.add_argument("--every", type=int, choices=site_cron.EVERY_CHOICES, default=None,
                          help="minutes between calls (default 1, or the site's current choice)")
        cron.add_argument("--clear", action="store_true", help="stop calling the site's cron")
        for name, needs_reason in (("refuse", True), ("deactivate", True), ("reactivate", False),
                                   ("delete", False), ("purge", False)):
            p = sub.add_parser(name)
            p.add_argument("slug")
            p.add_argument("--reason", required=needs_reason, default="")

    def handle(self, *args, **options):
        action = options["action"]
        try:
            if action == "list":
                return self._list(options)
            if action == "request":
                return self._request(options)
            instance = self._instance(options["slug"])
            if action == "cron-url":
                return self._cron_url(instance, options)
            service = {
                "validate": services.instance_validate, "refuse": services.instance_refuse,
                "deactivate": services.instance_deactivate, "reactivate": services.instance_reactivate,
                "delete": services.instance_schedule_deletion, "purge": services.instance_purge,
            }[action]
            instance = service(instance=instance, by=None, reason=options["reason"]) if "reason" in options \
                else service(instance=instance, by=None)
        except FarmError as exc:
            raise CommandError(str(exc)) from exc
        if action == "validate" and options["wait"]:
            instance = self._wait_ready(instance, options["timeout"])
        self.stdout.write(f"{instance.slug}: {instance.get_status_display()} ({instance.status}), "
                          f"schema {instance.schema_state}")

    def _instance(self, slug: str) -> Instance:
        instance = Instance.objects.filter(slug=slug).first()
        if instance is None:
            raise CommandError(f"No site has the slug “{slug}”; see `manage.py instance list`.")
        return instance

    def _list(self, options):
        rows = Instance.objects.prefetch_related("domains").order_by("id")
        if options["status"]:
            rows = rows.filter(status=options["status"])
        data = [
            {"slug": i.slug, "idsite": i.idsite, "name": i.name, "status": i.status,
             "schema_state": i.schema_state, "domains": sorted(d.domain for d in i.domains.all())}
            for i in rows
        ]
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        for row in data:
            self.stdout.write(f"{row['idsite']:>5}  {row['slug']:<40} {row['status']:<10} {row['schema_state']:<13}"
                              f" {' '.join(row['domains'])}")

    def _cron_url(self, instance: Instance, options):
        from instances.url_guard import url_redacted

        if options["clear"] and options["url"]:
            raise CommandError("Give a URL or --clear, not both.")
        if options["clear"] or options["url"] or options["every"]:
            if not (options["clear"] or options["url"] or instance.cron_url):
                raise CommandError(f"{instance.slug} has no cron URL; give one before --every.")
            url = "" if options["clear"] else (options["url"] or instance.cron_url)
            instance = site_cron.instance_cron_url_set(instance=instance, url=url,
                                                       every=options["every"] or instance.cron_every)
        if not instance.cron_url:
            self.stdout.write(f"{instance.slug}: no cron URL")
            return
        every = "every minute" if instance.cron_every == 1 else f"every {instance.cron_every} minutes"
        failing = f" — failing since {instance.cron_failing_since:%Y-%m-%d %H:%M %Z}" \
            if instance.cron_failing_since else ""
        self.stdout.write(f"{instance.slug}: {url_redacted(instance.cron_url)} called {every}{failing}")

    def _request(self, options):
        owner = get_user_model().objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user is called “{options['owner']}”.")
        instance = services.instance_request(owner=owner, name=options["name"], slug=options["slug"],
                                             purpose=options["purpose"], main_url=options["url"])
        self.stdout.write(f"{instance.slug}: requested (idsite {instance.idsite})")

    def _wait_ready(self, instance: Instance, timeout: float) -> Instance:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            instance.refresh_from_db()
            if instance.schema_state == SchemaState.READY:
                return instance
            if instance.schema_state == SchemaState.FAILED:
                raise CommandError(f"Provisioning {instance.slug} failed: {instance.provisioning_error}")
            time.sleep(0.1)
        raise CommandError(f"{instance.slug} is not ready after {timeout:.0f} s; is a Celery worker running?")
