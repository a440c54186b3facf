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
    summary = (reports.get("VisitsSummary.get") or [{}])[0]
    goals = (reports.get("Goals.get") or [{}])[0]
    order = next((row for row in reports.get("Goals.getGoals", []) if row["label"] == ECOMMERCE_ORDER), {})
    site_day_record(instance_id=connection.tenant.pk, day=day, totals={
        "nb_visits": summary.get("nb_visits", 0), "nb_actions": summary.get("nb_actions", 0),
        "nb_pageviews": (reports.get("Actions.get") or [{}])[0].get("nb_pageviews", 0),
        "revenue": goals.get("revenue", 0), "nb_conversions": goals.get("nb_conversions", 0),
        "orders": order.get("nb_conversions", 0), "ecommerce_revenue": order.get("revenue", 0),
    })
