"""The privacy tasks the farm's cron runs inside each live site's schema."""
import logging

from django.db import connection

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
