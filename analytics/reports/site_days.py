"""A day's totals for "All websites": the few numbers of a day archive copied to the public schema.

Archiving calls `site_day_store` after it stores a day; instances.overview owns the table and its
reads (the portal and MultiSites.* read every site in one query, never one schema after another).
"""
from datetime import date

from django.db import connection

from instances.overview import site_day_record

ECOMMERCE_ORDER = "0"  # the goal id of ecommerce orders in Goals.getGoals


def site_day_store(day: date, reports: dict[str, list[dict]]) -> None:
    """Write the current site's totals of `day` from its freshly computed day `reports`."""
    site_day_record(instance_id=connection.tenant.pk, day=day, totals=totals(reports))


def totals(reports: dict) -> dict:
    """The "All websites" numbers of a period from its reports, stored (lists of rows) or as the
    service presents them (a dict for single-row reports): MultiSites reads a segment's this way."""
    def row(name: str) -> dict:
        found = reports.get(name) or {}
        return (found[0] if found else {}) if isinstance(found, list) else found
    summary, goals = row("VisitsSummary.get"), row("Goals.get")
    order = next((r for r in reports.get("Goals.getGoals", []) if r["label"] == ECOMMERCE_ORDER), {})
    return {"nb_visits": summary.get("nb_visits", 0), "nb_actions": summary.get("nb_actions", 0),
            "nb_pageviews": row("Actions.get").get("nb_pageviews", 0), "revenue": goals.get("revenue", 0),
            "nb_conversions": goals.get("nb_conversions", 0), "orders": order.get("nb_conversions", 0),
            "ecommerce_revenue": order.get("revenue", 0)}


TOTALS_REPORTS = ["VisitsSummary.get", "Actions.get", "Goals.get", "Goals.getGoals"]  # what `totals` reads
