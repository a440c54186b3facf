"""The segment dimensions, under Matomo's names: where each one's value is read, and how it compares.

Each dimension is an SQL expression over one of four row sources, aliased as in every query here:
`v` the visit, `a` its actions, `c` its conversions, `m` its media sessions. `rows` narrows a
row source to the rows the dimension describes (page views for pageUrl, orders for revenueOrder).
Text compares as Matomo's (MySQL's) default collation does, without regard to case; numbers as
numbers. A few dimensions are stored under another form than people write them (a country code for
countryName, a browser name for browserCode): `stored` maps each stored value to what a segment
names it, and the compiler turns a condition into the set of stored values that satisfy it.
This catalog is also what API.getSegmentsMetadata describes.
"""
import re
from dataclasses import dataclass
from functools import cache
from typing import Callable

from django.utils.translation import gettext_lazy as _

from analytics.reports.media import PLAY_SECONDS
from analytics.segments.grammar import SegmentError

VISIT, ACTION, CONVERSION, MEDIA = "visit", "action", "conversion", "media"
TABLES = {ACTION: "analytics_action", CONVERSION: "analytics_conversion", MEDIA: "analytics_mediaplay"}
ALIASES = {VISIT: "v", ACTION: "a", CONVERSION: "c", MEDIA: "m"}


@dataclass(frozen=True)
class Dimension:
    name: str
    category: str  # translated lazily, as the title: English in the API, the reader's language on the dashboard
    level: str
    sql: str
    number: bool = False
    rows: str | None = None  # which rows of its level it describes (an SQL condition)
    accepted: str = ""  # what values look like (API.getSegmentsMetadata's acceptedValues)
    stored: Callable[[], dict[str, str]] | None = None  # stored value (lower case) -> the value segments use
    title: str = ""

    @property
    def type(self) -> str:
        return "metric" if self.number else "dimension"


def _seconds(expression: str) -> str:
    return f"GREATEST(0, floor(extract(epoch FROM {expression})))"


@cache
def _browser_codes() -> dict[str, str]:
    from device_detector.parser.settings import BROWSER_TO_ABBREV
    return dict(BROWSER_TO_ABBREV)


@cache
def _os_codes() -> dict[str, str]:
    from device_detector.parser.settings import OPERATING_SYSTEMS
    return {name.lower(): code for code, name in OPERATING_SYSTEMS.items()}


@cache
def _country_names() -> dict[str, str]:
    from babel import Locale
    return {code.lower(): name for code, name in Locale("en").territories.items() if len(code) == 2 and code.isalpha()}


_PAGE, _EVENT, _CONTENT = "a.kind = 'pageview'", "a.kind = 'event'", "a.kind = 'content'"
_ORDER_EXISTS = "EXISTS (SELECT 1 FROM analytics_conversion o WHERE o.visit_id = v.id AND o.goal_id = 0)"
_RETURNING_CUSTOMER = ("EXISTS (SELECT 1 FROM analytics_visit pv JOIN analytics_conversion po ON po.visit_id = pv.id "
                       "AND po.goal_id = 0 WHERE pv.visitor_id = v.visitor_id AND pv.first_action_at < v.first_action_at)")
