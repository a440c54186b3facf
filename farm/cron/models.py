"""The timetable (one row per tenant × task × param) and the run history, in the public schema."""
from django.conf import settings
from django.db import models
from django.db.models import Q


class ScheduledTask(models.Model):
    """A registered task as it applies to one tenant (or to the farm when `instance` is null).

    Spec fields are copied from the registry at sync so the tick needs no code to plan runs;
    `next_run_at` / `next_period_key` say when and for which period the next run is due.
    """

    instance = models.ForeignKey(settings.TENANT_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="scheduled_tasks")
    name = models.CharField(max_length=255)
    param = models.CharField(max_length=200, blank=True)
    period = models.CharField(max_length=8)
    minute = models.PositiveSmallIntegerField(default=0)
    hour = models.PositiveSmallIntegerField(default=0)
    weekday = models.PositiveSmallIntegerField(default=0)
    day = models.PositiveSmallIntegerField(default=1)
    every = models.PositiveSmallIntegerField(default=0, help_text="Minutes between runs (minutes period).")
    priority = models.PositiveSmallIntegerField(default=6)
    overlap = models.CharField(max_length=8, default="forbid")
    max_retries = models.PositiveSmallIntegerField(default=3)
    time_limit = models.PositiveIntegerField(default=600)
    backfill = models.BooleanField(default=False)
    start_deadline = models.PositiveIntegerField(null=True, blank=True)
    runner = models.CharField(max_length=200, blank=True,
                              help_text="Celery task that executes this task's runs in batches; empty: any worker.")
    enabled = models.BooleanField(default=True, help_text="Off when the code no longer registers the task.")
    live = models.BooleanField(default=True, help_text="Off while the site is deactivated or not ready.")
    next_run_at = models.DateTimeField()
    next_period_key = models.CharField(max_length=32)
    last_status = models.CharField(max_length=10, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Totals since the row was created: what remains of a minute task's runs once their short history is pruned.
    run_count = models.PositiveBigIntegerField(default=0)
    failure_count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instance", "name", "param"], nulls_distinct=False,
                                    name="cron_one_row_per_tenant_task_param"),
        ]
        indexes = [
            models.Index(fields=["next_run_at"], condition=Q(enabled=True, live=True), name="cron_due_idx"),
        ]
        ordering = ["instance_id", "priority", "name", "param"]

    def __str__(self):
        where = self.instance_id and f"site {self.instance_id}" or "farm"
        return f"{self.name}({self.param}) @ {where}"

    @property
    def schedule(self):
        from farm.cron.periods import Schedule

        return Schedule(period=self.period, minute=self.minute, hour=self.hour, weekday=self.weekday, day=self.day,
                        every=self.every)


class RunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    MISSED = "missed"
    REPLACED = "replaced"


class TaskRun(models.Model):
    """One run of one task for one period; (task, period_key) is unique for scheduled runs."""

    task = models.ForeignKey(ScheduledTask, on_delete=models.CASCADE, related_name="runs")
    period_key = models.CharField(max_length=48)
    scheduled_for = models.DateTimeField(help_text="The period boundary this run is for.")
    forced = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    priority = models.PositiveSmallIntegerField(default=6)
    attempt = models.PositiveSmallIntegerField(default=0)
    coalesced = models.PositiveIntegerField(default=0, help_text="Missed periods folded into this run.")
    queued_at = models.DateTimeField()
    not_before = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, help_text="What the task reported (a dict), e.g. an HTTP status.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "period_key"], condition=Q(forced=False),
                                    name="cron_one_run_per_period"),
        ]
        indexes = [
            # the claim's order, to the last key: a tick queues thousands of runs with the same
            # priority and time, which a sort on id would read whole at every claim
            models.Index(fields=["priority", "queued_at", "id"], condition=Q(status="queued"), name="cron_queued_idx"),
            models.Index(fields=["lease_expires_at"], condition=Q(status="running"), name="cron_running_idx"),
            models.Index(fields=["task", "-queued_at"], name="cron_task_history_idx"),
        ]
        ordering = ["-queued_at", "-id"]

    def __str__(self):
        return f"{self.task.name} {self.period_key} {self.status}"


class TickSample(models.Model):
    """What the full super cron ticks of one minute saw, for the farm console's 24-hour charts.

    One row a minute (a second tick in the same minute, from a racing Beat, adds to it): a day is
    1,440 small rows whatever the farm's size. `counters` copies the metrics' cumulative counters at
    that tick (farm.metrics), so runs failed and hits stored in a minute are the increase between two
    rows, as Prometheus's increase() reads them; null when Redis did not answer, like `hits_queued`.
    """

    at = models.DateTimeField(unique=True, help_text="The tick's minute.")
    ticks = models.PositiveSmallIntegerField(default=1)
    due = models.PositiveIntegerField(default=0)
    dispatched = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    runs_queued = models.PositiveIntegerField(default=0, help_text="The run queue right after the tick.")
    runs_running = models.PositiveIntegerField(default=0)
    hits_queued = models.PositiveIntegerField(null=True, blank=True, help_text="The hit queue's depth.")
    ingest_lag_seconds = models.FloatField(null=True, blank=True)
    counters = models.JSONField(null=True, blank=True)
    counters_at = models.DateTimeField(null=True, blank=True, help_text="When `counters` was read.")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M}: {self.dispatched} dispatched"
