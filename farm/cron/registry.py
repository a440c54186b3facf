"""The task registry: what code declares, Matomo-style (`hourly(func)`, `daily(func, param=...)`).

Registration is code; the timetable (farm.cron.models.ScheduledTask) is data built from it. A task
is identified by its function's dotted name plus its parameter. Declarations live in each app's
`scheduled_tasks` module, imported at start-up (farm.cron.apps).
"""
from dataclasses import dataclass, field
from typing import Callable

from farm.cron.periods import Schedule

HIGHEST, HIGH, NORMAL, LOW, LOWEST = 0, 3, 6, 9, 12  # Matomo's range: 0 runs first
TENANT, FARM = "tenant", "farm"
OVERLAP_POLICIES = ("forbid", "allow", "replace")


class RegistrationError(ValueError):
    """A task declaration is invalid; the message says which task and what to change."""


class RetryableError(Exception):
    """Raise from a task for a transient failure: the run is retried with backoff within its period."""


@dataclass(frozen=True)
class TaskSpec:
    func: Callable = field(compare=False)
    name: str
    param: str
    schedule: Schedule
    priority: int = NORMAL
    scope: str = TENANT
    overlap: str = "forbid"
    max_retries: int = 3
    time_limit: int = 600
    backfill: bool = False
    start_deadline: int | None = None  # seconds; default half the period (the whole period for minute tasks)
    # Opt-in tasks have timetable rows only for the tenants that turned them on, each row with its own
    # schedule (farm.cron.timetable.timetable_task_set); the others run for every live tenant.
    opt_in: bool = False
    # A Celery task name: its runs go to that task in batches of run ids instead of to any worker.
    runner: str = ""
    # Tenant rows start at a minute of their own in the hour (spread_minute): 10,000 sites' hourly
    # archiving would otherwise all be due at :00 and wait for each other (docs/benchmarks.md, fleet).
    spread: bool = False
    # What a person reads on the site's Scheduled tasks page (translated at display time when lazy).
    label: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.name, self.param


_registry: dict[tuple[str, str], TaskSpec] = {}


def dotted_name(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def default_label(name: str) -> str:
    """A readable label from a dotted task name: `analytics.reports.tasks.archive_reports` → "Archive reports"."""
    words = name.rsplit(".", 1)[-1].replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def label_for(name: str, param: str = "") -> str:
    """The label a person reads for a timetable row: its registered label, else one made from its name
    (a row whose code is gone keeps a readable name too)."""
    spec = _registry.get((name, param))
    return str(spec.label) if spec is not None and spec.label else default_label(name)


def _register(period: str, func: Callable, *, param=None, priority: int = NORMAL, hour: int = 0, minute: int = 0,
              weekday: int = 0, day: int = 1, every: int = 0, scope: str = TENANT, overlap: str = "forbid",
              max_retries: int = 3, time_limit: int = 600, backfill: bool = False,
              start_deadline: int | None = None, label=None, opt_in: bool = False, runner: str = "",
              spread: bool = False) -> TaskSpec:
    if not callable(func):
        raise RegistrationError(f"{period}() needs a function, not {func!r}")
    name = dotted_name(func)
    if "<locals>" in name or "<lambda>" in name:
        raise RegistrationError(f"{name}: register a module-level function, so workers can import it by name")
    try:
        schedule = Schedule(period=period, minute=minute, hour=hour, weekday=weekday, day=day, every=every)
    except ValueError as exc:
        raise RegistrationError(f"{name}: {exc}") from None
    if not isinstance(priority, int) or not HIGHEST <= priority <= LOWEST:
        raise RegistrationError(f"{name}: priority must be an integer from 0 (first) to 12 (last), not {priority!r}")
    if scope not in (TENANT, FARM):
        raise RegistrationError(f"{name}: scope must be {TENANT!r} or {FARM!r}")
    if overlap not in OVERLAP_POLICIES:
        raise RegistrationError(f"{name}: overlap must be one of {', '.join(OVERLAP_POLICIES)}")
    if not isinstance(max_retries, int) or not 0 <= max_retries <= 20:
        raise RegistrationError(f"{name}: max_retries must be an integer from 0 to 20")
    if not isinstance(time_limit, int) or time_limit < 1:
        raise RegistrationError(f"{name}: time_limit must be a positive number of seconds")
    if opt_in and scope != TENANT:
        raise RegistrationError(f"{name}: only tenant tasks can be opt-in")
    if spread and (scope != TENANT or opt_in or period not in ("hourly", "daily", "weekly", "monthly")):
        raise RegistrationError(f"{name}: only a tenant task run for every site, hourly or longer, can be spread")
    if runner and not isinstance(runner, str):
        raise RegistrationError(f"{name}: runner is the name of a Celery task")
    param = "" if param is None else str(param)
    if len(param) > 200:
        raise RegistrationError(f"{name}: param must be at most 200 characters")
    if label is not None and not str(label).strip():
        raise RegistrationError(f"{name}: label must be a non-empty text (or left out to derive one from the name)")
    spec = TaskSpec(func=func, name=name, param=param, schedule=schedule, priority=priority, scope=scope,
                    overlap=overlap, max_retries=max_retries, time_limit=time_limit, backfill=backfill,
                    start_deadline=start_deadline, label=label if label is not None else default_label(name),
                    opt_in=opt_in, runner=runner, spread=spread)
    existing = _registry.get(spec.key)
    if existing is not None and existing != spec:
        raise RegistrationError(f"{name} (param {param!r}) is already registered with another schedule")
    _registry[spec.key] = spec
    return spec


def every_minutes(func, minutes: int = 1, **options) -> TaskSpec:
    """Every `minutes` minutes (a divisor of 60); `minute` is the offset, e.g. 2 → :02, :07, … for 5."""
    return _register("minutes", func, every=minutes, **options)


def hourly(func, **options) -> TaskSpec:
    return _register("hourly", func, **options)


def daily(func, **options) -> TaskSpec:
    return _register("daily", func, **options)


def weekly(func, **options) -> TaskSpec:
    return _register("weekly", func, **options)


def monthly(func, **options) -> TaskSpec:
    return _register("monthly", func, **options)


def registered() -> dict[tuple[str, str], TaskSpec]:
    return dict(_registry)


def spec_for(name: str, param: str) -> TaskSpec | None:
    return _registry.get((name, param))


def unregister(name: str, param: str = "") -> None:
    """Forget a declaration (tests, and code that drops a task)."""
    _registry.pop((name, param), None)


def spread_minute(spec: TaskSpec, instance_id: int) -> int:
    """The minute of the hour a spread task's row for this site starts at: the declared minute moved
    by 37 minutes per site id (37 is prime to 60: sixty sites in a row take sixty different minutes)."""
    return (spec.schedule.minute + instance_id * 37) % 60


def fingerprint() -> str:
    """Changes whenever the set of declarations changes; the tick syncs the timetable on change."""
    import hashlib

    parts = sorted(f"{s.name}|{s.param}|{s.schedule}|{s.priority}|{s.scope}|{s.overlap}|{s.max_retries}|"
                   f"{s.time_limit}|{s.backfill}|{s.start_deadline}|{s.opt_in}|{s.runner}|{s.spread}"
                   for s in _registry.values())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
