"""Template filters for the cron's codes as a person reads them: {{ task|task_label }},
{{ task.schedule|schedule_label }}, {{ run.status|status_label }} (see farm.cron.labels)."""
from django import template

from farm.cron import labels

register = template.Library()
register.filter("task_label", labels.task_label)
register.filter("schedule_label", labels.schedule_label)
register.filter("run_result_label", labels.run_result_label)
register.filter("status_label", labels.status_label)
