"""App configuration for the farm's own wiring (management commands, health)."""
from django.apps import AppConfig


class FarmConfig(AppConfig):
    name = "farm"
    verbose_name = "Farm"
