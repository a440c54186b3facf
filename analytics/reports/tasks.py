"""The `archive reports` scheduled task (run by the farm's cron inside each live site's schema)."""
import logging

from analytics.reports.archive import archive_run
from farm import metrics

log = logging.getLogger(__name__)


def archive_reports() -> None:
    """Archive today, late-data days and their weeks, months and years for the current site."""
    summary = archive_run()
    metrics.observe("farm_archive_run_seconds", summary.seconds)
    log.info("archived %d day(s) and %d longer period(s) in %.1f s", len(summary.days), len(summary.periods),
             summary.seconds)
