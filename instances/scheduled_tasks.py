"""Scheduled tasks the instances app declares for every live site."""
from farm.cron import LOW, daily
from instances.sizes import instance_measure_size

daily(instance_measure_size, hour=3, priority=LOW)  # shown in the admin's site list
