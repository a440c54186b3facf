"""The email reports' task the farm's cron runs inside each live site's schema."""
import logging

from django.db import connection

from analytics.email_reports.delivery import reports_send_due

log = logging.getLogger(__name__)


def send_email_reports() -> dict | None:
    """Send the site's email reports that are due this hour (none: nothing to record)."""
    counts = reports_send_due(site=connection.tenant)
    if any(counts.values()):
        log.info("email reports of %s: %s", connection.tenant.schema_name, counts)
        return counts
    return None
