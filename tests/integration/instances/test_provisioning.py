"""Provisioning against real PostgreSQL: clone or migrate, idempotent, resumable, retried after failure."""
import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_exists

from instances import provisioning, services
from instances.models import Domain, SchemaState, Status
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def applied_migrations(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())


def shape(schema: str) -> dict[str, list]:
    """Everything that makes a schema what it is, named without the schema: columns (type, not null,
    default, identity), constraints and indexes (names and definitions), sequences (settings and
    state), and the rows of its migration records."""
    queries = {
        "columns": """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
                             a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attnum
                        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                       WHERE c.relnamespace = %(ns)s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped""",
        "constraints": """SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable
                            FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = %(ns)s""",
        "indexes": """SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_class c
                       WHERE c.relnamespace = %(ns)s AND c.relkind = 'i'""",
        "sequences": """SELECT c.relname, s.seqtypid::regtype::text, s.seqstart, s.seqincrement, s.seqmax, s.seqmin,
                               s.seqcache, s.seqcycle FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                         WHERE c.relnamespace = %(ns)s""",
        "relations": "SELECT relname, relkind, relpersistence FROM pg_class WHERE relnamespace = %(ns)s AND relkind <> 't'",
    }
    found = {}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL search_path = pg_catalog")
        cursor.execute("SELECT %s::regnamespace::oid", [schema])
        namespace = cursor.fetchone()[0]
        for name, query in queries.items():
            cursor.execute(query, {"ns": namespace})
            found[name] = sorted(tuple(str(v).replace(f"{schema}.", "<schema>.") for v in row)
                                 for row in cursor.fetchall())
        cursor.execute(f'SELECT id, app, name, applied FROM "{schema}".django_migrations ORDER BY id')
        found["migration records"] = cursor.fetchall()
        cursor.execute(f'SELECT last_value, is_called FROM "{schema}".django_migrations_id_seq')
        found["next migration id"] = cursor.fetchone()
    return found


def test_a_clone_is_the_template_to_the_last_index_name_and_row():
    """The clone instances.cloning makes (its DDL read once from the template) is the template:
    Django's later migrations find its indexes and constraints by their names."""
    provisioning.instance_provision(instance_id=validated("deep-clone").pk, method="clone")
    template, cloned = shape("tenant_template"), shape("deep_clone")
    assert len(template["indexes"]) > 20 and any(row[2] == "f" for row in template["constraints"])
    for part in template:
        assert cloned[part] == template[part], part
    with connection.cursor() as cursor:  # the identity columns go on from the template's state
        cursor.execute('INSERT INTO "deep_clone".analytics_savedsegment (name, definition, owner_id, owner_login, shared, '
                       "auto_archive, created_at, updated_at) "
                       "VALUES ('s', 'visitCount>1', 1, 'o', false, false, now(), now()) RETURNING id")
        assert cursor.fetchone()[0] == 1


def test_a_template_holding_what_the_script_cannot_copy_is_cloned_the_other_way():
    """A function in the template (no migration makes one today) sends the clone to django-tenants'."""
    from instances import cloning
    with connection.cursor() as cursor:
        cursor.execute('CREATE FUNCTION "tenant_template".answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$')
    cloning._scripts.clear()
    try:
        assert cloning.clone_schema("tenant_template", "not_by_script") is False
        provisioning.instance_provision(instance_id=validated("other-way").pk, method="clone")
        assert tables_in("other_way") == tables_in("tenant_template")
        with connection.cursor() as cursor:
            cursor.execute('SELECT "other_way".answer()')
            assert cursor.fetchone()[0] == 42
    finally:
        cloning._scripts.clear()


def validated(slug: str):
    return services.instance_validate(instance=make_instance(slug), by=None)


def test_provisioning_clones_the_template_into_a_schema_with_the_analytics_tables():
    instance = provisioning.instance_provision(instance_id=validated("cloned").pk)
    assert instance.schema_state == SchemaState.READY and instance.is_live
    assert "analytics_visit" in tables_in("cloned")
    assert applied_migrations("cloned") == applied_migrations("tenant_template")
    assert list(instance.domains.values_list("domain", "is_primary")) == [("cloned.localhost", True)]


