"""Measuring a site's disk use (run daily inside each site's schema by the cron)."""
from django.db import connection
from django.utils import timezone

from instances.models import Instance


def instance_measure_size() -> int:
    """Store the current schema's size (tables, indexes, TOAST) on its Instance; returns bytes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT current_schema(), coalesce(sum(pg_total_relation_size(c.oid)), 0)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')""")
        schema, size = cursor.fetchone()
    Instance.objects.filter(schema_name=schema).update(schema_size_bytes=size,
                                                       schema_size_measured_at=timezone.now())
    return size
