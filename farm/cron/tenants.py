"""The one small interface through which the cron knows tenants: "a live, ready schema to enter".

The cron imports nothing from the instances app. What "live" means and where a tenant's timezone
lives are settings (FARM_CRON_LIVE_TENANT, FARM_CRON_TENANT_TIMEZONE_FIELD); entering a schema
goes through farm.tenancy.
"""
from contextlib import contextmanager
from functools import lru_cache
from zoneinfo import ZoneInfo

from django_tenants.utils import get_tenant_model

from farm.conf import farm_setting
from farm.tenancy import in_tenant

FARM_TIMEZONE = "UTC"


def live_filter() -> dict:
    return farm_setting("FARM_CRON_LIVE_TENANT")


def timezone_field() -> str:
    return farm_setting("FARM_CRON_TENANT_TIMEZONE_FIELD")


def live_sql(alias: str) -> tuple[str, list]:
    """SQL condition (and params) that tenant table `alias` is live, for the tick's one query."""
    fields = live_filter()
    return " AND ".join(f'{alias}."{name}" = %s' for name in fields), list(fields.values())


def tenant_table() -> str:
    return get_tenant_model()._meta.db_table


def is_live(tenant) -> bool:
    return all(getattr(tenant, name) == value for name, value in live_filter().items())


def live_tenants():
    return get_tenant_model().objects.filter(**live_filter())


@lru_cache(maxsize=1024)
def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or FARM_TIMEZONE)


def tenant_zone(tenant) -> ZoneInfo:
    return zone(getattr(tenant, timezone_field()) if tenant is not None else None)


@contextmanager
def entered(tenant_id: int | None):
    """Run the block in the tenant's schema (public for farm-level tasks); refuses a non-live tenant."""
    if tenant_id is None:  # a farm-level task: it stays in the public schema
        yield None
        return
    tenant = get_tenant_model().objects.get(pk=tenant_id)
    if not is_live(tenant):
        raise TenantNotLive(f"site {tenant_id} is not live; its tasks do not run")
    with in_tenant(tenant):
        yield tenant


class TenantNotLive(Exception):
    """The tenant was deactivated (or lost its schema) between dispatch and execution."""
