"""The archive tests' oracle: every report recomputed straight from the log rows, in plain Python.

Deliberately naive and separate from analytics.reports.definitions (no SQL, no shared helpers), so
that a mistake in the archiving SQL cannot be repeated here. Works on any set of site-local days,
so the same oracle checks days, weeks, months and ranges (unique visitors included).
"""
import re
from collections import defaultdict
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from analytics.models import Action, Conversion, MediaPlay, Visit

TYPES = {"direct": "Direct Entry", "search": "Search Engines", "website": "Websites", "campaign": "Campaigns",
         "social": "Social Networks"}
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DURATIONS = [(10, "0-10"), (30, "11-30"), (60, "31-60"), (120, "61-120"), (240, "121-240"), (420, "241-420"),
             (600, "421-600"), (900, "601-900"), (1800, "901-1800")]
PAGES = [(0, "0"), (1, "1"), (2, "2"), (3, "3"), (4, "4"), (5, "5"), (7, "6-7"), (10, "8-10"), (14, "11-14"),
         (20, "15-20"), (30, "21-30"), (50, "31-50")]
NUMERIC = re.compile(r"^\s*-?[0-9]+(\.[0-9]+)?\s*$")


def seconds(delta) -> int:
    return max(0, int(delta.total_seconds()))


def bucket(value, buckets, last):
    return next((label for upper, label in buckets if value <= upper), last)


def known(value, fallback="Unknown"):
    return value if value else fallback


def visit_dimensions(v, tz):
    """(report, parent, label) of one visit, for every visit dimension report."""
    local = v.first_action_at.astimezone(tz)
    keyword = known(v.campaign_keyword, "Keyword not defined")
    kind = v.referrer_type
    yield "Referrers.getReferrerType", None, TYPES.get(kind, kind)
    if kind == "website":
        yield "Referrers.getWebsites", None, v.referrer_name
    if kind == "search":
        yield "Referrers.getSearchEngines", None, v.referrer_name
        yield "Referrers.getKeywords", None, keyword
        yield "Referrers.getKeywordsFromSearchEngineId", v.referrer_name, keyword
    if kind == "campaign":
        yield "Referrers.getCampaigns", None, v.campaign_name
        yield "Referrers.getKeywordsFromCampaignId", v.campaign_name, keyword
    if kind == "social":
        yield "Referrers.getSocials", None, v.referrer_name
    yield "DevicesDetection.getType", None, known(v.device_type)
    yield "DevicesDetection.getBrand", None, known(v.device_brand)
    yield "DevicesDetection.getModel", None, f"{known(v.device_brand)} - {known(v.device_model)}"
    yield "DevicesDetection.getOsFamilies", None, known(v.os_name)
    yield "DevicesDetection.getOsVersions", None, known(f"{v.os_name} {v.os_version}".strip())
    yield "DevicesDetection.getBrowsers", None, known(v.browser_name)
    yield "DevicesDetection.getBrowserVersions", None, known(f"{v.browser_name} {v.browser_version}".strip())
    yield "Resolution.getResolution", None, known(v.resolution)
    yield "UserCountry.getCountry", None, known(v.country.lower(), "xx")
    yield "UserLanguage.getLanguage", None, known(v.language.split(",")[0].split(";")[0].split("-")[0].strip().lower(),
                                                  "xx")
    yield "VisitTime.getVisitInformationPerServerTime", None, str(local.hour)
    if v.local_time is not None:
        yield "VisitTime.getVisitInformationPerLocalTime", None, str(v.local_time.hour)
    yield "VisitTime.getByDayOfWeek", None, DAYS[local.weekday()]
    yield "VisitorInterest.getNumberOfVisitsPerVisitDuration", None, bucket(
        seconds(v.last_action_at - v.first_action_at), DURATIONS, "1801+")
    yield "VisitorInterest.getNumberOfVisitsPerPage", None, bucket(v.actions, PAGES, "51+")


def visit_metrics(visits, converted) -> dict:
    return {"nb_visits": len(visits), "nb_actions": sum(v.actions for v in visits),
            "max_actions": max((v.actions for v in visits), default=0),
            "sum_visit_length": sum(seconds(v.last_action_at - v.first_action_at) for v in visits),
            "bounce_count": sum(v.actions <= 1 for v in visits),
            "nb_visits_converted": sum(v.pk in converted for v in visits)}


