"""The log tables' fast write path: plain rows, written with COPY, read and updated set-wise.

Why not the ORM: `bulk_create` sends every value of every row through the field machinery and
psycopg's Python-side quoting; for ingest's 20–30 column rows that cost several times what
PostgreSQL needs to store them (docs/benchmarks.md, tracking). Here a row is a slotted dataclass
whose field names are the model's field names, so the column list and types come from the model
and a renamed or retyped field fails loudly instead of drifting. COPY runs in binary format: text
format spent most of its time printing datetimes. So values must have the column's Python type
(UUID for uuid, ipaddress for inet, dict or list for jsonb). Every function takes the batch's cursor
(Django's, so it joins the caller's transaction and tenant): django-tenants sets the search_path
again for every cursor opened, a round trip each.
"""
import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, time, timedelta, timezone
from ipaddress import IPv4Address, IPv6Address
from functools import lru_cache
from operator import attrgetter

import orjson
from django.db import connection
from psycopg.types.json import set_json_dumps

from analytics.models import Action, ArchiveInvalidation, Conversion, Visit

_INGEST_LOCK = 4243  # first key of pg_advisory_xact_lock(int, int): "ingest into this site"


@dataclass(slots=True, eq=False)
class VisitRow:
    """A visit during a batch: loaded (id known) or opened by it (id given when it is saved).

    Loaded visits carry only what sessionization reads (see `visits_latest`); the rest keeps its
    default and is never written back, as only _UPDATE_FIELDS are.
    """

    id: int | None = None
    visitor_id: str = ""
    user_id: str = ""
    first_action_at: datetime | None = None
    last_action_at: datetime | None = None
    actions: int = 0
    entry_url: str = ""
    exit_url: str = ""
    referrer_url: str = ""
    referrer_type: str = "direct"
    referrer_name: str = ""
    campaign_name: str = ""
    campaign_keyword: str = ""
    returning: bool = False
    visit_count: int = 1
    days_since_last_visit: int | None = None
    local_time: time | None = None
    resolution: str = ""
    language: str = ""
    user_agent: str = ""
    ip: IPv4Address | IPv6Address | None = None
    country: str = ""
    device_type: str = ""
    device_brand: str = ""
    device_model: str = ""
    os_name: str = ""
    os_version: str = ""
    browser_name: str = ""
    browser_version: str = ""
    dimensions: dict = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class ActionRow:
    hit_id: uuid.UUID
    visit: VisitRow  # its id is read when the row is written, after the visit got one
    kind: str
    at: datetime
    url: str = ""
    title: str = ""
    pv_id: str = ""
    event_category: str = ""
    event_action: str = ""
    event_name: str = ""
    event_value: float | None = None
    search_keyword: str = ""
    search_category: str = ""
    search_count: int | None = None
    content_name: str = ""
    content_piece: str = ""
    content_target: str = ""
    content_interaction: str = ""
    generation_ms: int | None = None
    dimensions: dict = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class ConversionRow:
    hit_id: uuid.UUID
    visit: VisitRow
    at: datetime
    goal_id: int
    revenue: float = 0.0
    order_id: str = ""
    items: list = field(default_factory=list)
    subtotal: float | None = None
    tax: float | None = None
    shipping: float | None = None
    discount: float | None = None
    url: str = ""


_UPDATE_FIELDS = ("last_action_at", "actions", "entry_url", "exit_url")  # all a later hit changes in a visit
_LOADED_FIELDS = ("id", "visitor_id", "first_action_at", "last_action_at", "actions", "entry_url", "exit_url",
                  "campaign_name", "visit_count")
_LOADED_TIMES = ("first_action_at", "last_action_at")  # read as microseconds since the epoch
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _json(values) -> str:
    """Values as one JSON parameter, for a thousand ids or rows at once: psycopg adapts a Python
    list element by element in Python, which cost more than the query itself; orjson writes the
    whole batch in C, and PostgreSQL's JSON functions read it back with its own escaping rules."""
    return orjson.dumps(values).decode()


def site_lock(cursor, site_id: int) -> None:
    """Become the site's only writer until the transaction ends: two workers, or a worker and the
    write-through path, would otherwise both extend or both open the same visits, and the check
    for already stored hit ids (`hits_known`) would no longer be enough to make replays harmless."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_INGEST_LOCK, site_id])


def hits_known(cursor, hit_ids: list[str]) -> set[str]:
    """The ids among `hit_ids` (canonical UUID text) already stored as an action or a conversion."""
    # NB: one probe of each table's hit_id index per id (LATERAL … LIMIT 1 is never flattened into
    # a join), whatever the planner believes of the table: `hit_id = ANY(array)` on a site whose
    # tables grew faster than autovacuum analyzes them was a sequential scan per batch (23 ms at
    # 330k rows), and so was EXISTS (a hashed subplan).
    sql = " UNION ALL ".join(f"SELECT k.id FROM json_array_elements_text(%s::json) AS k(id) CROSS JOIN LATERAL "
                             f"(SELECT 1 FROM {_qn(model._meta.db_table)} WHERE hit_id = k.id::uuid LIMIT 1) AS found"
                             for model in (Action, Conversion))
    cursor.execute(sql, [_json(hit_ids)] * 2)
    return {row[0] for row in cursor.fetchall()}


def orders_known(order_ids: set[str]) -> set[str]:
    """The ecommerce order ids among `order_ids` already recorded (an order counts once, as in Matomo)."""
    return set(Conversion.objects.filter(order_id__in=order_ids).values_list("order_id", flat=True))


def visits_latest(cursor, visitor_ids: set[str]) -> dict[str, VisitRow]:
    """Each visitor's most recent visit, the one a new hit may extend (index visit_visitor_last_idx)."""
    columns = ", ".join(f"(extract(epoch FROM v.{column}) * 1000000)::bigint" if name in _LOADED_TIMES else f"v.{column}"
                        for name, column in ((name, _qn(Visit._meta.get_field(name).column)) for name in _LOADED_FIELDS))
    # NB: LATERAL … LIMIT 1 is one index probe per visitor even when the table's statistics are
    # stale (see hits_known); `visitor_id = ANY(…)` with DISTINCT ON became a parallel seq scan.
    sql = (f"SELECT {columns} FROM json_array_elements_text(%s::json) AS k(visitor_id) CROSS JOIN LATERAL "
           f"(SELECT * FROM {_qn(Visit._meta.db_table)} WHERE visitor_id = k.visitor_id "
           "ORDER BY last_action_at DESC LIMIT 1) AS v")
    cursor.execute(sql, [_json(list(visitor_ids))])
    # NB: Django's loader parses timestamps' text in Python, 4x slower than epoch microseconds.
    # Unpacked in _LOADED_FIELDS' order, without an intermediate dict per row.
    return {visitor: VisitRow(id=pk, visitor_id=visitor, first_action_at=_EPOCH + timedelta(microseconds=first),
                              last_action_at=_EPOCH + timedelta(microseconds=last), actions=actions,
                              entry_url=entry_url, exit_url=exit_url, campaign_name=campaign, visit_count=count)
            for pk, visitor, first, last, actions, entry_url, exit_url, campaign, count in cursor.fetchall()}


