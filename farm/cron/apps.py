"""App configuration (label `cron`): imports every app's `scheduled_tasks` module at start-up."""
from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CronConfig(AppConfig):
    name = "farm.cron"
    label = "cron"
    verbose_name = "Cron"

    def ready(self):
        import importlib
        import os

        autodiscover_modules("scheduled_tasks")
        # Operators (and the test suite's worker processes) may declare tasks outside installed apps.
        for module in filter(None, os.environ.get("FARM_CRON_EXTRA_MODULES", "").split(",")):
            importlib.import_module(module.strip())
