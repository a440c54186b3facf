"""Builds the timetable (data) from the registry (code), and follows tenants going live or not.

Rows appear when a tenant becomes live or a task is registered; rows of tasks no longer registered
are disabled (their history is kept). A tenant coming back to life resumes at the next boundary,
never with a flood of catch-up runs.
"""
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from farm.cron import registry
from farm.cron.models import ScheduledTask
from farm.cron.periods import next_boundary
from farm.cron.tenants import is_live, live_tenants, tenant_zone, timezone_field, zone

_FINGERPRINT_KEY = "cron:registry-fingerprint"
SPEC_FIELDS = ("period", "minute", "hour", "weekday", "day", "priority", "overlap", "max_retries", "time_limit",
               "backfill", "start_deadline")
SCHEDULE_FIELDS = ("period", "minute", "hour", "weekday", "day")


def _spec_values(spec: registry.TaskSpec) -> dict:
    s = spec.schedule
    return {"period": s.period, "minute": s.minute, "hour": s.hour, "weekday": s.weekday, "day": s.day,
            "priority": spec.priority, "overlap": spec.overlap, "max_retries": spec.max_retries,
            "time_limit": spec.time_limit, "backfill": spec.backfill, "start_deadline": spec.start_deadline}


def _new_row(spec, *, instance_id, tz, now) -> ScheduledTask:
    at, key = next_boundary(spec.schedule, now, tz)
    return ScheduledTask(instance_id=instance_id, name=spec.name, param=spec.param, next_run_at=at,
                         next_period_key=key, enabled=True, live=True, **_spec_values(spec))


def _specs(scope: str):
    return [s for s in registry.registered().values() if s.scope == scope]


@transaction.atomic
def timetable_sync_all(*, now=None) -> int:
    """Create missing rows for every live tenant and the farm, refresh spec fields, disable the unregistered.

    Returns the number of rows created. Cost: one insert per 1,000 new rows and one update per spec.
    """
    now = now or timezone.now()
    specs = registry.registered().values()
    for spec in specs:
        stale = ScheduledTask.objects.filter(name=spec.name, param=spec.param)
        values = _spec_values(spec)
        changed_schedule = stale.exclude(**{f: values[f] for f in SCHEDULE_FIELDS})
        for row in changed_schedule.select_related("instance"):
            row.next_run_at, row.next_period_key = next_boundary(spec.schedule, now, tenant_zone(row.instance))
            row.save(update_fields=["next_run_at", "next_period_key"])
        stale.update(enabled=True, **values)
    registered = Q(pk__in=[])  # matches nothing: with no declaration every row is disabled
    for spec in specs:
        registered |= Q(name=spec.name, param=spec.param)
    ScheduledTask.objects.filter(enabled=True).exclude(registered).update(enabled=False)

    existing = set(ScheduledTask.objects.values_list("instance_id", "name", "param"))
    rows = [_new_row(s, instance_id=None, tz=zone(None), now=now) for s in _specs(registry.FARM)
            if (None, s.name, s.param) not in existing]
    tenant_specs = _specs(registry.TENANT)
    for tenant_id, tz_name in live_tenants().values_list("id", timezone_field()):
        tz = zone(tz_name)
        rows.extend(_new_row(s, instance_id=tenant_id, tz=tz, now=now) for s in tenant_specs
                    if (tenant_id, s.name, s.param) not in existing)
    ScheduledTask.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    cache.set(_FINGERPRINT_KEY, registry.fingerprint(), timeout=None)
    return len(rows)


def timetable_sync_if_registry_changed() -> bool:
    """Sync once after a deploy changed the declarations (checked by every tick, one cache read)."""
    if cache.get(_FINGERPRINT_KEY) == registry.fingerprint():
        return False
    timetable_sync_all()
    return True


@transaction.atomic
def timetable_tenant_changed(tenant, *, now=None) -> None:
    """Follow a tenant's status: live → rows exist and run from the next boundary; not live → no runs."""
    now = now or timezone.now()
    rows = ScheduledTask.objects.filter(instance_id=tenant.pk)
    if not is_live(tenant):
        rows.update(live=False)
        return
    tz = tenant_zone(tenant)
    have = {(r.name, r.param): r for r in rows}
    for spec in _specs(registry.TENANT):
        row = have.get((spec.name, spec.param))
        if row is None:
            _new_row(spec, instance_id=tenant.pk, tz=tz, now=now).save()
        elif not row.live:
            # Resume at the next boundary: the periods spent deactivated are not caught up.
            row.next_run_at, row.next_period_key = next_boundary(row.schedule, now, tz)
            row.live = True
            row.save(update_fields=["next_run_at", "next_period_key", "live"])


def timetable_tenant_rezoned(tenant, *, now=None) -> None:
    """The tenant's timezone changed: each live row's next run moves to its next boundary in the new
    zone (a period whose key already ran is not run again: the run's unique key sees to that)."""
    now = now or timezone.now()
    tz = tenant_zone(tenant)
    for row in ScheduledTask.objects.filter(instance_id=tenant.pk, live=True):
        row.next_run_at, row.next_period_key = next_boundary(row.schedule, now, tz)
        row.save(update_fields=["next_run_at", "next_period_key"])
