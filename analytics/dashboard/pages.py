"""What each dashboard page shows, assembled from the report service (the Reporting API's own path).

Call inside the site's schema (the middleware routes requests there). The views parse the query
and render; everything here returns plain data for the templates: cards, tables, chart configs.
"""
from dataclasses import dataclass, field

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from analytics.dashboard import tables
from analytics.dashboard.choice import PeriodChoice
from analytics.models import Visit
from analytics.reports import anonymity, catalog, labels, service
from analytics.reports.periods import Period

REPORT_TITLES = {
    "Actions.getPageUrls": _("Page URLs"), "Actions.getPageTitles": _("Page titles"),
    "Actions.getEntryPageUrls": _("Entry pages"), "Actions.getExitPageUrls": _("Exit pages"),
    "Actions.getDownloads": _("Downloads"), "Actions.getOutlinks": _("Outlinks"),
    "Actions.getSiteSearchKeywords": _("Site search keywords"),
    "Actions.getSiteSearchNoResultKeywords": _("Searches without results"),
    "Referrers.getReferrerType": _("Channel type"), "Referrers.getWebsites": _("Websites"),
    "Referrers.getSearchEngines": _("Search engines"), "Referrers.getKeywords": _("Search keywords"),
    "Referrers.getCampaigns": _("Campaigns"), "Referrers.getKeywordsFromCampaignId": _("Campaign keywords"),
    "Referrers.getSocials": _("Social networks"), "DevicesDetection.getType": _("Device type"),
    "DevicesDetection.getBrand": _("Device brand"), "DevicesDetection.getModel": _("Device model"),
    "DevicesDetection.getOsFamilies": _("Operating systems"), "DevicesDetection.getOsVersions": _("OS versions"),
    "DevicesDetection.getBrowsers": _("Browsers"), "DevicesDetection.getBrowserVersions": _("Browser versions"),
    "Resolution.getResolution": _("Screen resolution"), "UserCountry.getCountry": _("Country"),
    "UserLanguage.getLanguage": _("Browser language"), "Events.getCategory": _("Event categories"),
    "Events.getAction": _("Event actions"), "Events.getName": _("Event names"), "Goals.getGoals": _("Goals"),
    "Goals.getItemsSku": _("Product SKUs"), "Goals.getItemsName": _("Product names"),
    "VisitTime.getVisitInformationPerServerTime": _("Visits per hour (site time)"),
    "VisitTime.getVisitInformationPerLocalTime": _("Visits per hour (visitor's time)"),
    "VisitTime.getByDayOfWeek": _("Visits per day of the week"),
    "VisitorInterest.getNumberOfVisitsPerVisitDuration": _("Visits by duration (seconds)"),
    "VisitorInterest.getNumberOfVisitsPerPage": _("Visits by number of actions"),
    "MediaAnalytics.getVideoResources": _("Videos"), "MediaAnalytics.getAudioResources": _("Audio"),
    "MediaAnalytics.getGroupedVideoResources": _("Videos (grouped, without query)"),
    "MediaAnalytics.getGroupedAudioResources": _("Audio (grouped, without query)"),
    "MediaAnalytics.getVideoTitles": _("Video titles"), "MediaAnalytics.getAudioTitles": _("Audio titles"),
    "MediaAnalytics.getVideoHours": _("Video plays per hour (site time)"),
    "MediaAnalytics.getAudioHours": _("Audio plays per hour (site time)"),
    "MediaAnalytics.getVideoResolutions": _("Video resolutions"), "MediaAnalytics.getPlayers": _("Media players"),
    "MediaAnalytics.getCountries": _("Media audience per country"),
}


@dataclass(frozen=True)
class Category:
    title: str
    reports: tuple  # (report name, chart type or None): a chart where one reads better than a table
    summary: str | None = None  # a single-row report shown as cards above the tables