def rows_of(groups: dict, metrics) -> dict:
    """{(report, parent, label): [items]} -> {report: {(parent, label): row}}."""
    out = defaultdict(dict)
    for (report, parent, label), items in groups.items():
        row = {"label": label, **metrics(items)}
        if parent is not None:
            row["parent"] = parent
        out[report][(parent, label)] = row
    return out


def _in(days, tz):
    return lambda at: at.astimezone(tz).date() in days


def visit_reports(days, tz, reports):
    inside = _in(days, tz)
    visits = [v for v in Visit.objects.all() if inside(v.first_action_at)]
    converted = set(Conversion.objects.values_list("visit_id", flat=True))
    groups = defaultdict(list)
    for v in visits:
        for key in visit_dimensions(v, tz):
            groups[key].append(v)
    reports.update(rows_of(groups, lambda items: visit_metrics(items, converted)))
    summary = visit_metrics(visits, converted)
    summary["nb_uniq_visitors"] = len({v.visitor_id for v in visits})
    summary["nb_users"] = len({v.user_id for v in visits if v.user_id})
    reports["VisitsSummary.get"] = {(None, None): summary}
    frequency = {}
    for who, returning in (("new", False), ("returning", True)):
        part = visit_metrics([v for v in visits if v.returning == returning], converted)
        frequency.update({f"{k}_{who}": n for k, n in part.items()})
    reports["VisitFrequency.get"] = {(None, None): frequency}
    return visits


def page_reports(days, tz, reports):
    inside = _in(days, tz)
    by_visit = defaultdict(list)
    for a in Action.objects.filter(kind="pageview").select_related("visit"):
        if inside(a.at):
            by_visit[a.visit_id].append(a)
    groups = defaultdict(list)
    for views in by_visit.values():
        views.sort(key=lambda a: (a.at, a.pk))
        for n, a in enumerate(views):
            end = views[n + 1].at if n + 1 < len(views) else a.visit.last_action_at
            item = (a, seconds(end - a.at), n == 0, n == len(views) - 1)
            groups[("Actions.getPageUrls", None, urlsplit(a.url).path or "/")].append(item)
            groups[("Actions.getPageTitles", None, a.title or "Page Name not defined")].append(item)

    def metrics(items):
        entries = [a.visit for a, _s, entry, _e in items if entry]
        return {"nb_hits": len(items), "nb_visits": len({a.visit_id for a, *_ in items}),
                "sum_time_spent": sum(s for _a, s, *_ in items), "entry_nb_visits": len(entries),
                "entry_nb_actions": sum(v.actions for v in entries),
                "entry_sum_visit_length": sum(seconds(v.last_action_at - v.first_action_at) for v in entries),
                "entry_bounce_count": sum(v.actions <= 1 for v in entries),
                "exit_nb_visits": sum(exit_ for *_x, exit_ in items)}

    reports.update(rows_of(groups, metrics))
    pages = reports.get("Actions.getPageUrls", {})
    reports["Actions.getEntryPageUrls"] = {k: r for k, r in pages.items() if r["entry_nb_visits"]}
    reports["Actions.getExitPageUrls"] = {k: r for k, r in pages.items() if r["exit_nb_visits"]}


def action_reports(days, tz, reports):
    inside = _in(days, tz)
    groups = defaultdict(list)
    for a in Action.objects.exclude(kind__in=["pageview", "content"]):
        if not inside(a.at):
            continue
        if a.kind == "download":
            groups[("Actions.getDownloads", None, a.url)].append(a)
        elif a.kind == "outlink":
            groups[("Actions.getOutlinks", None, a.url)].append(a)
        elif a.kind == "search":
            groups[("Actions.getSiteSearchKeywords", None, a.search_keyword)].append(a)
            if a.search_count == 0:
                groups[("Actions.getSiteSearchNoResultKeywords", None, a.search_keyword)].append(a)
        elif a.kind == "event":
            groups[("Events.getCategory", None, a.event_category)].append(a)
            groups[("Events.getAction", None, a.event_action)].append(a)
            groups[("Events.getName", None, a.event_name or "Event name not defined")].append(a)

    def metrics(items):
        values = [a.event_value for a in items if a.event_value is not None]
        if items[0].kind == "event":
            return {"nb_events": len(items), "nb_visits": len({a.visit_id for a in items}),
                    "sum_event_value": sum(values), "min_event_value": min(values, default=None),
                    "max_event_value": max(values, default=None), "nb_events_with_value": len(values)}
        return {"nb_hits": len(items), "nb_visits": len({a.visit_id for a in items})}

    reports.update(rows_of(groups, metrics))