def _ids_allocate(cursor, model, count: int) -> list[int]:
    """`count` fresh primary keys from the table's own sequence, so rows can be referenced before
    COPY writes them (COPY returns no ids)."""
    # NB: MATERIALIZED looks the sequence up once; inlined, it is looked up again for every row (5x slower).
    sql = ("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
           "SELECT nextval(seq) FROM s, generate_series(1, %s)")
    cursor.execute(sql, [_qn(model._meta.db_table), model._meta.pk.column, count])
    return [row[0] for row in cursor.fetchall()]


@lru_cache(maxsize=None)
def _copy_plan(model, row_class) -> tuple[str, list[str], attrgetter]:
    """The COPY statement for `row_class`'s fields, their PostgreSQL types (binary COPY must be told
    them) and the getter that turns a row into its values (a foreign key reads the related row's id)."""
    model_fields = [model._meta.get_field(f.name) for f in fields(row_class)]
    columns = ", ".join(_qn(field.column) for field in model_fields)
    types = [re.sub(r"\(.*\)$", "", field.cast_db_type(connection)) for field in model_fields]  # varchar(16) → varchar
    getter = attrgetter(*(f"{field.name}.id" if field.is_relation else field.name for field in model_fields))
    return f"COPY {_qn(model._meta.db_table)} ({columns}) FROM STDIN (FORMAT BINARY)", types, getter


def rows_insert(cursor, model, rows: list) -> None:
    """Write rows of one row class into `model`'s table with one COPY.

    COPY cannot skip conflicting rows: callers leave out what is already stored (under
    `site_lock`, nobody else can add it meanwhile), and a conflict left is a bug that must fail.

    NB: `copy` is psycopg's own (Django wraps only execute): its errors are given Django's classes
    here, as every other query's, so that ingest tells a database outage or refusal from a bad hit
    (unwrapped, a full disk set every hit of the batch aside: tests/reliability/test_disk_full.py).
    """
    if not rows:
        return
    sql, types, values = _copy_plan(model, type(rows[0]))
    set_json_dumps(orjson.dumps, cursor.cursor)  # jsonb columns (dimensions, items): 5x json.dumps's speed
    with cursor.db.wrap_database_errors, cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(values(row))


def visits_save(cursor, new: list[VisitRow], changed: list[VisitRow]) -> None:
    """Insert the batch's new visits (each gets its id first, so its actions can point at it) and
    write what the batch changed in existing ones, a statement for each."""
    if new:
        for visit, visit_id in zip(new, _ids_allocate(cursor, Visit, len(new)), strict=True):
            visit.id = visit_id
        rows_insert(cursor, Visit, new)
    if changed:
        _rows_update(cursor, Visit, changed, _UPDATE_FIELDS)


def _rows_update(cursor, model, rows: list, names: tuple[str, ...]) -> None:
    """One UPDATE … FROM json_to_recordset(rows) for all rows, whatever their count."""
    model_fields = [model._meta.pk, *(model._meta.get_field(name) for name in names)]
    columns = [field.column for field in model_fields]
    record = ", ".join(f"{_qn(field.column)} {field.cast_db_type(connection)}" for field in model_fields)
    assignments = ", ".join(f"{_qn(column)} = u.{_qn(column)}" for column in columns[1:])
    sql = (f"UPDATE {_qn(model._meta.db_table)} AS t SET {assignments} FROM json_to_recordset(%s::json) "
           f"AS u({record}) WHERE t.{_qn(columns[0])} = u.{_qn(columns[0])}")
    values = attrgetter(*(field.attname for field in model_fields))
    cursor.execute(sql, [_json([dict(zip(columns, values(row), strict=True)) for row in rows])])


def days_invalidate(cursor, days: set) -> None:
    """Mark days for the next archiving run (analytics.reports.archive reads the marks). A mark per
    batch, even for a day marked already: a run deletes the marks it read, by id, once it has
    archived their days, so a mark written meanwhile must be a new row to survive it."""
    cursor.execute(f"INSERT INTO {_qn(ArchiveInvalidation._meta.db_table)} (day) "
                   "SELECT day::date FROM json_array_elements_text(%s::json) AS k(day)",
                   [_json(sorted(days))])
