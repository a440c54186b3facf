"""The cron's own farm-level tasks. (The sweeper is not one: it runs inside every tick, so that
recovering dead runs never depends on a run that could itself be stuck.)"""
from django.utils.translation import gettext_lazy as _

from farm.cron.maintenance import prune_minute_run_history, prune_run_history
from farm.cron.registry import FARM, LOW, daily, hourly
from farm.cron.samples import tick_samples_prune

daily(prune_run_history, scope=FARM, hour=4, priority=LOW, label=_("Prune the run history"))
# Hourly: minute tasks add up to 14 million runs a day on 10,000 sites; a few hours of them are kept.
hourly(prune_minute_run_history, scope=FARM, minute=30, priority=LOW, label=_("Prune minute tasks' run history"))
daily(tick_samples_prune, scope=FARM, hour=4, priority=LOW, label=_("Prune the ticks' minute samples"))