def number(value, default):
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    return float(value) if isinstance(value, str) and NUMERIC.match(value) else default


def goal_reports(days, tz, reports, nb_visits):
    inside = _in(days, tz)
    conversions = [c for c in Conversion.objects.all() if inside(c.at)]

    def metrics(items):
        return {"nb_conversions": len(items), "nb_visits_converted": len({c.visit_id for c in items}),
                "revenue": sum(c.revenue for c in items),
                "items": sum(number(i[4] if len(i) > 4 else None, 1) for c in items for i in c.items),
                "revenue_subtotal": sum(c.subtotal or 0 for c in items), "revenue_tax": sum(c.tax or 0 for c in items),
                "revenue_shipping": sum(c.shipping or 0 for c in items),
                "revenue_discount": sum(c.discount or 0 for c in items), "nb_visits": nb_visits}

    reports["Goals.get"] = {(None, None): metrics(conversions)}
    by_goal = defaultdict(list)
    for c in conversions:
        by_goal[("Goals.getGoals", None, str(c.goal_id))].append(c)
    reports.update(rows_of(by_goal, metrics))
    lines = defaultdict(list)
    for c in conversions:
        for item in c.items if c.goal_id == 0 else []:
            price = number(item[3] if len(item) > 3 else None, 0)
            quantity = number(item[4] if len(item) > 4 else None, 1)
            if item[0] is not None:
                lines[("Goals.getItemsSku", None, str(item[0]))].append((c, price, quantity))
            if len(item) > 1 and item[1] is not None:
                lines[("Goals.getItemsName", None, str(item[1]))].append((c, price, quantity))
    reports.update(rows_of(lines, lambda items: {
        "revenue": sum(p * q for _c, p, q in items), "quantity": sum(q for *_x, q in items),
        "orders": len({c.pk for c, *_ in items}), "nb_visits": len({c.visit_id for c, *_ in items})}))


def _is_play(m) -> bool:
    return m.watched_seconds > 1


def media_metrics(sessions) -> dict:
    """Matomo's media rules, one session at a time (analytics.reports.media says them)."""
    plays = [m for m in sessions if _is_play(m)]
    with_length = [m for m in plays if m.length_seconds > 0]
    with_ttp = [m for m in plays if m.time_to_play_seconds is not None]
    return {
        "nb_impressions": len(sessions), "nb_plays": len(plays),
        "nb_finishes": sum(1 for m in plays if m.length_seconds > 2 and m.progress_seconds >= m.length_seconds - 2),
        "sum_total_time_watched": sum(m.watched_seconds for m in plays),
        "sum_completion": sum(min(m.progress_seconds / m.length_seconds, 1) for m in with_length),
        "nb_plays_with_length": len(with_length), "sum_media_length": sum(m.length_seconds for m in with_length),
        "sum_time_to_initial_play": sum(m.time_to_play_seconds for m in with_ttp),
        "nb_plays_with_time_to_initial_play": len(with_ttp),
        "nb_fullscreen_plays": sum(1 for m in plays if m.fullscreen),
    }


def drop_off(sessions) -> dict:
    """Per step of 5 %, the plays with a position p such that p <= step % of (length - 1) < p + 5."""
    measured = [m for m in sessions if _is_play(m) and m.length_seconds > 0 and m.segments
                and all(part.isdigit() for part in m.segments.split(","))]
    row = {"nb_plays_measured": len(measured)}
    for step in range(0, 101, 5):
        row[f"nb_plays_at_{step}"] = sum(1 for m in measured if any(
            int(p) * 100 <= step * max(m.length_seconds - 1, 1) < (int(p) + 5) * 100 for p in m.segments.split(",")))
    return row


