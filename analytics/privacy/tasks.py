"""The privacy tasks the farm's cron runs inside each live site's schema."""
import logging

from django.db import connection

from analytics.privacy.anonymise import anonymisations_run
from analytics.privacy.report_retention import reports_purge
from analytics.privacy.retention import raw_logs_purge

log = logging.getLogger(__name__)


def purge_raw_logs() -> dict | None:
    """Delete the site's raw logs older than its retention, if it set one (else nothing to do)."""
    days = connection.tenant.raw_log_retention_days
    if not days:
        return None
    counts = raw_logs_purge(days=days)
    log.info("raw logs before %s deleted: %s", counts["before"], counts)
    return counts


def purge_old_reports() -> dict | None:
    """Delete the site's reports older than its report retention, if it set one."""
    site = connection.tenant
    if not site.report_retention_months:
        return None
    counts = reports_purge(months=site.report_retention_months,
                           keep_basic_metrics=site.report_retention_keep_basic_metrics,
                           keep_month_year=site.report_retention_keep_month_year)
    log.info("reports before %s deleted: %s", counts["before"], counts)
    return counts


def anonymise_stored_rows() -> list[dict] | None:
    """Carry out the site's requests to anonymise stored rows (a stricter setting, anonymizeSomeRawData)."""
    return anonymisations_run(site=connection.tenant) or None
