"""App configuration: connects the host-cache eviction receivers."""
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InstancesConfig(AppConfig):
    name = "instances"
    verbose_name = _("Sites")

    def ready(self):
        from instances import signals  # noqa: F401  (connects receivers)