CATEGORIES = {
    "visitors": Category(_("Visitors"), (("VisitTime.getByDayOfWeek", "bar"),), summary="VisitsSummary.get"),
    "actions": Category(_("Actions"), tuple((name, None) for name in (
        "Actions.getPageUrls", "Actions.getPageTitles", "Actions.getEntryPageUrls", "Actions.getExitPageUrls",
        "Actions.getDownloads", "Actions.getOutlinks", "Actions.getSiteSearchKeywords",
        "Actions.getSiteSearchNoResultKeywords")), summary="Actions.get"),
    "referrers": Category(_("Referrers"), (
        ("Referrers.getReferrerType", "pie"), ("Referrers.getWebsites", None), ("Referrers.getSearchEngines", None),
        ("Referrers.getKeywords", None), ("Referrers.getCampaigns", None),
        ("Referrers.getKeywordsFromCampaignId", None), ("Referrers.getSocials", "pie"))),
    "devices": Category(_("Devices"), (
        ("DevicesDetection.getType", "pie"), ("DevicesDetection.getBrand", None), ("DevicesDetection.getModel", None),
        ("DevicesDetection.getOsFamilies", "pie"), ("DevicesDetection.getOsVersions", None),
        ("DevicesDetection.getBrowsers", "pie"), ("DevicesDetection.getBrowserVersions", None),
        ("Resolution.getResolution", None))),
    "locations": Category(_("Locations"), (("UserCountry.getCountry", "bar"), ("UserLanguage.getLanguage", None))),
    "events": Category(_("Events"), (("Events.getCategory", None), ("Events.getAction", None),
                                     ("Events.getName", None))),
    "goals": Category(_("Goals and ecommerce"), (("Goals.getGoals", None), ("Goals.getItemsSku", None),
                                                 ("Goals.getItemsName", None)), summary="Goals.get"),
    "times": Category(_("Visit times"), (("VisitTime.getVisitInformationPerServerTime", "bar"),
                                         ("VisitTime.getVisitInformationPerLocalTime", "bar"),
                                         ("VisitTime.getByDayOfWeek", "bar"))),
    "engagement": Category(_("Engagement"), (("VisitorInterest.getNumberOfVisitsPerVisitDuration", "bar"),
                                             ("VisitorInterest.getNumberOfVisitsPerPage", "bar")),
                           summary="VisitFrequency.get"),
}
OVERVIEW_REPORTS = (("Referrers.getReferrerType", "pie"), ("Actions.getPageUrls", None),
                    ("UserCountry.getCountry", "bar"), ("DevicesDetection.getType", "pie"))
# The Media section's reports (analytics.dashboard.media): videos, then audio.
MEDIA_REPORTS = (
    ("MediaAnalytics.getVideoResources", None), ("MediaAnalytics.getVideoTitles", None),
    ("MediaAnalytics.getGroupedVideoResources", None), ("MediaAnalytics.getVideoResolutions", None),
    ("MediaAnalytics.getVideoHours", "bar"),
    ("MediaAnalytics.getAudioResources", None), ("MediaAnalytics.getAudioTitles", None),
    ("MediaAnalytics.getGroupedAudioResources", None), ("MediaAnalytics.getAudioHours", "bar"),
    ("MediaAnalytics.getPlayers", "pie"),
)
# Rows of these reports lead to one media's page (its metrics over time and its drop-off curve).
MEDIA_ITEM_REPORTS = ("MediaAnalytics.getVideoResources", "MediaAnalytics.getAudioResources")
CHARTS = {name: chart for category in CATEGORIES.values() for name, chart in category.reports if chart} | {
    name: chart for name, chart in MEDIA_REPORTS if chart}

