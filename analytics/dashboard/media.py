"""What the dashboard's Media section shows: the overview, one media's page, real-time media and the
audience map, assembled from the report service (the Reporting API's MediaAnalytics.* path).

Call inside the site's schema. Plain data for the templates, as analytics.dashboard.pages.
"""
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from analytics.dashboard import maps, pages, tables
from analytics.dashboard.choice import PeriodChoice
from analytics.reports import catalog, live, service

OVERVIEW = "MediaAnalytics.get"
EVOLUTION_METRICS = pages.CARDS[OVERVIEW]
SPLIT_COLUMNS = ("nb_plays", "nb_impressions", "play_rate", "finish_rate", "sum_total_time_watched",
                 "avg_completion_rate", "nb_unique_visitors_plays")
ITEM_METRICS = ("nb_plays", "nb_impressions", "play_rate", "finish_rate", "sum_total_time_watched",
                "avg_time_watched", "avg_completion_rate", "avg_media_length")
TYPE_TITLES = {"video": _("Video"), "audio": _("Audio")}
MOST_PLAYED_MINUTES = 30


def overview(choice: PeriodChoice, metric: str) -> dict:
    """The Media overview: evolution of one metric, the cards with sparklines, video against audio,
    the reports of each, and the audience map (plays per country)."""
    periods = service.affordable(choice.evolution())
    points = service.report_series(OVERVIEW, periods)
    row = pages.period_row(choice, OVERVIEW, points)
    columns = [tables.column(c) for c in SPLIT_COLUMNS]
    split = [{"kind": kind, "title": TYPE_TITLES[kind], "cells": [(row.get(f"{c.key}_{kind}"), c.kind) for c in columns]}
             for kind in catalog.MEDIA_TYPES]
    countries = service.report("MediaAnalytics.getCountries", choice.period)
    return {"metric": metric, "evolution": pages.evolution_chart(periods, points, metric),
            "cards": pages.summary_cards(choice, OVERVIEW, with_sparklines=True, evolution=points, row=row),
            "split": split, "split_columns": columns,
            "blocks": pages.blocks([(n, c) for n, c in pages.MEDIA_REPORTS if n in pages.MEDIA_ITEM_REPORTS], choice),
            # the other tables load once the page is shown (htmx), so the page itself stays quick
            "later": [pages.Block(n, pages.title(n), None) for n, _c in pages.MEDIA_REPORTS
                      if n not in pages.MEDIA_ITEM_REPORTS],
            "map": maps.map_config(countries, "nb_plays", gettext("Plays"))}


def item(choice: PeriodChoice, resource: str) -> dict | None:
    """One media (its resource URL): its metrics for the period and over time, and its drop-off curve.
    None when the media had no impression in any period of the evolution graph."""
    periods = service.affordable(choice.evolution())
    for name in pages.MEDIA_ITEM_REPORTS:
        points = [_row(rows, resource) for rows in service.report_series(name, periods)]
        if any(points):
            break
    else:
        return None
    current = _row(service.report(name, choice.period), resource) if choice.kind == "range" else points[-1]
    cards = [pages.Card(c.key, str(c.title), c.kind, current.get(c.key) or 0) for c in map(tables.column, ITEM_METRICS)]
    curve = _row(service.report("MediaAnalytics.getDropOff", choice.period), resource)
    return {"resource": resource, "kind": "video" if "Video" in name else "audio", "cards": cards,
            "evolution": pages.evolution_chart(periods, points, "nb_plays"),
            "drop_off": drop_off_chart(curve), "measured": curve.get("nb_plays_measured", 0)}


def _row(rows: list[dict], label: str) -> dict:
    return next((row for row in rows if row["label"] == label), {})


def drop_off_chart(curve: dict) -> dict | None:
    """The share of measured plays still watching at each 5 % of the media (a line from 100 % down)."""
    measured = curve.get("nb_plays_measured") or 0
    if not measured:
        return None
    shares = [round(100 * curve[f"nb_plays_at_{step}"] / measured, 1) for step in catalog.DROP_OFF_STEPS]
    return pages.chart_config("line", [f"{step} %" for step in catalog.DROP_OFF_STEPS], shares,
                              gettext("Plays still watching (%)"))


def realtime() -> dict:
    """Plays and time watched in the last 30 min, 60 min and 24 h, and the media played most now."""
    return {"counters": [(minutes, live.media_counters(minutes)) for minutes in pages.REALTIME_WINDOWS],
            "most_played": live.most_played(MOST_PLAYED_MINUTES), "most_played_minutes": MOST_PLAYED_MINUTES}
