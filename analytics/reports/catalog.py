"""The reports: Matomo's names, categories, dimensions and metrics, and the ratios derived from them.

Archives store only additive metrics (counts, sums, max_*, min_*); ratios such as bounce_rate are
recomputed from those whenever rows are read, so a week's rate is right by construction. This
catalog is also what API.getReportMetadata describes.
"""
import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from analytics.reports.errors import ReportError

VISIT_METRICS = {
    "nb_visits": "Visits", "nb_actions": "Actions", "max_actions": "Maximum actions in one visit",
    "sum_visit_length": "Total time spent by visitors (in seconds)", "bounce_count": "Bounces",
    "nb_visits_converted": "Visits converted",
}
HIT_METRICS = {"nb_hits": "Hits", "nb_visits": "Unique hits (visits)"}
EVENT_METRICS = {
    "nb_events": "Events", "nb_visits": "Visits", "sum_event_value": "Total event value",
    "min_event_value": "Minimum event value", "max_event_value": "Maximum event value",
    "nb_events_with_value": "Events with a value",
}
PAGE_METRICS = {
    "nb_hits": "Pageviews", "nb_visits": "Unique pageviews", "sum_time_spent": "Total time on page (in seconds)",
    "entry_nb_visits": "Entrances", "entry_nb_actions": "Actions in visits starting here",
    "entry_sum_visit_length": "Total length of visits starting here (in seconds)",
    "entry_bounce_count": "Bounces", "exit_nb_visits": "Exits",
}
GOAL_METRICS = {
    "nb_conversions": "Conversions", "nb_visits_converted": "Visits converted", "revenue": "Revenue",
    "items": "Products (quantity)", "revenue_subtotal": "Subtotal", "revenue_tax": "Tax",
    "revenue_shipping": "Shipping", "revenue_discount": "Discount", "nb_visits": "Visits",
}
ITEM_METRICS = {"revenue": "Product revenue", "quantity": "Quantity", "orders": "Unique purchases",
                "nb_visits": "Visits"}


@dataclass(frozen=True)
class Ratio:
    """A processed metric: round(numerator / denominator * scale, digits), 0 when the denominator is 0."""

    name: str
    numerator: str
    denominator: str
    title: str
    scale: int = 1
    digits: int = 0
    percent: int | None = None  # a rate: Matomo's API rounds its quotient to these digits (see `quotient`)

    def _divided(self, row: dict) -> float | None:
        denominator = row.get(self.denominator) or 0
        if not denominator or row.get(self.numerator) is None:
            return None
        return row[self.numerator] / denominator

    def value(self, row: dict) -> float | int:
        if (divided := self._divided(row)) is None:
            return 0 if self.digits == 0 else 0.0
        value = round(divided * self.scale, self.digits)
        return int(value) if self.digits == 0 else value

    def quotient(self, row: dict) -> float:
        """A rate as Matomo computes it for its API: numerator / denominator rounded to `percent`
        digits (0.42 for a bounce rate, 0.1234 for a conversion rate), 0 when nothing to divide.
        Halves round away from zero, as PHP's round() does (1 bounce in 8 visits: 0.13, not 0.12)."""
        if (divided := self._divided(row)) is None:
            return 0
        return float(Decimal(repr(divided)).quantize(Decimal(1).scaleb(-self.percent), rounding=ROUND_HALF_UP))


VISIT_RATIOS = (
    Ratio("nb_actions_per_visit", "nb_actions", "nb_visits", "Actions per visit", digits=1),
    Ratio("avg_time_on_site", "sum_visit_length", "nb_visits", "Avg. visit duration (in seconds)"),
    Ratio("bounce_rate", "bounce_count", "nb_visits", "Bounce rate (%)", scale=100, digits=1, percent=2),
)
PAGE_RATIOS = (
    Ratio("avg_time_on_page", "sum_time_spent", "nb_hits", "Avg. time on page (in seconds)"),
    Ratio("bounce_rate", "entry_bounce_count", "entry_nb_visits", "Bounce rate (%)", scale=100, digits=1, percent=2),
    Ratio("exit_rate", "exit_nb_visits", "nb_visits", "Exit rate (%)", scale=100, digits=1, percent=2),
)
EVENT_RATIOS = (Ratio("avg_event_value", "sum_event_value", "nb_events_with_value", "Avg. event value", digits=2),)
GOAL_RATIOS = (
    Ratio("conversion_rate", "nb_visits_converted", "nb_visits", "Conversion rate (%)", scale=100, digits=1,
          percent=4),
    Ratio("avg_order_revenue", "revenue", "nb_conversions", "Avg. order revenue", digits=2),
)
ITEM_RATIOS = (Ratio("avg_price", "revenue", "quantity", "Avg. price", digits=2),
               Ratio("avg_quantity", "quantity", "orders", "Avg. quantity", digits=1))