def media_reports(days, tz, reports, nb_visits: int, *, with_uniques: bool):
    sessions = [m for m in MediaPlay.objects.select_related("visit") if m.first_at.astimezone(tz).date() in days]
    by_report = defaultdict(list)
    for m in sessions:
        kind = m.media_type.capitalize()
        resource = m.resource or "Unknown"
        by_report[(f"MediaAnalytics.get{kind}Resources", None, resource)].append(m)
        by_report[(f"MediaAnalytics.getGrouped{kind}Resources", None,
                   resource.split("?")[0].split("#")[0] or "Unknown")].append(m)
        by_report[(f"MediaAnalytics.get{kind}Titles", None, m.title or "Unknown")].append(m)
        by_report[(f"MediaAnalytics.get{kind}Hours", None, str(m.first_at.astimezone(tz).hour))].append(m)
        if m.media_type == "video":
            by_report[("MediaAnalytics.getVideoResolutions", None,
                       f"{m.width}x{m.height}" if m.width and m.height else "Unknown")].append(m)
        by_report[("MediaAnalytics.getPlayers", None, m.player or "Unknown")].append(m)
        by_report[("MediaAnalytics.getCountries", None, (m.visit.country or "xx").lower())].append(m)
    reports.update(rows_of(by_report, media_metrics))
    curves = defaultdict(list)
    for m in sessions:
        curves[("MediaAnalytics.getDropOff", None, m.resource or "Unknown")].append(m)
    reports.update({name: rows for name, rows in rows_of(curves, drop_off).items()})
    if "MediaAnalytics.getDropOff" in reports:  # media never played are not on the curves
        reports["MediaAnalytics.getDropOff"] = {k: r for k, r in reports["MediaAnalytics.getDropOff"].items()
                                                if r["nb_plays_measured"]}

    overview = {"nb_visits": nb_visits}
    for suffix, of_kind in (("", sessions), *((f"_{t}", [m for m in sessions if m.media_type == t])
                                              for t in ("video", "audio"))):
        overview.update({f"{k}{suffix}": v for k, v in media_metrics(of_kind).items()})
        overview[f"nb_visits_with_impressions{suffix}"] = len({m.visit_id for m in of_kind})
        if with_uniques:
            overview[f"nb_unique_visitors_impressions{suffix}"] = len({m.visit.visitor_id for m in of_kind})
            overview[f"nb_unique_visitors_plays{suffix}"] = len({m.visit.visitor_id for m in of_kind if _is_play(m)})
    reports["MediaAnalytics.get"] = {(None, None): overview}


def naive_reports(days: set, timezone: str, *, with_uniques: bool = True) -> dict[str, dict]:
    """report name -> {(parent, label): row} over the given site-local days; single-row reports keyed (None, None)."""
    tz, reports = ZoneInfo(timezone), {}
    visits = visit_reports(days, tz, reports)
    page_reports(days, tz, reports)
    action_reports(days, tz, reports)
    goal_reports(days, tz, reports, len(visits))
    media_reports(days, tz, reports, len(visits), with_uniques=with_uniques)

    actions = [a for a in Action.objects.all() if a.at.astimezone(tz).date() in days]

    def kind(name, key=lambda a: a.url):
        return [(a.visit_id, key(a)) for a in actions if a.kind == name]

    pages = kind("pageview", lambda a: urlsplit(a.url).path or "/")
    reports["Actions.get"] = {(None, None): {
        "nb_pageviews": len(pages), "nb_uniq_pageviews": len(set(pages)),
        "nb_downloads": len(kind("download")), "nb_uniq_downloads": len(set(kind("download"))),
        "nb_outlinks": len(kind("outlink")), "nb_uniq_outlinks": len(set(kind("outlink"))),
        "nb_searches": len(kind("search")),
        "nb_keywords": len({keyword for _v, keyword in kind("search", lambda a: a.search_keyword)})}}
    return reports
