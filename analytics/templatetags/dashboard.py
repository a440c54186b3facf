"""Template helpers of the site dashboard: its navigation, and numbers written the way they read."""
from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from analytics.dashboard.pages import CATEGORIES

register = template.Library()
ACTION_KINDS = {  # Matomo's Live API action types
    "action": gettext_lazy("page view"), "download": gettext_lazy("download"), "outlink": gettext_lazy("outlink"),
    "search": gettext_lazy("site search"), "event": gettext_lazy("event"), "content": gettext_lazy("content"),
    "media": gettext_lazy("media play"), "goal": gettext_lazy("conversion"), "ecommerceOrder": gettext_lazy("order"),
}


@register.inclusion_tag("site/_nav.html", takes_context=True)
def dashboard_nav(context):
    """The site's navigation (report categories, live pages, site pages), keeping the period choice
    and the segment applied (`query`, from the dashboard's pages)."""
    choice = context.get("choice")
    query = context.get("query") or (choice.query() if choice else "")
    return {"categories": CATEGORIES, "section": context.get("section"), "q": query,
            "is_site_admin": context.get("is_site_admin"),
            "sees_visitors": context.get("sees_visitors") is not False}  # the visitor log's view checks it anyway


@register.filter
def duration(seconds) -> str:
    """Seconds as "1 h 2 min", "3 min 5 s" or "12 s"."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(s)d s") % {"s": secs}


@register.filter
def metric(value, kind: str = "count") -> str:
    """A metric value as its column reads: counts grouped, percentages with %, durations, money;
    an em dash when the period has no such value (unique visitors of a year)."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{number_format(value, 1)} %"
    if kind == "seconds":
        return duration(value)
    if kind in ("money", "decimal"):
        return number_format(value, 2, force_grouping=True)
    return number_format(value, force_grouping=True)


@register.filter
def signed(change) -> str:
    """A change in percent with its sign (+12.5 %), or an em dash when there was nothing before."""
    if change is None:
        return "—"
    return f"{'+' if change > 0 else ''}{number_format(change, 1)} %"


@register.filter
def get(row: dict, key: str):
    """row[key] in a template, where the key is a variable (a report's column)."""
    return row.get(key)


@register.filter
def action_kind(kind: str) -> str:
    return ACTION_KINDS.get(kind, kind)


@register.filter
def device_parts(visit: dict) -> list[str]:
    """The known parts of a visit's device (type, system, browser, screen), unknown ones left out."""
    keys = ("deviceType", "operatingSystem", "browser", "resolution")
    return [visit[key] for key in keys if visit.get(key)]
