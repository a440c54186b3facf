"""The farm's cron: Matomo-style scheduled tasks run exactly once per period, per live tenant.

Declare tasks in an app's `scheduled_tasks` module:

    from farm.cron import daily, hourly, HIGH
    hourly(archive_reports, label=_("Archive reports"))
    daily(purge_old_logs, param="90", priority=HIGH, hour=3)

`label` is what the site's Scheduled tasks page shows (pass a gettext_lazy text); without one it is
made from the function's name ("Purge old logs").

Semantics (see also README):
- Exactly once per period: minute tasks (`every_minutes(func, 5)`) are keyed by UTC minute, hourly by UTC hour; daily, weekly and monthly tasks by
  the tenant-local date, ISO week and month. A unique (task, period key) row makes it so.
- Missed periods (beat or workers down) are coalesced into one run while within the start deadline
  (default half the period; the whole period for minute tasks, so a tick a few seconds late never
  records a miss), else recorded as missed; `backfill=True` runs each missed period
  instead (at most 100).
- Overlap: "forbid" (default; the new run is recorded as skipped while the last one still runs),
  "allow", or "replace" (the old run is marked replaced and its result ignored).
- Retries: raising RetryableError retries with exponential backoff and jitter within the period,
  up to max_retries (default 3); any other error fails the run at once.
- Times of day are in the tenant's timezone; gaps run at the first valid instant after, folds once.
- Deactivated or not-ready tenants get no runs; on reactivation tasks resume at the next boundary.
- Opt-in tasks (`opt_in=True`) run only for tenants that turned them on, each with its own schedule
  (timetable_task_set / timetable_task_remove); `runner="celery.task.name"` hands their runs to that
  Celery task in batches of run ids (farm.cron.batches claims and records them).
- The sweeper (every tick) wakes workers for runs left queued and expires leases of dead workers.
"""
from farm.cron.registry import (  # noqa: F401
    FARM,
    HIGH,
    HIGHEST,
    LOW,
    LOWEST,
    NORMAL,
    TENANT,
    RegistrationError,
    RetryableError,
    daily,
    every_minutes,
    hourly,
    monthly,
    weekly,
)