# The cards of each single-row report: (metric, how it reads). Sparklines only for VisitsSummary.get.
CARDS = {
    "VisitsSummary.get": ("nb_visits", "nb_uniq_visitors", "nb_actions", "nb_actions_per_visit", "avg_time_on_site",
                          "bounce_rate", "max_actions", "nb_users"),
    "Actions.get": ("nb_pageviews", "nb_uniq_pageviews", "nb_downloads", "nb_outlinks", "nb_searches",
                    "nb_keywords"),
    "Goals.get": ("nb_conversions", "nb_visits_converted", "conversion_rate", "revenue", "items"),
    "VisitFrequency.get": ("nb_visits_new", "nb_visits_returning", "bounce_rate_new", "bounce_rate_returning",
                           "avg_time_on_site_new", "avg_time_on_site_returning"),
    "MediaAnalytics.get": ("nb_plays", "nb_impressions", "nb_unique_visitors_plays", "play_rate", "finish_rate",
                           "sum_total_time_watched", "avg_time_watched", "avg_completion_rate",
                           "avg_time_to_initial_play", "fullscreen_rate", "impression_rate"),
}
CARD_TITLES = {
    "nb_pageviews": _("Pageviews"), "nb_uniq_pageviews": _("Unique pageviews"), "nb_downloads": _("Downloads"),
    "nb_outlinks": _("Outlinks"), "nb_searches": _("Site searches"), "nb_keywords": _("Unique keywords"),
    "items": _("Products sold"), "nb_visits_new": _("Visits by new visitors"),
    "nb_visits_returning": _("Visits by returning visitors"), "bounce_rate_new": _("Bounce rate (new)"),
    "bounce_rate_returning": _("Bounce rate (returning)"), "avg_time_on_site_new": _("Avg. duration (new)"),
    "avg_time_on_site_returning": _("Avg. duration (returning)"),
}
EVOLUTION_METRICS = CARDS["VisitsSummary.get"]
REALTIME_WINDOWS = (30, 60, 24 * 60)  # the minutes the real-time pages count over


@dataclass
class Card:
    metric: str
    title: str
    kind: str
    value: float | None  # None: not available for this period
    previous: float | None = None
    change: float | None = None
    spark: dict | None = None  # a chart config

    @property
    def spark_id(self) -> str:
        return f"spark-{self.metric}"


@dataclass
class Block:
    """One report on a page: its title, table, and a chart config when one reads better."""

    name: str
    title: str
    table: tables.Table
    chart: dict | None = None
    dom_id: str = field(init=False)

    def __post_init__(self):
        self.dom_id = "report-" + self.name.replace(".", "-")

    @property
    def chart_id(self) -> str:
        return f"chart-{self.dom_id}"


def site_is_empty() -> bool:
    """No visit ever recorded: pages show how to install the tracker instead of empty charts."""
    return not Visit.objects.exists()


def freshness():
    return service.freshness()


def title(name: str) -> str:
    return REPORT_TITLES.get(name, catalog.spec(name).dimension or name)


def display_label(name: str, label: str) -> str:
    """A row's label as a person reads it: countries and languages by name, goal 0 as orders; the k
    floor's "Other" row as it is."""
    if anonymity.is_other(label):
        return label
    if name in labels.NAMED:
        return labels.name(name, label)
    if name == "Goals.getGoals":
        return gettext("Ecommerce orders") if label == "0" else gettext("Goal %(id)s") % {"id": label}
    if name == "VisitTime.getByDayOfWeek":
        return gettext(label)  # Django's own catalog translates the day names
    if name.startswith("VisitTime.getVisitInformation") or name in ("MediaAnalytics.getVideoHours",
                                                                     "MediaAnalytics.getAudioHours"):
        return f"{label} h"
    if name == "VisitorInterest.getNumberOfVisitsPerVisitDuration":
        return _duration_bucket(label)
    if name == "VisitorInterest.getNumberOfVisitsPerPage":
        low, _dash, high = label.partition("-")
        count = int(high or low.rstrip("+"))
        return ngettext("%(n)s page", "%(n)s pages", count) % {"n": label.replace("-", "–")}
    return label


def _duration_bucket(label: str) -> str:
    """A visit-length bucket kept in seconds ("61-120", "1801+") as a person reads it ("1–2 min", "30+ min")."""
    low, _dash, high = label.partition("-")
    low = int(low.rstrip("+"))
    if high and int(high) <= 60:
        return f"{low}–{high} s"
    start = (low - 1) // 60 if low % 60 == 1 else low // 60
    return f"{start}–{int(high) // 60} min" if high else f"{start}+ min"


PERIOD_KINDS = (("day", _("Day")), ("week", _("Week")), ("month", _("Month")), ("year", _("Year")),
                ("range", _("Date range")))


