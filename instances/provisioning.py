"""Provisioning: build an instance's schema, fast by cloning a migrated template.

The template schema (FARM_TEMPLATE_SCHEMA) holds every tenant-app table with its migration
records. Cloning it (instances.cloning) copies tables and `django_migrations` in one transaction,
so the cost grows neither with the number of migrations nor with the number of sites. Provisioning is idempotent and resumable: a schema that
already exists is migrated (finishing whatever a crash left), domains are ensured, and only
then is the instance marked ready. A per-instance advisory lock keeps two workers apart.
"""
import logging
import time
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from farm.conf import farm_setting
from farm.cron.timetable import timetable_tenant_changed
from farm.tenancy import in_schema
from instances import cloning
from instances.models import Domain, Instance, SchemaState, Status

logger = logging.getLogger(__name__)

_ADVISORY_NAMESPACE = 4242  # first key of pg_advisory_lock(int, int): "farm provisioning"
TEMPLATE_LOCK = (_ADVISORY_NAMESPACE, 0)  # the template's (provisioning_lock(0) while it is migrated)
_template_checked_for: set | None = None  # leaf migrations the template was last seen current with


class _TemplateClone(CloneSchema):
    """django-tenants' clone, defining its PL/pgSQL functions only where they are missing.

    django-tenants runs CREATE OR REPLACE on its ~4,000-line clone_schema() before every clone.
    Each replacement makes every database session that has run the function compile it again,
    and PostgreSQL keeps the old compiled copies (~2 MB each) for the life of the session: a
    long-lived connection that provisions many sites grew to 1.9 GB, and its commits and rollbacks
    slowed to seconds. farm_init (each deploy) redefines it once, through template_schema_migrate.
    """

    def _create_clone_schema_function(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT FROM pg_proc WHERE proname = 'clone_schema'"
                           " AND pronamespace = 'public'::regnamespace)")
            if cursor.fetchone()[0]:
                return
        super()._create_clone_schema_function()


@contextmanager
def provisioning_lock(key: int):
    """Session-level advisory lock on one instance's schema (0 is the template's)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_ADVISORY_NAMESPACE, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_ADVISORY_NAMESPACE, key])


def _migrate_schema(schema_name: str) -> None:
    # NB: migrate_schemas leaves the connection in the schema it failed in; in_schema restores it.
    with in_schema("public"):
        call_command(
            "migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)


def _unapplied_migrations(schema_name: str) -> list:
    with in_schema(schema_name):
        executor = MigrationExecutor(connection)
        return executor.migration_plan(executor.loader.graph.leaf_nodes())


def template_schema_migrate() -> None:
    """Create the template schema if missing and bring it to the latest tenant migrations."""
    global _template_checked_for
    template = farm_setting("FARM_TEMPLATE_SCHEMA")
    with provisioning_lock(0):
        if not schema_exists(template):
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{template}"')
        _migrate_schema(template)
        CloneSchema()._create_clone_schema_function()  # this code's version of it, once per deploy
    _template_checked_for = None


def template_schema_ensure_current() -> None:
    """Migrate the template if this code has migrations it lacks (checked once per process)."""
    global _template_checked_for
    template = farm_setting("FARM_TEMPLATE_SCHEMA")
    if _template_checked_for is not None and schema_exists(template):
        return
    if not schema_exists(template) or _unapplied_migrations(template):
        logger.info("template schema %s is missing or behind; migrating it", template)
        template_schema_migrate()
    _template_checked_for = {"current"}


def schema_build(schema_name: str, *, method: str = "clone") -> str:
    """Create `schema_name` from the template ("clone") or by running migrations ("migrate").

    Returns the method used. An existing schema is migrated instead: that finishes a
    half-provisioned site and is a no-op on a complete one.
    """
    if schema_exists(schema_name):
        _migrate_schema(schema_name)
        return "resume"
    if method == "clone":
        template_schema_ensure_current()
        template = farm_setting("FARM_TEMPLATE_SCHEMA")
        if not cloning.clone_schema(template, schema_name):  # NB: a template it cannot copy (logged)
            _TemplateClone().clone_schema(template, schema_name, "DATA")
        return "clone"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    _migrate_schema(schema_name)
    return "migrate"


def domains_ensure(instance: Instance) -> Domain:
    """Create the primary `<slug>.<FARM_DOMAIN>` domain if it is missing."""
    host = f"{instance.slug}.{farm_setting('FARM_DOMAIN')}"
    domain, _created = Domain.objects.get_or_create(domain=host, defaults={"tenant": instance, "is_primary": True})
    if domain.tenant_id != instance.pk:
        raise RuntimeError(f"domain {host} already belongs to another instance (id {domain.tenant_id})")
    return domain


def _set_state(instance: Instance, state: str, error: str = "") -> None:
    instance.schema_state = state
    instance.provisioning_error = error
    instance.save(update_fields=["schema_state", "provisioning_error", "updated_at"])


def instance_provision(*, instance_id: int, method: str = "clone") -> Instance:
    """Build the schema and domains of a validated instance, then mark it ready.

    Failures are recorded on the instance (`failed` and the error, shown in admin, retried by an
    admin action) rather than raised, so a broken site never crashes the worker.
    """
    with provisioning_lock(instance_id):
        instance = Instance.objects.get(pk=instance_id)
        if instance.status != Status.PUBLIE:
            logger.info("not provisioning %s: status is %s", instance.slug, instance.status)
            return instance
        if instance.schema_state == SchemaState.READY and schema_exists(instance.schema_name):
            domains_ensure(instance)
            return instance
        if instance.schema_state != SchemaState.PROVISIONING:
            _set_state(instance, SchemaState.PROVISIONING)
        started = time.monotonic()
        try:
            used = schema_build(instance.schema_name, method=method)
            domains_ensure(instance)
        except Exception as exc:  # recorded for the admin to see and retry; the worker carries on
            logger.exception("provisioning %s failed", instance.slug)
            _set_state(instance, SchemaState.FAILED, f"{type(exc).__name__}: {exc}")
            return instance
        instance.refresh_from_db()  # it may have been deactivated while the schema was being built
        with transaction.atomic():  # "ready" is seen with the site's timetable, never before it
            _set_state(instance, SchemaState.READY)
            timetable_tenant_changed(instance)  # its scheduled tasks start at their next boundary
        logger.info("provisioned %s by %s in %.3f s", instance.slug, used, time.monotonic() - started)
        return instance


def schema_drop(instance: Instance) -> None:
    """Drop the instance's schema (purge). The template and public schemas are never dropped."""
    if instance.schema_name in ("public", farm_setting("FARM_TEMPLATE_SCHEMA")):
        raise RuntimeError(f"refusing to drop schema {instance.schema_name}")
    if schema_exists(instance.schema_name):
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{instance.schema_name}" CASCADE')