# Media sessions (one row per player per page view): an impression each; a play once more than
# PLAY_SECONDS were watched; a finish for a play of media longer than 2 s whose progress came
# within 2 s of its end (analytics.reports.media). `sum_completion` adds each play's progress /
# length (at most 1) over the plays of known length, so that its average is exact for any period.
MEDIA_METRICS = {
    "nb_plays": "Plays", "nb_impressions": "Impressions", "nb_finishes": "Finishes",
    "sum_total_time_watched": "Total time watched (in seconds)",
    "sum_completion": "Sum of completions (plays of known length)",
    "nb_plays_with_length": "Plays of known length", "sum_media_length": "Total media length (in seconds)",
    "sum_time_to_initial_play": "Total time to initial play (in seconds)",
    "nb_plays_with_time_to_initial_play": "Plays with a time to initial play",
    "nb_fullscreen_plays": "Plays in fullscreen",
}
MEDIA_RATIOS = (
    Ratio("play_rate", "nb_plays", "nb_impressions", "Play rate (%)", scale=100, digits=1, percent=4),
    Ratio("finish_rate", "nb_finishes", "nb_plays", "Finish rate (%)", scale=100, digits=1, percent=4),
    Ratio("avg_time_watched", "sum_total_time_watched", "nb_plays", "Avg. time watched (in seconds)"),
    Ratio("avg_completion_rate", "sum_completion", "nb_plays_with_length", "Avg. completion (%)", scale=100,
          digits=1, percent=4),
    Ratio("avg_media_length", "sum_media_length", "nb_plays_with_length", "Avg. media length (in seconds)"),
    Ratio("avg_time_to_initial_play", "sum_time_to_initial_play", "nb_plays_with_time_to_initial_play",
          "Avg. time to initial play (in seconds)", digits=1),
    Ratio("fullscreen_rate", "nb_fullscreen_plays", "nb_plays", "Fullscreen rate (%)", scale=100, digits=1,
          percent=4),
)
# MediaAnalytics.get: the metrics above for all media, then for video and audio alone (suffixed),
# with unique visitors (exact sets, as VisitsSummary's) and the share of visits with an impression.
MEDIA_TYPES = ("video", "audio")
_MEDIA_OVERVIEW_BASE = {
    **MEDIA_METRICS, "nb_unique_visitors_impressions": "Unique visitors with an impression",
    "nb_unique_visitors_plays": "Unique visitors who played",
    "nb_visits_with_impressions": "Visits with an impression",
}
_MEDIA_OVERVIEW_RATIOS = (*MEDIA_RATIOS, Ratio("impression_rate", "nb_visits_with_impressions", "nb_visits",
                                               "Impression rate (% of visits)", scale=100, digits=1, percent=4))
MEDIA_OVERVIEW_METRICS = {**_MEDIA_OVERVIEW_BASE, "nb_visits": "Visits",
                          **{f"{name}_{kind}": f"{title} ({kind})" for kind in MEDIA_TYPES
                             for name, title in _MEDIA_OVERVIEW_BASE.items()}}
MEDIA_OVERVIEW_RATIOS = (*_MEDIA_OVERVIEW_RATIOS, *(
    replace(r, name=f"{r.name}_{kind}", numerator=f"{r.numerator}_{kind}",
            denominator=r.denominator if r.denominator == "nb_visits" else f"{r.denominator}_{kind}",
            title=f"{r.title} ({kind})") for kind in MEDIA_TYPES for r in _MEDIA_OVERVIEW_RATIOS))
MEDIA_UNIQUE_COLUMNS = tuple(name for name in MEDIA_OVERVIEW_METRICS if name.startswith("nb_unique_visitors"))
# Where people stop watching: per media, how many measured plays (known length, positions sent)
# were playing at 0 %, 5 %, ... 100 % of its length.
DROP_OFF_STEPS = tuple(range(0, 101, 5))
DROP_OFF_METRICS = {"nb_plays_measured": "Plays with positions and a length",
                    **{f"nb_plays_at_{step}": f"Plays watching at {step} %" for step in DROP_OFF_STEPS}}


