"""Scheduled tasks the instances app declares for every live site."""
from django.utils.translation import gettext_lazy as _

from farm.cron import LOW, daily
from instances.sizes import instance_measure_size

daily(instance_measure_size, hour=3, priority=LOW, label=_("Measure the site's size"))  # shown in the admin's site list
