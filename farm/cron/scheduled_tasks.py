"""The cron's own farm-level tasks. (The sweeper is not one: it runs inside every tick, so that
recovering dead runs never depends on a run that could itself be stuck.)"""
from django.utils.translation import gettext_lazy as _

from farm.cron.maintenance import prune_run_history
from farm.cron.registry import FARM, LOW, daily

daily(prune_run_history, scope=FARM, hour=4, priority=LOW, label=_("Prune the run history"))
