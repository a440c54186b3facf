"""A report's rows as the dashboard shows them: the columns worth reading, sorted, searched, limited.

Pure, no database: rows come from analytics.reports.service. Titles are translated here because the
catalog's titles are the API's (English, Matomo's); column keys stay Matomo's.
"""
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from analytics.reports import catalog

LIMITS = (5, 10, 25, 50, 100, -1)
DEFAULT_LIMIT = 10

COLUMN_TITLES = {
    "nb_visits": _("Visits"), "nb_actions": _("Actions"), "nb_actions_per_visit": _("Actions per visit"),
    "avg_time_on_site": _("Avg. visit duration"), "bounce_rate": _("Bounce rate"),
    "nb_visits_converted": _("Visits converted"), "nb_hits": _("Hits"), "avg_time_on_page": _("Avg. time on page"),
    "exit_rate": _("Exit rate"), "entry_nb_visits": _("Entrances"), "exit_nb_visits": _("Exits"),
    "nb_events": _("Events"), "sum_event_value": _("Total value"), "avg_event_value": _("Avg. value"),
    "nb_conversions": _("Conversions"), "conversion_rate": _("Conversion rate"), "revenue": _("Revenue"),
    "quantity": _("Quantity"), "orders": _("Orders"), "avg_price": _("Avg. price"),
    "nb_uniq_visitors": _("Unique visitors"), "nb_users": _("Users"), "max_actions": _("Max actions in a visit"),
    "bounce_count": _("Bounces"), "sum_visit_length": _("Total time"),
    "nb_plays": _("Plays"), "nb_impressions": _("Impressions"), "nb_finishes": _("Finishes"),
    "play_rate": _("Play rate"), "finish_rate": _("Finish rate"), "sum_total_time_watched": _("Time watched"),
    "avg_time_watched": _("Avg. time watched"), "avg_completion_rate": _("Avg. completion"),
    "avg_time_to_initial_play": _("Avg. time to play"), "fullscreen_rate": _("Fullscreen rate"),
    "impression_rate": _("Impression rate"), "nb_unique_visitors_plays": _("Visitors who played"),
    "nb_unique_visitors_impressions": _("Visitors with an impression"), "avg_media_length": _("Avg. length"),
}
# How each column reads: a count, a percentage, seconds (shown as 1 min 5 s), money or a decimal.
COLUMN_KINDS = {"bounce_rate": "percent", "exit_rate": "percent", "conversion_rate": "percent",
                "avg_time_on_site": "seconds", "avg_time_on_page": "seconds", "sum_visit_length": "seconds",
                "revenue": "money", "avg_price": "money", "sum_event_value": "decimal", "avg_event_value": "decimal",
                "nb_actions_per_visit": "decimal",
                **dict.fromkeys(("play_rate", "finish_rate", "avg_completion_rate", "fullscreen_rate", "impression_rate"),
                                "percent"),
                **dict.fromkeys(("sum_total_time_watched", "avg_time_watched", "avg_time_to_initial_play",
                                 "avg_media_length"), "seconds")}

_VISIT_COLUMNS = ("nb_visits", "nb_actions", "nb_actions_per_visit", "avg_time_on_site", "bounce_rate")
_FAMILY_COLUMNS = (  # (the catalog's metric family, the columns shown)
    (catalog.VISIT_METRICS, _VISIT_COLUMNS),
    (catalog.PAGE_METRICS, ("nb_hits", "nb_visits", "avg_time_on_page", "bounce_rate", "exit_rate")),
    (catalog.HIT_METRICS, ("nb_hits", "nb_visits")),
    (catalog.EVENT_METRICS, ("nb_events", "nb_visits", "sum_event_value", "avg_event_value")),
    (catalog.GOAL_METRICS, ("nb_conversions", "nb_visits_converted", "conversion_rate", "revenue")),
    (catalog.ITEM_METRICS, ("revenue", "quantity", "orders", "avg_price")),
    (catalog.MEDIA_METRICS, ("nb_plays", "nb_impressions", "play_rate", "finish_rate", "avg_time_watched",
                             "avg_completion_rate")),
)
_REPORT_COLUMNS = {
    "Actions.getEntryPageUrls": ("entry_nb_visits", "nb_hits", "bounce_rate"),
    "Actions.getExitPageUrls": ("exit_nb_visits", "nb_hits", "exit_rate"),
}


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "count"


@dataclass
class Table:
    """One report ready to render: its columns, the rows shown, and how they were picked."""

    name: str
    columns: list[Column]
    rows: list[dict]
    total: int
    sort: str
    order: str
    limit: int
    search: str
    compared: bool = False  # rows carry `previous` and `change` for the first column

    @property
    def main(self) -> Column:
        return self.columns[0]

    @property
    def limits(self) -> tuple:
        return LIMITS

    @property
    def more(self) -> bool:
        return len(self.rows) < self.total


def column(key: str) -> Column:
    """A metric as the dashboard shows it: its translated title and how it reads."""
    return Column(key, COLUMN_TITLES[key], COLUMN_KINDS.get(key, "count"))


def columns(name: str) -> list[Column]:
    """The columns shown for a report: its metric family's, with the report's exceptions."""
    spec = catalog.spec(name)
    keys = _REPORT_COLUMNS.get(name) or next(keys for family, keys in _FAMILY_COLUMNS if spec.metrics is family)
    return [column(key) for key in keys]


def _limit(value) -> int:
    try:
        limit = int(value)
    except (TypeError, ValueError):
        return DEFAULT_LIMIT
    return limit if limit in LIMITS else DEFAULT_LIMIT


def table(name: str, rows: list[dict], *, sort: str = "", order: str = "desc", limit=DEFAULT_LIMIT,
          search: str = "", previous_rows: list[dict] | None = None) -> Table:
    """Rows searched (label or displayed name contains `search`, any case), sorted by a shown column, then limited.

    An unknown `sort` keeps the report's own order (biggest first, or hours and days in order).
    """
    cols = columns(name)
    search = (search or "").strip()
    if search:
        needle = search.casefold()
        rows = [row for row in rows
                if needle in f"{row.get('parent', '')} {row['label']} {row.get('display', '')}".casefold()]
    keys = {c.key for c in cols}
    order = "asc" if order == "asc" else "desc"
    if sort in keys:
        rows = sorted(rows, key=lambda row: row.get(sort) or 0, reverse=order == "desc")
    elif sort == "label" and catalog.spec(name).order == "label":  # hours, days, buckets: in their own order
        rows = catalog.ordered(catalog.spec(name), rows)[::-1 if order == "desc" else 1]
    elif sort == "label":
        rows = sorted(rows, key=lambda row: row.get("display", row["label"]).casefold(), reverse=order == "desc")
    else:
        sort = ""
    limit = _limit(limit)
    shown = rows if limit < 0 else rows[:limit]
    if previous_rows is not None:
        shown = _compared(shown, previous_rows, cols[0].key)
    return Table(name, cols, shown, len(rows), sort, order, limit, search, compared=previous_rows is not None)


def _compared(rows: list[dict], previous_rows: list[dict], key: str) -> list[dict]:
    """Each row with the previous period's value of `key` for the same label, and the change."""
    before = {(row.get("parent"), row["label"]): row.get(key) or 0 for row in previous_rows}
    out = []
    for row in rows:
        previous = before.get((row.get("parent"), row["label"]), 0)
        out.append({**row, "previous": previous, "change": change(row.get(key) or 0, previous)})
    return out


def change(current, previous) -> float | None:
    """The change from `previous` to `current` in percent (None when there was nothing before)."""
    if not previous:
        return None
    return round((current - previous) / previous * 100, 1)
