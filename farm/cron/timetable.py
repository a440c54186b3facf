"""Builds the timetable (data) from the registry (code), and follows tenants going live or not.

Rows appear when a tenant becomes live or a task is registered; rows of tasks no longer registered
are disabled (their history is kept). Opt-in tasks get rows only through timetable_task_set, each
with its own schedule, which the sync leaves alone. A tenant coming back to life resumes at the next boundary,
never with a flood of catch-up runs.
"""
from dataclasses import replace

from django.core.cache import cache
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from farm.cron import registry
from farm.cron.models import ScheduledTask
from farm.cron.periods import Schedule, next_boundary
from farm.cron.tenants import is_live, live_tenants, tenant_zone, timezone_field, zone

_FINGERPRINT_KEY = "cron:registry-fingerprint"
SCHEDULE_FIELDS = ("period", "minute", "hour", "weekday", "day", "every")


def _schedule_values(schedule: Schedule) -> dict:
    return {f: getattr(schedule, f) for f in SCHEDULE_FIELDS}


def _spec_values(spec: registry.TaskSpec) -> dict:
    """The row fields the registry owns: all but the schedule for opt-in tasks (each row has its own),
    all but the minute for spread ones (each site's own: registry.spread_minute)."""
    values = {"priority": spec.priority, "overlap": spec.overlap, "max_retries": spec.max_retries,
              "time_limit": spec.time_limit, "backfill": spec.backfill, "start_deadline": spec.start_deadline,
              "runner": spec.runner}
    if spec.opt_in:
        return values
    schedule = _schedule_values(spec.schedule)
    if spec.spread:
        del schedule["minute"]
    return {**values, **schedule}


def _row_schedule(spec: registry.TaskSpec, instance_id: int | None) -> Schedule:
    if spec.spread and instance_id is not None:
        return replace(spec.schedule, minute=registry.spread_minute(spec, instance_id))
    return spec.schedule


def _spread_minutes(spec: registry.TaskSpec):
    """registry.spread_minute in SQL, over a row's site id (spread tasks are tenant tasks only)."""
    return (spec.schedule.minute + F("instance_id") * 37) % 60


def _new_row(spec, *, instance_id, tz, now, schedule: Schedule | None = None, live: bool = True) -> ScheduledTask:
    schedule = schedule or _row_schedule(spec, instance_id)
    at, key = next_boundary(schedule, now, tz)
    return ScheduledTask(instance_id=instance_id, name=spec.name, param=spec.param, next_run_at=at,
                         next_period_key=key, enabled=True, live=live,
                         **{**_spec_values(spec), **_schedule_values(schedule)})


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
        if not spec.opt_in:
            changed_schedule = stale.exclude(**{f: values[f] for f in SCHEDULE_FIELDS if f in values})
            if spec.spread:  # NB: and the rows whose minute is not their site's (spread since)
                changed_schedule = stale.filter(Q(pk__in=changed_schedule) | ~Q(minute=_spread_minutes(spec)))
            for row in changed_schedule.select_related("instance"):
                schedule = _row_schedule(spec, row.instance_id)
                row.next_run_at, row.next_period_key = next_boundary(schedule, now, tenant_zone(row.instance))
                row.minute = schedule.minute
                row.save(update_fields=["next_run_at", "next_period_key", "minute"])
        stale.update(enabled=True, **values)
    registered = Q(pk__in=[])  # matches nothing: with no declaration every row is disabled
    for spec in specs:
        registered |= Q(name=spec.name, param=spec.param)
    ScheduledTask.objects.filter(enabled=True).exclude(registered).update(enabled=False)

    existing = set(ScheduledTask.objects.values_list("instance_id", "name", "param"))
    rows = [_new_row(s, instance_id=None, tz=zone(None), now=now) for s in _specs(registry.FARM)
            if (None, s.name, s.param) not in existing]
    tenant_specs = [s for s in _specs(registry.TENANT) if not s.opt_in]
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
        if row is None and spec.opt_in:
            continue  # only the tenant's own choice (timetable_task_set) creates it
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


@transaction.atomic
def timetable_task_set(*, tenant, name: str, param: str = "", schedule: Schedule, fresh: bool = False,
                       now=None) -> ScheduledTask:
    """Turn an opt-in task on for a tenant with its schedule, or change the schedule (next run: the
    next boundary of the new one; a period whose key already ran is not run again). `fresh`: what
    the task does changed (a new URL), so its failures in a row start again from zero.

    Raises RegistrationError if the task is not a registered opt-in tenant task.
    """
    spec = registry.spec_for(name, param)
    if spec is None or not spec.opt_in:
        raise registry.RegistrationError(f"{name} (param {param!r}) is not a registered opt-in task")
    now = now or timezone.now()
    tz = tenant_zone(tenant)
    row = ScheduledTask.objects.select_for_update().filter(instance_id=tenant.pk, name=name, param=param).first()
    if row is None:
        row = _new_row(spec, instance_id=tenant.pk, tz=tz, now=now, schedule=schedule, live=is_live(tenant))
        row.save()
        return row
    changed = []
    if row.schedule != schedule:
        for field, value in _schedule_values(schedule).items():
            setattr(row, field, value)
        row.next_run_at, row.next_period_key = next_boundary(schedule, now, tz)
        changed += [*SCHEDULE_FIELDS, "next_run_at", "next_period_key"]
    if fresh and row.consecutive_failures:
        row.consecutive_failures = 0
        changed.append("consecutive_failures")
    if changed:
        row.save(update_fields=changed)
    return row


def timetable_task_remove(*, tenant_id: int, name: str, param: str = "") -> int:
    """Turn an opt-in task off for a tenant: its row and run history go. Returns rows deleted (0 or 1)."""
    rows = ScheduledTask.objects.filter(instance_id=tenant_id, name=name, param=param)
    return 1 if rows.delete()[0] else 0