def picker(choice: PeriodChoice, keep: dict) -> dict:
    """What the period picker shows: the kinds, the period in words, the ← → links (keeping `keep`)."""
    return {"period_kinds": PERIOD_KINDS, "period_text": period_label(choice.period),
            "previous_query": choice.shifted(-1).query(**keep), "next_query": choice.shifted(1).query(**keep)}


def period_label(period: Period) -> str:
    if period.kind == "day":
        return period.start.isoformat()
    if period.kind == "month":
        return period.start.strftime("%Y-%m")
    if period.kind == "year":
        return str(period.start.year)
    return f"{period.start} – {period.end}"


def period_row(choice: PeriodChoice, name: str, evolution: list[dict]) -> dict:
    """A single-row report for the chosen period: the evolution's last point already holds it,
    except for a range (its evolution is its days)."""
    return evolution[-1] if evolution and choice.kind != "range" else service.report(name, choice.period)


def summary_cards(choice: PeriodChoice, name: str = "VisitsSummary.get", *, with_sparklines: bool = False,
                  evolution: list[dict] | None = None, row: dict | None = None) -> list[Card]:
    """The cards of a single-row report for the chosen period (`row`, when read already), compared
    with the previous if asked."""
    row = row if row is not None else period_row(choice, name, evolution or [])
    before = service.report(name, choice.previous) if choice.compare else None
    spec = catalog.spec(name)
    titles = {**spec.metrics, **{r.name: r.title for r in spec.ratios}}
    cards = []
    for metric in CARDS[name]:
        # NB: a year has no unique-visitor counts (as in Matomo): those cards read "—", not 0
        card = Card(metric, CARD_TITLES.get(metric) or tables.COLUMN_TITLES.get(metric) or titles[metric],
                    _kind(metric), row.get(metric))
        if before is not None and card.value is not None:
            card.previous = before.get(metric) or 0
            card.change = tables.change(card.value, card.previous)
        if with_sparklines and evolution:
            card.spark = chart_config("sparkline", [""] * len(evolution),
                                      [point.get(metric) or 0 for point in evolution], str(card.title))
        cards.append(card)
    return cards


def _kind(metric: str) -> str:
    base = metric.removesuffix("_new").removesuffix("_returning")
    return tables.COLUMN_KINDS.get(base, "count")


def evolution(choice: PeriodChoice) -> tuple[list[Period], list[dict]]:
    """The visits summary of each period of the evolution graph, oldest first."""
    periods = service.affordable(choice.evolution())
    return periods, service.report_series("VisitsSummary.get", periods)


def evolution_chart(periods: list[Period], points: list[dict], metric: str) -> dict:
    label = str(tables.COLUMN_TITLES.get(metric, metric))
    return chart_config("line", [period_label(p) for p in periods], [p.get(metric) or 0 for p in points], label)


def chart_config(kind: str, names: list[str], values: list, label: str) -> dict:
    """What static/analytics/dashboard.js turns into a Chart.js chart (kept tiny: it is inlined as JSON)."""
    return {"type": kind, "labels": names, "values": values, "label": label}


def block(name: str, choice: PeriodChoice, *, chart: str | None = None, sort: str = "", order: str = "desc",
          limit=None, search: str = "") -> Block:
    """One report of the chosen period as a table (and chart), compared with the previous if asked."""
    rows = [{**row, "display": display_label(name, row["label"])} for row in service.report(name, choice.period)]
    if name in MEDIA_ITEM_REPORTS:
        segment = service.current_segment()
        rows = [{**row, "link": f"/media/item/?{choice.query(resource=row['label'], segment=segment)}"} for row in rows]
    previous_rows = service.report(name, choice.previous) if choice.compare else None
    if limit is None:
        limit = -1 if catalog.spec(name).order == "label" else tables.DEFAULT_LIMIT
    table = tables.table(name, rows, sort=sort, order=order, limit=limit, search=search, previous_rows=previous_rows)
    config = None
    if chart and table.rows:
        config = chart_config(chart, [row["display"] for row in table.rows],
                              [row.get(table.main.key) or 0 for row in table.rows], str(table.main.title))
    return Block(name, title(name), table, config)


def blocks(reports, choice: PeriodChoice, *, limit=None) -> list[Block]:
    return [block(name, choice, chart=chart, limit=limit) for name, chart in reports]
