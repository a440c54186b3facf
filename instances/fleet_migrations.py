"""Migrating the fleet: which schemas lack migrations this code has, found in one query, and
bringing only those up to date, in parallel processes.

The check is one statement: for each schema (public, the template, every ready site) PostgreSQL
counts, in that schema's own django_migrations, the code's migrations it has applied
(query_to_xml runs the per-schema count inside the one statement). django-tenants' own check runs
Django's migration executor per schema, which takes minutes at a thousand sites. Every schema
records all of the code's migrations (a site schema records the shared apps' too, as
migrate_schemas does), so "up to date" is "has them all".

Migrating is resumable by nature: a run migrates what the check finds pending, and each migration
is a transaction of its own (PostgreSQL's DDL is transactional), so a run stopped anywhere — even
killed — leaves every schema at a migration boundary and the next run carries on.
"""
import multiprocessing
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from farm.conf import farm_setting
from farm.tenancy import in_schema
from instances.models import Instance, SchemaState
from instances.provisioning import provisioning_lock

_CHECK = """
SELECT name, CASE WHEN to_regclass(format('%%I.django_migrations', name)) IS NULL THEN 0 ELSE
    (xpath('/row/n/text()', query_to_xml(format(
        'SELECT count(*) AS n FROM %%I.django_migrations WHERE app || ''.'' || name = ANY(%%L::text[])',
        name, %(names)s::text[]), false, true, '')))[1]::text::int END
FROM unnest(%(schemas)s::text[]) AS name
"""


def code_migrations() -> list[str]:
    """Every migration of this code, as "app.name"."""
    return sorted(f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def fleet_schemas() -> list[str]:
    """public, the template, then every ready site's schema (by id: the oldest sites first)."""
    sites = Instance.objects.filter(schema_state=SchemaState.READY).order_by("pk").values_list("schema_name", flat=True)
    return ["public", farm_setting("FARM_TEMPLATE_SCHEMA"), *sites]


def schemas_pending(schemas: list[str] | None = None) -> dict[str, int]:
    """{schema: how many of the code's migrations it lacks}, only for schemas that lack some."""
    names = code_migrations()
    schemas = fleet_schemas() if schemas is None else schemas
    with connection.cursor() as cursor:
        cursor.execute(_CHECK, {"names": names, "schemas": schemas})
        return {schema: len(names) - applied for schema, applied in cursor.fetchall() if applied < len(names)}


def schema_migrate(schema: str) -> str | None:
    """Migrate one schema (public: the shared apps); the error's text, or None."""
    try:
        with in_schema("public"):  # NB: migrate_schemas leaves the connection where it failed
            if schema == "public":
                call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
            else:
                call_command("migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=0)
    except Exception as error:  # noqa: BLE001 — reported per schema; the run goes on or stops (canary)
        return f"{type(error).__name__}: {error}".strip()
    return None


@dataclass
class FleetRun:
    migrated: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stopped: bool = False  # the canary failed: the rest was left as it was


def fleet_migrate(pending: list[str], *, jobs: int = 2, canary: int = 0, on_done=None) -> FleetRun:
    """Migrate `pending` schemas: public and the template first, then the first `canary` sites one
    by one (stopping at the first failure), then the rest in `jobs` processes. `on_done(schema,
    error)` is called after each (the command's progress bar and per-site log)."""
    run = FleetRun()

    def done(schema, error):
        (run.failed.__setitem__(schema, error) if error else run.migrated.append(schema))
        if on_done:
            on_done(schema, error)
    template = farm_setting("FARM_TEMPLATE_SCHEMA")
    first = [s for s in pending if s in ("public", template)]
    sites = [s for s in pending if s not in first]
    for schema in first + sites[:canary]:
        if schema == template:  # NB: under its lock: no site is cloned from it half-way (instances.cloning)
            with provisioning_lock(0):
                done(schema, schema_migrate(schema))
        else:
            done(schema, schema_migrate(schema))
        if run.failed:
            run.stopped = True
            return run
    rest = sites[canary:]
    if jobs <= 1 or len(rest) <= 1:
        for schema in rest:
            done(schema, schema_migrate(schema))
        return run
    connection.close()  # NB: no open socket across the fork: each process opens its own
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=200) as pool:
        for schema, error in pool.imap_unordered(_migrate_one, rest):
            done(schema, error)
    return run


def _migrate_one(schema: str) -> tuple[str, str | None]:
    return schema, schema_migrate(schema)