@dataclass(frozen=True)
class ReportSpec:
    """What a report is: its Matomo method name, where it sits, its row key and its metrics.

    `dimension` is None for single-row reports (VisitsSummary.get): those read as a dict.
    `order` is how rows are listed: "metric" (first metric, largest first) or "label" (the
    dimension's natural order: hours, days of the week, duration buckets).
    """

    name: str
    category: str
    dimension: str | None
    metrics: dict
    ratios: tuple = ()
    order: str = "metric"
    parent: str | None = None  # rows also carry this key (e.g. the campaign of a campaign keyword)
    defaults: dict = field(default_factory=dict)  # single-row reports: the row of an empty period

    @property
    def single_row(self) -> bool:
        return self.dimension is None

    def with_ratios(self, row: dict) -> dict:
        """The row in a stable column order (key, metrics, then ratios) with its ratios computed."""
        columns = [c for c in ("label", "parent", *self.metrics) if c in row]
        ordered_row = {c: row[c] for c in columns} | {c: v for c, v in row.items() if c not in columns}
        return ordered_row | {ratio.name: ratio.value(row) for ratio in self.ratios}

    def metadata(self) -> dict:
        """The report as API.getReportMetadata describes it."""
        module, _dot, action = self.name.partition(".")
        return {"category": self.category, "name": self.name, "module": module, "action": action,
                "dimension": self.dimension, "metrics": dict(self.metrics),
                "processedMetrics": {r.name: r.title for r in self.ratios}}


def _visits(name, category, dimension, **options) -> ReportSpec:
    return ReportSpec(name, category, dimension, VISIT_METRICS, VISIT_RATIOS, **options)


def _zeros(metrics: dict) -> dict:
    return dict.fromkeys(metrics, 0)


SUMMARY_METRICS = {**VISIT_METRICS, "nb_uniq_visitors": "Unique visitors", "nb_users": "Users"}
ACTIONS_METRICS = {
    "nb_pageviews": "Pageviews", "nb_uniq_pageviews": "Unique pageviews", "nb_downloads": "Downloads",
    "nb_uniq_downloads": "Unique downloads", "nb_outlinks": "Outlinks", "nb_uniq_outlinks": "Unique outlinks",
    "nb_searches": "Searches", "nb_keywords": "Unique keywords",
}
FREQUENCY_METRICS = {f"{name}_{who}": f"{title} ({who})" for who in ("new", "returning")
                     for name, title in VISIT_METRICS.items()}
FREQUENCY_RATIOS = tuple(replace(r, name=f"{r.name}_{who}", numerator=f"{r.numerator}_{who}",
                                 denominator=f"{r.denominator}_{who}", title=f"{r.title} ({who})")
                         for who in ("new", "returning") for r in VISIT_RATIOS)

