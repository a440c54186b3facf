"""Scheduled tasks the instances app declares: for every live site, and for the farm."""
from django.utils.translation import gettext_lazy as _

from farm.cron import FARM, HIGH, LOW, daily, every_minutes, hourly
from instances.salts import day_salts_expire
from instances.site_cron import RUNNER, site_cron_call
from instances.sizes import instance_measure_size

daily(instance_measure_size, hour=3, priority=LOW, spread=True, label=_("Measure the site's size"))  # shown in the admin's site list
# Hourly, so a day's visitor salt is gone within the hour its hits can no longer arrive (Matomo
# deletes its fingerprint salts daily); HIGH: it is privacy, and cheap.
hourly(day_salts_expire, scope=FARM, priority=HIGH, label=_("Delete expired visitor salts"))
# Only for the sites that gave a cron URL, each on its own schedule (every 1, 5, 15 or 60 minutes,
# set by instances.site_cron.instance_cron_url_set); called in batches by the runner, never by a
# worker slot: a slow site must not hold up the farm's other tasks.
every_minutes(site_cron_call, minutes=1, opt_in=True, runner=RUNNER, priority=HIGH, max_retries=3, time_limit=120,
              label=_("Call the site's cron URL"))