def test_cloning_and_migrating_build_the_same_tables():
    cloned = provisioning.instance_provision(instance_id=validated("by-clone").pk, method="clone")
    migrated = provisioning.instance_provision(instance_id=validated("by-migrate").pk, method="migrate")
    assert cloned.is_live and migrated.is_live
    assert tables_in("by_clone") == tables_in("by_migrate")
    assert applied_migrations("by_clone") == applied_migrations("by_migrate")


def test_provisioning_twice_changes_nothing():
    instance = provisioning.instance_provision(instance_id=validated("twice").pk)
    again = provisioning.instance_provision(instance_id=instance.pk)
    assert again.schema_state == SchemaState.READY
    assert Domain.objects.filter(tenant=instance).count() == 1


def test_a_half_provisioned_instance_is_completed_by_running_provisioning_again():
    instance = validated("half")
    provisioning.schema_build("half")  # the crash came after the schema, before domains and "ready"
    assert instance.schema_state == SchemaState.PROVISIONING and not instance.domains.exists()
    done = provisioning.instance_provision(instance_id=instance.pk)
    assert done.schema_state == SchemaState.READY
    assert done.domains.filter(domain="half.localhost").exists()
    assert "analytics_visit" in tables_in("half")


def test_a_failure_is_recorded_and_the_retry_action_completes_it(django_capture_on_commit_callbacks):
    squatter = make_instance("squatter", state="publie")
    Domain.objects.create(domain="victim.localhost", tenant=squatter, is_primary=False)
    instance = provisioning.instance_provision(instance_id=validated("victim").pk)
    assert instance.schema_state == SchemaState.FAILED
    assert "victim.localhost already belongs to another instance" in instance.provisioning_error
    assert not instance.is_live

    Domain.objects.filter(domain="victim.localhost").delete()
    with django_capture_on_commit_callbacks() as callbacks:
        services.instance_provision_retry(instance=instance, by=make_user(superuser=True))
    assert any(cb.__qualname__.startswith("_queue_provisioning") for cb in callbacks)  # queued after commit
    done = provisioning.instance_provision(instance_id=instance.pk)
    assert done.schema_state == SchemaState.READY and done.provisioning_error == ""


def test_retrying_a_ready_instance_is_refused():
    from instances.errors import TransitionNotAllowed

    instance = make_instance("fine", state="publie")
    with pytest.raises(TransitionNotAllowed, match="already provisioned"):
        services.instance_provision_retry(instance=instance, by=None)


def test_an_instance_deactivated_before_the_worker_ran_is_not_provisioned():
    instance = validated("changed-mind")
    services.instance_deactivate(instance=instance, by=None, reason="changed mind")
    result = provisioning.instance_provision(instance_id=instance.pk)
    assert result.status == Status.DESACTIVE
    assert not schema_exists("changed_mind")


def test_the_template_is_brought_up_to_date_before_cloning_when_a_tenant_migration_is_new(monkeypatch):
    # Simulate a deploy that adds a tenant-app migration the template has not seen yet.
    call_command("migrate_schemas", "analytics", "zero", tenant=True, schema_name="tenant_template",
                 interactive=False, verbosity=0)
    assert "analytics_visit" not in tables_in("tenant_template")
    monkeypatch.setattr(provisioning, "_template_checked_for", None)  # a freshly started worker

    instance = provisioning.instance_provision(instance_id=validated("after-deploy").pk)
    assert instance.is_live
    assert "analytics_visit" in tables_in("tenant_template")
    assert "analytics_visit" in tables_in("after_deploy")


def test_ready_is_never_seen_without_the_sites_timetable(monkeypatch):
    """Whoever waits for "ready" (the CLI's --wait, a test, an operator) sees a site whose scheduled
    tasks exist: the state and the timetable are committed together, or neither is."""
    instance = validated("timetabled")

    def timetable_fails(_instance):
        raise RuntimeError("timetable unavailable")
    monkeypatch.setattr(provisioning, "timetable_tenant_changed", timetable_fails)
    with pytest.raises(RuntimeError):
        provisioning.instance_provision(instance_id=instance.pk)
    instance.refresh_from_db()
    assert instance.schema_state != SchemaState.READY
    monkeypatch.undo()
    provisioning.instance_provision(instance_id=instance.pk)  # tried again: ready, with its tasks
    instance.refresh_from_db()
    assert instance.schema_state == SchemaState.READY and instance.scheduled_tasks.exists()
