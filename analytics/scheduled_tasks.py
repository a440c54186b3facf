"""Scheduled tasks the analytics app declares: for every live site, and for the farm."""
from django.utils.translation import gettext_lazy as _

from analytics.privacy.tasks import purge_raw_logs
from analytics.reports.tasks import archive_reports
from analytics.tracking.agents import parsed_agents_expire
from farm.cron import FARM, HIGH, LOW, daily, hourly

# Hourly, as Matomo's core:archive cron: today's reports stay at most an hour old, and days that
# received late data (cdt, imported logs) are archived again. HIGH: the dashboard reads these.
hourly(archive_reports, priority=HIGH, time_limit=1800, label=_("Archive reports"))
daily(parsed_agents_expire, scope=FARM, hour=4, priority=LOW, label=_("Forget old parsed user agents"))
# Daily at 03:00 site time, after the night's archiving runs: a day loses its raw rows only once
# archived (analytics.privacy.retention). LOW: nothing waits for it.
daily(purge_raw_logs, hour=3, priority=LOW, time_limit=3600, label=_("Delete old raw logs"))