REPORTS = [
    ReportSpec("VisitsSummary.get", "Visits", None, SUMMARY_METRICS, VISIT_RATIOS, defaults=_zeros(SUMMARY_METRICS)),
    ReportSpec("VisitFrequency.get", "Visits", None, FREQUENCY_METRICS, FREQUENCY_RATIOS,
               defaults=_zeros(FREQUENCY_METRICS)),
    ReportSpec("Actions.get", "Actions", None, ACTIONS_METRICS, defaults=_zeros(ACTIONS_METRICS)),
    ReportSpec("Actions.getPageUrls", "Actions", "Page URL", PAGE_METRICS, PAGE_RATIOS),
    ReportSpec("Actions.getPageTitles", "Actions", "Page title", PAGE_METRICS, PAGE_RATIOS),
    ReportSpec("Actions.getEntryPageUrls", "Actions", "Entry page URL", PAGE_METRICS, PAGE_RATIOS),
    ReportSpec("Actions.getExitPageUrls", "Actions", "Exit page URL", PAGE_METRICS, PAGE_RATIOS),
    ReportSpec("Actions.getDownloads", "Actions", "Download URL", HIT_METRICS),
    ReportSpec("Actions.getOutlinks", "Actions", "Outlink URL", HIT_METRICS),
    ReportSpec("Actions.getSiteSearchKeywords", "Actions", "Keyword (site search)", HIT_METRICS),
    ReportSpec("Actions.getSiteSearchNoResultKeywords", "Actions", "Keyword with no result", HIT_METRICS),
    _visits("Referrers.getReferrerType", "Referrers", "Channel type"),
    _visits("Referrers.getWebsites", "Referrers", "Website"),
    _visits("Referrers.getSearchEngines", "Referrers", "Search engine"),
    _visits("Referrers.getKeywords", "Referrers", "Keyword"),
    _visits("Referrers.getKeywordsFromSearchEngineId", "Referrers", "Keyword", parent="search_engine"),
    _visits("Referrers.getCampaigns", "Referrers", "Campaign name"),
    _visits("Referrers.getKeywordsFromCampaignId", "Referrers", "Campaign keyword", parent="campaign"),
    _visits("Referrers.getSocials", "Referrers", "Social network"),
    _visits("DevicesDetection.getType", "Devices", "Device type"),
    _visits("DevicesDetection.getBrand", "Devices", "Device brand"),
    _visits("DevicesDetection.getModel", "Devices", "Device model"),
    _visits("DevicesDetection.getOsFamilies", "Devices", "Operating system family"),
    _visits("DevicesDetection.getOsVersions", "Devices", "Operating system version"),
    _visits("DevicesDetection.getBrowsers", "Devices", "Browser"),
    _visits("DevicesDetection.getBrowserVersions", "Devices", "Browser version"),
    _visits("Resolution.getResolution", "Devices", "Screen resolution"),
    _visits("UserCountry.getCountry", "Locations", "Country"),
    _visits("UserLanguage.getLanguage", "Locations", "Browser language"),
    _visits("VisitTime.getVisitInformationPerServerTime", "Visit times", "Site hour", order="label"),
    _visits("VisitTime.getVisitInformationPerLocalTime", "Visit times", "Visitor's local hour", order="label"),
    _visits("VisitTime.getByDayOfWeek", "Visit times", "Day of the week", order="label"),
    _visits("VisitorInterest.getNumberOfVisitsPerVisitDuration", "Engagement", "Visit duration (seconds)",
            order="label"),
    _visits("VisitorInterest.getNumberOfVisitsPerPage", "Engagement", "Actions per visit", order="label"),
    ReportSpec("Events.getCategory", "Events", "Event category", EVENT_METRICS, EVENT_RATIOS),
    ReportSpec("Events.getAction", "Events", "Event action", EVENT_METRICS, EVENT_RATIOS),
    ReportSpec("Events.getName", "Events", "Event name", EVENT_METRICS, EVENT_RATIOS),
    ReportSpec("Goals.get", "Goals", None, GOAL_METRICS, GOAL_RATIOS, defaults=_zeros(GOAL_METRICS)),
    ReportSpec("Goals.getGoals", "Goals", "Goal id (0: ecommerce orders)", GOAL_METRICS, GOAL_RATIOS),
    ReportSpec("Goals.getItemsSku", "Goals", "Product SKU", ITEM_METRICS, ITEM_RATIOS),
    ReportSpec("Goals.getItemsName", "Goals", "Product name", ITEM_METRICS, ITEM_RATIOS),
    ReportSpec("MediaAnalytics.get", "Media", None, MEDIA_OVERVIEW_METRICS, MEDIA_OVERVIEW_RATIOS,
               defaults=_zeros(MEDIA_OVERVIEW_METRICS)),
    *(ReportSpec(f"MediaAnalytics.{name}", "Media", dimension, MEDIA_METRICS, MEDIA_RATIOS, order=order)
      for name, dimension, order in (
          ("getVideoResources", "Video resource URL", "metric"), ("getAudioResources", "Audio resource URL", "metric"),
          ("getGroupedVideoResources", "Video resource (without query)", "metric"),
          ("getGroupedAudioResources", "Audio resource (without query)", "metric"),
          ("getVideoTitles", "Video title", "metric"), ("getAudioTitles", "Audio title", "metric"),
          ("getVideoHours", "Site hour (video)", "label"), ("getAudioHours", "Site hour (audio)", "label"),
          ("getVideoResolutions", "Video resolution", "metric"), ("getPlayers", "Media player", "metric"),
          ("getCountries", "Country", "metric"))),
    ReportSpec("MediaAnalytics.getDropOff", "Media", "Media resource URL", DROP_OFF_METRICS),
]
BY_NAME = {spec.name: spec for spec in REPORTS}
# Reports read as a filter of another stored report rather than stored again: name -> (source, column).
VIEWS = {"Actions.getEntryPageUrls": ("Actions.getPageUrls", "entry_nb_visits"),
         "Actions.getExitPageUrls": ("Actions.getPageUrls", "exit_nb_visits")}
STORED = [spec.name for spec in REPORTS if spec.name not in VIEWS]
DAYS_OF_WEEK = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DURATION_BUCKETS = ((10, "0-10"), (30, "11-30"), (60, "31-60"), (120, "61-120"), (240, "121-240"),
                    (420, "241-420"), (600, "421-600"), (900, "601-900"), (1800, "901-1800"), (None, "1801+"))
PAGE_BUCKETS = ((0, "0"), (1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5"), (7, "6-7"), (10, "8-10"),
                (14, "11-14"), (20, "15-20"), (30, "21-30"), (50, "31-50"), (None, "51+"))


class UnknownReport(ReportError):
    """No report has this name; the message lists where to look."""


def spec(name: str) -> ReportSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise UnknownReport(f"no report is named “{name}”; see API.getReportMetadata for the list") from None


def ordered(spec_: ReportSpec, rows: list[dict]) -> list[dict]:
    """Rows in the report's listing order (ties broken by label, so the order is stable)."""
    if spec_.order == "label":  # hours and buckets by their leading number, days of the week Monday first
        def natural(row):
            label = row["label"]
            number = re.match(r"\d+", label)
            return (int(number.group()) if number else DAYS_OF_WEEK.index(label) if label in DAYS_OF_WEEK else 99,
                    label)
        return sorted(rows, key=natural)
    first = next(iter(spec_.metrics))
    return sorted(rows, key=lambda row: (-(row.get(first) or 0), row.get("parent") or "", row["label"]))
