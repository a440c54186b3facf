"""Scheduled tasks the analytics app declares: for every live site, and for the farm."""
from django.utils.translation import gettext_lazy as _

from analytics.email_reports.tasks import send_email_reports
from analytics.privacy.tasks import anonymise_stored_rows, purge_old_reports, purge_raw_logs
from analytics.reports.tasks import archive_reports
from analytics.tracking.agents import parsed_agents_expire
from farm.cron import FARM, HIGH, LOW, daily, hourly

# Hourly, as Matomo's core:archive cron: today's reports stay at most an hour old, and days that
# received late data (cdt, imported logs) are archived again. HIGH: the dashboard reads these. Spread:
# each site at a minute of its own, so that a farm's sites are not all due at :00.
hourly(archive_reports, priority=HIGH, time_limit=1800, spread=True, label=_("Archive reports"))
daily(parsed_agents_expire, scope=FARM, hour=4, priority=LOW, label=_("Forget old parsed user agents"))
# Daily at 03:00 site time, after the night's archiving runs: a day loses its raw rows only once
# archived (analytics.privacy.retention). LOW: nothing waits for it.
daily(purge_raw_logs, hour=3, priority=LOW, time_limit=3600, spread=True, label=_("Delete old raw logs"))
# Then its reports older than the site's report retention (analytics.privacy.report_retention).
daily(purge_old_reports, hour=3, priority=LOW, time_limit=3600, spread=True, label=_("Delete old reports"))
# Opt-in, turned on by the first request (instances.anonymisations, which also runs it at once: a
# stricter setting, anonymizeSomeRawData); daily after that, the backstop that resumes a run stopped
# halfway. LOW: nothing waits for it.
daily(anonymise_stored_rows, hour=3, opt_in=True, priority=LOW, time_limit=3600, label=_("Anonymise stored data"))
# Hourly, opt-in: on for a site while it has email reports (analytics.email_reports.reports); each
# goes at its hour (site time) once its period is over, at most once a period (.delivery). NORMAL:
# people wait for these at a set hour.
hourly(send_email_reports, opt_in=True, time_limit=1800, label=_("Send email reports"))
