"""The dashboard's world map: a report's rows per country as the config static/analytics/dashboard.js draws.

The map reads the same small JSON as the charts (pages.chart_config) with the kind "map": labels are
the report's lowercase ISO 3166-1 alpha-2 codes ("fr"), values the metric, label the metric's name.
"""
from django.utils.translation import gettext

from analytics.dashboard.choice import PeriodChoice
from analytics.dashboard.pages import chart_config
from analytics.reports import labels, service


def map_config(rows: list[dict], metric: str, label: str) -> dict:
    """The map config of UserCountry.getCountry-like rows ({"label": "fr", metric: N, ...}).

    Rows of an unknown country ("xx" or no label) and rows whose `metric` is zero or missing are
    left out: the map has no place for the first, and the second would shade a country with nothing.
    Codes stay lowercase, as the reports keep them; the order of the rows is kept.
    """
    kept = [row for row in rows if row.get("label") and row["label"] != labels.UNKNOWN and row.get(metric)]
    return chart_config("map", [row["label"] for row in kept], [row[metric] for row in kept], label)


def visits_per_country(choice: PeriodChoice) -> dict | None:
    """The map of the chosen period's visits per country, or None when no visit has a known country
    (the Locations page then shows no map rather than a grey one)."""
    config = map_config(service.report("UserCountry.getCountry", choice.period), "nb_visits", gettext("Visits"))
    return config if config["values"] else None
