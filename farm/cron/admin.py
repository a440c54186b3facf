"""Admin for the timetable and the run history, with a "run now" action."""
from django.contrib import admin, messages

from farm.cron import execution
from farm.cron.models import ScheduledTask, TaskRun


@admin.action(description="Run now (forced run: does not consume the period)")
def run_now(modeladmin, request, queryset):
    runs = [execution.run_now(task=task) for task in queryset.filter(enabled=True, live=True)]
    queued = [r for r in runs if r.status == "queued"]
    if queued:
        from farm.cron.dispatch import runs_wake

        runs_wake([r.pk for r in queued])
    modeladmin.message_user(request, f"{len(queued)} run(s) queued, {len(runs) - len(queued)} skipped "
                                     "(previous run still running).", messages.SUCCESS)


@admin.register(ScheduledTask)
class ScheduledTaskAdmin(admin.ModelAdmin):
    list_display = ("name", "param", "instance", "period", "priority", "next_run_at", "enabled", "live",
                    "last_status", "last_run_at", "last_duration_ms", "consecutive_failures")
    list_filter = ("enabled", "live", "period", "last_status", "name",
                   ("instance", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "param", "instance__slug")
    list_select_related = ("instance",)
    raw_id_fields = ("instance",)
    actions = (run_now,)
    readonly_fields = ("instance", "name", "param", "period", "every", "minute", "hour", "weekday", "day", "runner",
                       "last_status", "last_run_at", "last_duration_ms", "consecutive_failures", "run_count",
                       "failure_count", "next_period_key")

    def has_add_permission(self, request):
        return False  # rows come from the registry (code)


@admin.register(TaskRun)
class TaskRunAdmin(admin.ModelAdmin):
    list_display = ("task", "period_key", "status", "forced", "attempt", "queued_at", "started_at", "duration_ms",
                    "worker")
    list_filter = ("status", "forced", "task__name", ("task__instance", admin.RelatedOnlyFieldListFilter))
    search_fields = ("task__name", "task__instance__slug", "period_key", "error")
    list_select_related = ("task", "task__instance")
    date_hierarchy = "queued_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
