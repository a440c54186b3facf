"""A new site's schema cloned from the template: the template's DDL, read once, replayed under the new name.

django-tenants' clone_schema() reads the catalogue on every clone through information_schema
views, which check every relation of every schema (a farm of 1,000 sites has about 70,000): a
clone took 920 ms on such a farm, against 28 ms here (docs/benchmarks.md), and more with each site.
Here the template is read once per process — and again when its migrations change — by catalogue
queries limited to its own namespace, into a script of plain DDL: tables LIKE the template's
(columns, defaults, identity, checks), their keys, indexes and foreign keys under the template's
own names (Django's migrations find them by name later), and the template's rows (its migration
records). A clone runs that script in one transaction, at a cost that no longer grows with the
farm. A template holding anything the script does not reproduce (a view, a function, a trigger, a
sequence of its own) is cloned by django-tenants' function instead, as before.
"""
import logging

from django.db import connection, transaction
from psycopg import sql

logger = logging.getLogger(__name__)
_scripts: dict[tuple, list[str] | None] = {}  # (template, its migration records' fingerprint) -> script
_NEW = "\x00new\x00"  # where the new schema's quoted name goes in the script


def _fingerprint(cursor, template: str) -> tuple:
    cursor.execute(sql.SQL("SELECT count(*), max(id) FROM {}.django_migrations").format(
        sql.Identifier(template)).as_string(cursor.connection))
    return (template, *cursor.fetchone())


def _unsupported(cursor, namespace: int) -> str | None:
    """What in the template the script would not reproduce, if anything."""
    cursor.execute("""
        SELECT 'relation ' || relname || ' of kind ' || relkind::text FROM pg_class
         WHERE relnamespace = %(ns)s AND relkind NOT IN ('r', 'i', 'S', 't')
        UNION ALL
        SELECT 'sequence ' || s.relname || ' not an identity column''s' FROM pg_class s
         WHERE s.relnamespace = %(ns)s AND s.relkind = 'S' AND NOT EXISTS (
               SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i')
        UNION ALL
        SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = %(ns)s
        UNION ALL
        SELECT 'type ' || typname FROM pg_type WHERE typnamespace = %(ns)s AND typtype NOT IN ('c', 'b')
        UNION ALL
        SELECT 'trigger ' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         WHERE c.relnamespace = %(ns)s AND NOT t.tgisinternal
        UNION ALL
        SELECT 'default of ' || c.relname || ' calling nextval' FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
         WHERE c.relnamespace = %(ns)s AND pg_get_expr(d.adbin, d.adrelid) LIKE '%%nextval%%'
        LIMIT 1""", {"ns": namespace})
    found = cursor.fetchone()
    return found[0] if found else None


def _script(cursor, template: str) -> list[str] | None:
    """The statements building a copy of `template` in the schema _NEW stands for (None: unsupported)."""
    cursor.execute("SELECT oid, quote_ident(nspname), current_setting('search_path') FROM pg_namespace WHERE nspname = %s",
                   [template])
    namespace, quoted, path = cursor.fetchone()  # NB: quoted as PostgreSQL's definitions quote it
    if why := _unsupported(cursor, namespace):
        logger.warning("the template %s holds a %s: sites are cloned by django-tenants' clone_schema()", template, why)
        return None
    new = f"{_NEW}."
    # NB: definitions are read with only pg_catalog in the path, so every name in them is qualified
    cursor.execute("SELECT set_config('search_path', 'pg_catalog', true)")
    cursor.execute("SELECT oid, quote_ident(relname) FROM pg_class WHERE relnamespace = %s AND relkind = 'r' ORDER BY oid",
                   [namespace])
    tables = cursor.fetchall()
    statements = [f"CREATE SCHEMA {_NEW}"]
    for _oid, table in tables:
        statements.append(f"CREATE TABLE {new}{table} (LIKE {quoted}.{table} INCLUDING DEFAULTS INCLUDING IDENTITY "
                          "INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS "
                          "INCLUDING COMPRESSION)")
    # Keys and unique constraints, then the other indexes, then foreign keys (their targets' keys exist)
    cursor.execute("""
        SELECT quote_ident(c.relname), quote_ident(k.conname), pg_get_constraintdef(k.oid), k.contype
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
         WHERE k.connamespace = %s AND k.contype IN ('p', 'u', 'x', 'f')
         ORDER BY k.contype = 'f', k.oid""", [namespace])
    keys, foreign = [], []
    for table, name, definition, kind in cursor.fetchall():
        definition = definition.replace(f"REFERENCES {quoted}.", f"REFERENCES {new}")
        (foreign if kind == "f" else keys).append(f"ALTER TABLE {new}{table} ADD CONSTRAINT {name} {definition}")
    cursor.execute("""
        SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relnamespace = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
         ORDER BY i.indexrelid""", [namespace])
    indexes = [definition.replace(f" ON {quoted}.", f" ON {new}", 1) for (definition,) in cursor.fetchall()]
    rows = []
    for oid, table in tables:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quoted}.{table})")
        if cursor.fetchone()[0]:
            rows.append(f"INSERT INTO {new}{table} OVERRIDING SYSTEM VALUE SELECT * FROM {quoted}.{table}")
        cursor.execute("""
            SELECT quote_literal(a.attname), s.oid::regclass::text FROM pg_attribute a
              JOIN pg_depend d ON d.refobjid = a.attrelid AND d.refobjsubid = a.attnum AND d.deptype = 'i'
              JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
             WHERE a.attrelid = %s AND a.attidentity <> ''""", [oid])
        for column, sequence in cursor.fetchall():
            cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
            last, called = cursor.fetchone()
            rows.append(f"SELECT setval(pg_get_serial_sequence('{new}{table}', {column}), {int(last)}, {bool(called)})")
    cursor.execute("SELECT set_config('search_path', %s, true)", [path])
    return [*statements, *keys, *indexes, *foreign, *rows]


def clone_schema(template: str, schema: str) -> bool:
    """Build `schema` as a copy of `template` (structure and rows) in one transaction. False when the
    template holds something this does not reproduce: the caller clones it another way."""
    from instances.provisioning import TEMPLATE_LOCK

    with transaction.atomic(), connection.cursor() as cursor:
        # NB: shared with other clones, exclusive with a migration of the template (which holds it
        # for its run): a clone never copies a template half-way through a migration
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", TEMPLATE_LOCK)
        key = _fingerprint(cursor, template)
        if key not in _scripts:
            _scripts[key] = _script(cursor, template)
        script = _scripts[key]
        if script is None:
            return False
        cursor.execute("SELECT quote_ident(%s)", [schema])
        name = cursor.fetchone()[0]
        cursor.execute(";\n".join(statement.replace(_NEW, name) for statement in script))
    return True