_VISIT, _DEVICE, _LOCATION, _REFERRER = _("Visit"), _("Devices"), _("Visit location"), _("Referrers")
DIMENSIONS = [
    Dimension("visitorType", _VISIT, VISIT,
              f"CASE WHEN NOT v.returning THEN 'new' WHEN {_RETURNING_CUSTOMER} THEN 'returningCustomer' "
              "ELSE 'returning' END", accepted="new, returning, returningCustomer", title=_("Visit type")),
    Dimension("visitCount", _VISIT, VISIT, "v.visit_count", number=True, accepted="any positive integer",
              title=_("Number of visits")),
    Dimension("visitDuration", _VISIT, VISIT, _seconds("v.last_action_at - v.first_action_at"), number=True,
              accepted="seconds", title=_("Visit duration (in seconds)")),
    Dimension("actions", _VISIT, VISIT, "v.actions", number=True, accepted="any positive integer",
              title=_("Number of actions")),
    Dimension("userId", _VISIT, VISIT, "v.user_id", title=_("User ID")),
    Dimension("visitorId", _VISIT, VISIT, "v.visitor_id", accepted="16 hexadecimal characters", title=_("Visitor ID")),
    Dimension("visitId", _VISIT, VISIT, "v.id", number=True, title=_("Visit ID")),
    Dimension("visitConverted", _VISIT, VISIT,
              "CASE WHEN EXISTS (SELECT 1 FROM analytics_conversion k WHERE k.visit_id = v.id) THEN 1 ELSE 0 END",
              number=True, accepted="0, 1", title=_("Visit converted")),
    Dimension("visitEcommerceStatus", _VISIT, VISIT, f"CASE WHEN {_ORDER_EXISTS} THEN 'ordered' ELSE 'none' END",
              accepted="none, ordered", title=_("Visit ecommerce status")),
    Dimension("daysSinceLastVisit", _VISIT, VISIT, "COALESCE(v.days_since_last_visit, 0)", number=True,
              title=_("Days since last visit")),
    Dimension("daysSinceFirstVisit", _VISIT, VISIT,
              "((v.first_action_at AT TIME ZONE {tz})::date - (SELECT min(f.first_action_at AT TIME ZONE {tz})::date "
              "FROM analytics_visit f WHERE f.visitor_id = v.visitor_id))", number=True, title=_("Days since first visit")),
    Dimension("visitServerHour", _VISIT, VISIT, "extract(hour FROM v.last_action_at AT TIME ZONE {tz})::int",
              number=True, accepted="0 to 23", title=_("Hour of the visit (site time)")),
    Dimension("visitLocalHour", _VISIT, VISIT, "extract(hour FROM v.local_time)::int", number=True,
              accepted="0 to 23", title=_("Hour of the visit (visitor's time)")),
    Dimension("visitStartServerDate", _VISIT, VISIT, "to_char(v.first_action_at AT TIME ZONE {tz}, 'YYYY-MM-DD')",
              accepted="YYYY-MM-DD", title=_("Date of the visit (site time)")),
    Dimension("deviceType", _DEVICE, VISIT, "v.device_type", accepted="desktop, smartphone, tablet, …",
              title=_("Device type")),
    Dimension("deviceBrand", _DEVICE, VISIT, "v.device_brand", title=_("Device brand")),
    Dimension("deviceModel", _DEVICE, VISIT, "v.device_model", title=_("Device model")),
    Dimension("browserCode", _DEVICE, VISIT, "lower(v.browser_name)", stored=_browser_codes,
              accepted="FF, CH, SF, …", title=_("Browser code")),
    Dimension("browserName", _DEVICE, VISIT, "v.browser_name", title=_("Browser")),
    Dimension("browserVersion", _DEVICE, VISIT, "v.browser_version", title=_("Browser version")),
    Dimension("operatingSystemCode", _DEVICE, VISIT, "lower(v.os_name)", stored=_os_codes,
              accepted="WIN, MAC, AND, …", title=_("Operating system code")),
    Dimension("operatingSystemName", _DEVICE, VISIT, "v.os_name", title=_("Operating system")),
    Dimension("resolution", _DEVICE, VISIT, "v.resolution", accepted="1280x1024, 800x600, …", title=_("Resolution")),
    Dimension("countryCode", _LOCATION, VISIT, "lower(v.country)", accepted="de, us, fr, in, es, …",
              title=_("Country code")),
    Dimension("countryName", _LOCATION, VISIT, "lower(v.country)", stored=_country_names,
              accepted="Germany, France, Spain, …", title=_("Country")),
    Dimension("languageCode", _LOCATION, VISIT,
              "lower(trim(split_part(split_part(split_part(v.language, ',', 1), ';', 1), '-', 1)))",
              accepted="de, fr, en, …", title=_("Browser language")),
    Dimension("referrerType", _REFERRER, VISIT, "v.referrer_type", accepted="direct, search, website, campaign, social",
              title=_("Channel type")),
    Dimension("referrerName", _REFERRER, VISIT, "v.referrer_name", title=_("Referrer name")),
    Dimension("referrerKeyword", _REFERRER, VISIT, "v.campaign_keyword", title=_("Keyword")),
    Dimension("referrerUrl", _REFERRER, VISIT, "v.referrer_url", title=_("Referrer URL")),
    Dimension("pageUrl", _("Behaviour"), ACTION, "a.url", rows=_PAGE, title=_("Page URL")),
    Dimension("pageTitle", _("Behaviour"), ACTION, "a.title", rows=_PAGE, title=_("Page title")),
    Dimension("entryPageUrl", _("Behaviour"), VISIT, "v.entry_url", title=_("Entry page URL")),
    Dimension("exitPageUrl", _("Behaviour"), VISIT, "v.exit_url", title=_("Exit page URL")),
    Dimension("downloadUrl", _("Behaviour"), ACTION, "a.url", rows="a.kind = 'download'", title=_("Download URL")),
    Dimension("outlinkUrl", _("Behaviour"), ACTION, "a.url", rows="a.kind = 'outlink'", title=_("Outlink URL")),
    Dimension("siteSearchKeyword", _("Behaviour"), ACTION, "a.search_keyword", rows="a.kind = 'search'",
              title=_("Site search keyword")),
    Dimension("eventCategory", _("Events"), ACTION, "a.event_category", rows=_EVENT, title=_("Event category")),
    Dimension("eventAction", _("Events"), ACTION, "a.event_action", rows=_EVENT, title=_("Event action")),
    Dimension("eventName", _("Events"), ACTION, "a.event_name", rows=_EVENT, title=_("Event name")),
    Dimension("eventValue", _("Events"), ACTION, "a.event_value", number=True, rows=_EVENT, title=_("Event value")),
    Dimension("contentName", _("Contents"), ACTION, "a.content_name", rows=_CONTENT, title=_("Content name")),
    Dimension("contentPiece", _("Contents"), ACTION, "a.content_piece", rows=_CONTENT, title=_("Content piece")),
    Dimension("visitConvertedGoalId", _("Goals"), CONVERSION, "c.goal_id", number=True, rows="c.goal_id > 0",
              title=_("Goal ID converted")),
    Dimension("revenueOrder", _("Ecommerce"), CONVERSION, "c.revenue", number=True, rows="c.goal_id = 0",
              title=_("Order revenue")),
    Dimension("media_title", _("Media"), MEDIA, "m.title", title=_("Media title")),
    Dimension("media_resource", _("Media"), MEDIA, "m.resource", title=_("Media resource URL")),
    Dimension("media_player", _("Media"), MEDIA, "m.player", title=_("Media player")),
    Dimension("media_spent_time", _("Media"), MEDIA, "m.watched_seconds", number=True, title=_("Time watched (seconds)")),
    Dimension("media_length", _("Media"), MEDIA, "m.length_seconds", number=True, title=_("Media length (seconds)")),
    Dimension("media_impression_type", _("Media"), MEDIA, "m.media_type", accepted="video, audio",
              title=_("Media type (impressions)")),
    Dimension("media_plays_type", _("Media"), MEDIA, "m.media_type", rows=f"m.watched_seconds > {PLAY_SECONDS}",
              accepted="video, audio", title=_("Media type (plays)")),
]
BY_NAME = {d.name: d for d in DIMENSIONS}
_CUSTOM = re.compile(r"dimension([1-9][0-9]{0,2})", re.ASCII)


def custom(index: int) -> Dimension:
    """`dimensionN`: the custom dimension N sent with the visit (`dimensionN=` on any of its hits)."""
    return Dimension(f"dimension{index}", _("Custom dimensions"), VISIT, f"(v.dimensions ->> '{index}')",
                     title=f"Custom dimension {index}")


def joined(level: str, join: str = "JOIN") -> str:
    """The clause joining a row source to the visit `v` under its alias."""
    alias = ALIASES[level]
    return f" {join} {TABLES[level]} {alias} ON {alias}.visit_id = v.id"


def require(name: str, position: int | None = None) -> Dimension:
    """The dimension of that name, or a SegmentError saying it is none (and where, in an expression)."""
    dimension = find(name)
    if dimension is None:
        where = "" if position is None else f" (at position {position})"
        raise SegmentError(f"The segment dimension “{name[:100]}”{where} is not supported; "
                           "API.getSegmentsMetadata lists them.")
    return dimension


def find(name: str) -> Dimension | None:
    if name in BY_NAME:
        return BY_NAME[name]
    if match := _CUSTOM.fullmatch(name):
        return custom(int(match.group(1)))
    return None
