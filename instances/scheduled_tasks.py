"""Scheduled tasks the instances app declares: for every live site, and for the farm."""
from django.utils.translation import gettext_lazy as _

from farm.cron import FARM, HIGH, LOW, daily, hourly
from instances.salts import day_salts_expire
from instances.sizes import instance_measure_size

daily(instance_measure_size, hour=3, priority=LOW, label=_("Measure the site's size"))  # shown in the admin's site list
# Hourly, so a day's visitor salt is gone within the hour its hits can no longer arrive (Matomo
# deletes its fingerprint salts daily); HIGH: it is privacy, and cheap.
hourly(day_salts_expire, scope=FARM, priority=HIGH, label=_("Delete expired visitor salts"))
