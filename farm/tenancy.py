"""The one way into a tenant's schema for everything that is not an HTTP request.

Requests are routed by `instances.middleware`; tasks, commands, provisioning and the cron
enter a schema only through `in_tenant` / `in_schema`, which wrap django-tenants' context
managers so the previous schema is always restored, even on error.
"""
from contextlib import contextmanager

from django.db import connection
from django_tenants.utils import schema_context, tenant_context


@contextmanager
def in_tenant(instance):
    """Run the block with `instance`'s schema first on the search path.

    Refuses an instance whose schema is not ready: nothing stores data in a half-built site.
    """
    if instance.schema_state != "ready":
        raise RuntimeError(f"instance {instance.slug!r} has no ready schema ({instance.schema_state})")
    with tenant_context(instance):
        yield


@contextmanager
def in_schema(schema_name: str):
    """Run the block in a schema by name: the template schema and provisioning need this."""
    with schema_context(schema_name):
        yield


def current_schema() -> str:
    """The schema the default connection is set to (public outside any tenant)."""
    return connection.schema_name
