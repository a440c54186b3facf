"""Real-time reads straight from the raw log tables: the visitor log, a visitor's profile, live counters.

Call inside the site's schema. Unlike the other reports these never touch the archives: they
show visits as they arrive. Visits and their details use Matomo's Live API field names
(idVisit, visitorId, actionDetails, ...) so the Reporting API can return them as they are and
the dashboard's real-time page, visitor log and visitor profile read the very same dicts.

    last_visits(limit=10, offset=0, min_timestamp=None, visitor_id=None) -> [visit, ...]  newest first
    visits_iter(limit=-1, ...)                                           -> visits, a chunk at a time
    visitor_profile("0123456789abcdef")                                  -> {...} or None
    counters(30)                                                         -> {"visits": 3, ...}
    media_counters(30) / most_played(30)                                 -> real-time media

Bounded as Matomo bounds them: a visit shows at most FARM_LIVE_MAX_ACTIONS_PER_VISIT actions
(visitor_log_maximum_actions_per_visit, 500), a profile sums at most FARM_LIVE_PROFILE_MAX_VISITS
visits (live_visitor_profile_max_visits_to_aggregate, 100), and long lists are read in chunks.
"""
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone as dj_timezone

from analytics.models import Action, Conversion, MediaPlay, Visit
from analytics.reports import labels, media
from analytics.reports.archive import site_timezone
from analytics.reports.definitions import REFERRER_TYPES
from analytics.segments import grammar, query

ACTION_TYPES = {Action.Kind.PAGEVIEW: "action", Action.Kind.DOWNLOAD: "download", Action.Kind.OUTLINK: "outlink",
                Action.Kind.SEARCH: "search", Action.Kind.EVENT: "event", Action.Kind.CONTENT: "content"}


CHUNK = 100  # visits read per round trip by visits_iter
# Actions detailed at once by visits_iter: a chunk of long visits is detailed a part at a time. 100
# visits at Live's 500 actions each, detailed together, held about 31 MB of Python objects at once
# in a web worker (the soak's first run, docs/reliability.md).
DETAILS_AT_ONCE = 5000


def last_visits(*, limit: int = 100, offset: int = 0, min_timestamp: int | None = None,
                visitor_id: str | None = None, between: tuple[datetime, datetime] | None = None,
                with_media: bool = False, segment: str | None = None) -> list[dict]:
    """The most recent visits (by last action, newest first), each with its actions in order.

    `min_timestamp` (Unix seconds) keeps visits whose last action is at or after it; `between`
    (start, end) those whose last action falls in [start, end), as Matomo's period and date do;
    `visitor_id` keeps one visitor's; `with_media` only visits that played media (the audience log);
    `segment` (a Matomo segment expression) only the visits it selects (raises SegmentError). `limit` < 0 means no limit: prefer visits_iter for long
    lists. Costs four queries per CHUNK visits.
    """
    return list(visits_iter(limit=limit, offset=offset, min_timestamp=min_timestamp, visitor_id=visitor_id,
                            between=between, with_media=with_media, segment=segment))


def visits_count(*, between: tuple[datetime, datetime], segment: str | None = None,
                 visitors: bool = False) -> int:
    """How many visits (whose last action falls in `between`) the segment selects: the visitor log's
    total; or how many distinct visitors made them."""
    visits = Visit.objects.filter(last_action_at__gte=between[0], last_action_at__lt=between[1])
    if parsed := grammar.parse(segment):
        visits = visits.filter(id__in=_segment_ids(parsed, between, None))
    return visits.values("visitor_id").distinct().count() if visitors else visits.count()


def _segment_ids(parsed, between, min_timestamp, visitor_id: str | None = None) -> RawSQL:
    """The ids of the visits a segment selects, among those that may end in the asked span: a visit
    never lasts past its day, so it started at most a day before the span (the bound lets the
    query read the span's visits, not the site's whole history); of one visitor when given."""
    start = end = None
    if between is not None:
        start, end = between[0] - timedelta(days=1), between[1]
    if min_timestamp is not None:
        since = datetime.fromtimestamp(min_timestamp, tz=ZoneInfo("UTC")) - timedelta(days=1)
        start = since if start is None else max(start, since)
    sql, params = query.visits_sql(parsed, timezone=site_timezone(), start=start, end=end, visitor_id=visitor_id)
    return RawSQL(sql, params)


def visits_iter(*, limit: int = -1, offset: int = 0, min_timestamp: int | None = None,
                visitor_id: str | None = None, between: tuple[datetime, datetime] | None = None,
                with_media: bool = False, segment: str | None = None) -> Iterator[dict]:
    """last_visits, read CHUNK visits at a time: memory holds one chunk whatever `limit` is.

    After the first chunk (which skips `offset`), each one starts below the last (last_action_at, id)
    seen, on the visit_last_action_idx index, so a deep list never re-reads the rows before it.
    """
    visits = Visit.objects.order_by("-last_action_at", "-id")
    if between is not None:
        visits = visits.filter(last_action_at__gte=between[0], last_action_at__lt=between[1])
    if min_timestamp is not None:
        visits = visits.filter(last_action_at__gte=datetime.fromtimestamp(min_timestamp, tz=ZoneInfo("UTC")))
    if visitor_id is not None:
        visits = visits.filter(visitor_id=visitor_id)
    if parsed := grammar.parse(segment):
        visits = visits.filter(id__in=_segment_ids(parsed, between, min_timestamp, visitor_id))
    if with_media:  # the audience log: visits that played media
        visits = visits.filter(Exists(MediaPlay.objects.filter(visit_id=OuterRef("id"),
                                                               watched_seconds__gt=media.PLAY_SECONDS)))
    left, after = (None if limit < 0 else limit), None
    while left is None or left > 0:
        size = CHUNK if left is None else min(CHUNK, left)
        if after is None:
            chunk = list(visits[offset:offset + size])
        else:
            chunk = list(visits.filter(Q(last_action_at__lt=after.last_action_at)
                                       | Q(last_action_at=after.last_action_at, id__lt=after.pk))[:size])
        for part in _parts(chunk):
            yield from _with_details(part)
        if len(chunk) < size:
            return
        after, left = chunk[-1], (None if left is None else left - len(chunk))


def visitor_profile(visitor_id: str, *, segment: str | None = None) -> dict | None:
    """One visitor's most recent visits (newest first, at most FARM_LIVE_PROFILE_MAX_VISITS) with
    Matomo's profile totals over them; None for an unknown visitor. With a segment, only the
    visitor's visits it selects, as Matomo's profile (None when it selects none).

    As Matomo: `visitsAggregated` says how many visits the totals cover, `hasMoreVisits` whether
    older ones were left out, and `firstVisit` is the visitor's true first visit even then.
    """
    most = settings.FARM_LIVE_PROFILE_MAX_VISITS
    visits = last_visits(limit=most, visitor_id=visitor_id, segment=segment)
    if not visits:
        return None
    theirs = Visit.objects.filter(visitor_id=visitor_id)
    if parsed := grammar.parse(segment):
        theirs = theirs.filter(id__in=_segment_ids(parsed, None, None, visitor_id))
    more = theirs.order_by("-last_action_at", "-id")[most:most + 1].exists()
    details = [a for visit in visits for a in visit["actionDetails"]]
    first = _with_details([theirs.order_by("first_action_at", "id").first()])[0] if more else visits[-1]
    last = visits[0]
    return {
        "visitorId": visitor_id, "userId": last["userId"],
        "totalVisits": len(visits), "totalVisitDuration": sum(v["visitDuration"] for v in visits),
        "totalActions": sum(v["actions"] for v in visits),
        "totalPageViews": _count(details, "action"), "totalSearches": _count(details, "search"),
        "totalEvents": _count(details, "event"), "totalDownloads": _count(details, "download"),
        "totalOutlinks": _count(details, "outlink"),
        "totalGoalConversions": _count(details, "goal"), "totalEcommerceConversions": _count(details, "ecommerceOrder"),
        "totalConversions": _count(details, "goal") + _count(details, "ecommerceOrder"),
        "totalEcommerceRevenue": round(sum(a["revenue"] for a in details if a["type"] == "ecommerceOrder"), 2),
        "firstVisit": _visit_summary(first), "lastVisit": _visit_summary(last),
        "visitsAggregated": len(visits), "hasMoreVisits": int(more),
        "lastVisits": visits,
    }


def counters(last_minutes: int, *, now: datetime | None = None, segment: str | None = None) -> dict:
    """Visits, actions, distinct visitors and converted visits active in the last `last_minutes` minutes.

    As Matomo's Live.getCounters: a visit counts when its last action falls in the window, an
    action when it happened in the window; with a segment, only the visits it selects and theirs.
    """
    since = (now or dj_timezone.now()) - timedelta(minutes=last_minutes)
    visits, actions = Visit.objects.filter(last_action_at__gte=since), Action.objects.filter(at__gte=since)
    if parsed := grammar.parse(segment):
        ids = _segment_ids(parsed, None, int(since.timestamp()))
        visits, actions = visits.filter(id__in=ids), actions.filter(visit_id__in=ids)
    totals = visits.aggregate(visits=Count("id"), visitors=Count("visitor_id", distinct=True))
    return {"visits": totals["visits"], "actions": actions.count(), "visitors": totals["visitors"],
            "visitsConverted": visits.filter(conversions__isnull=False).distinct().count()}


def _recent_plays(last_minutes: int, now: datetime | None, segment: str | None = None):
    """Media sessions played (analytics.reports.media's rule) with a ping in the last minutes, each with
    `in_window`: the seconds it watched in those minutes — what it watched up to its last ping, at most
    the time from the window's start to that ping: a two-hour film pinged a minute ago does not add
    two hours to the last 30 minutes. A session never outlives its visit, which never crosses midnight:
    its first ping is at most a day older, which lets the first_at index narrow the scan."""
    since = (now or dj_timezone.now()) - timedelta(minutes=last_minutes)
    plays = MediaPlay.objects.filter(
        first_at__gte=since - timedelta(days=1), last_at__gte=since, watched_seconds__gt=media.PLAY_SECONDS)
    if parsed := grammar.parse(segment):  # the visits of those plays may have started a day earlier
        plays = plays.filter(visit_id__in=_segment_ids(parsed, None, int(since.timestamp())))
    return plays.annotate(in_window=RawSQL("LEAST(watched_seconds, floor(extract(epoch FROM last_at - %s)))::bigint",
                                           [since]))


def has_media() -> bool:
    """Whether the site ever recorded a media session (MediaAnalytics.hasRecords)."""
    return MediaPlay.objects.exists()


def media_counters(last_minutes: int, *, now: datetime | None = None, segment: str | None = None) -> dict:
    """Plays active in the last `last_minutes` minutes and the seconds they watched in them
    (MediaAnalytics.getCurrentNumPlays and getCurrentSumTimeSpent), of the segment's visits if given."""
    totals = _recent_plays(last_minutes, now, segment).aggregate(plays=Count("id"), watched=Sum("in_window"))
    return {"plays": totals["plays"], "time_spent": int(totals["watched"] or 0)}  # sum(bigint) is a numeric


def most_played(last_minutes: int, *, limit: int = 10, now: datetime | None = None, segment: str | None = None,
                k: int | None = None) -> list[dict]:
    """The media played most in the last minutes, each with its plays and the seconds watched in them
    (MediaAnalytics.getCurrentMostPlays), of the segment's visits if given. With `k`, each row also
    has its distinct viewers (`_k`, and their ids `_ids` when under k) for the k-anonymity floor
    (anonymity.floor), which then reads every row: `limit` applies after it."""
    rows = (_recent_plays(last_minutes, now, segment).values("resource", "media_type")
            .annotate(nb_plays=Count("id"), sum_total_time_watched=Sum("in_window"), title=Max("title"),
                      **({"viewers": ArrayAgg("visit__visitor_id", distinct=True)} if k else {}))
            .order_by("-nb_plays", "-sum_total_time_watched", "resource"))
    out = []
    for row in (rows if k else rows[:limit]):
        out.append({"label": row["title"] or row["resource"] or media.UNKNOWN, "resource": row["resource"],
                    "media_type": row["media_type"], "nb_plays": row["nb_plays"],
                    "sum_total_time_watched": int(row["sum_total_time_watched"] or 0)})
        if k:
            out[-1].update({"_k": len(row["viewers"]), **({"_ids": row["viewers"]} if len(row["viewers"]) < k else {})})
    return out


def _count(details: list[dict], kind: str) -> int:
    return sum(1 for a in details if a["type"] == kind)


def _visit_summary(visit: dict) -> dict:
    return {"date": visit["serverDate"], "timestamp": visit["firstActionTimestamp"],
            "referrerType": visit["referrerType"], "referrerName": visit["referrerName"]}


def _with_details(visits: list[Visit]) -> list[dict]:
    """Each visit as Matomo's Live API row, its actions, media plays and conversions merged by time."""
    if not visits:
        return []
    ids, most = [visit.pk for visit in visits], settings.FARM_LIVE_MAX_ACTIONS_PER_VISIT
    details = defaultdict(list)
    for action in _first_of_each_visit(Action.objects.filter(visit_id__in=ids), "at", most):
        details[action.visit_id].append((action.at, 0, _action(action)))
    for play in _first_of_each_visit(MediaPlay.objects.filter(visit_id__in=ids), "first_at", most):
        details[play.visit_id].append((play.first_at, 1, _media(play)))
    for conversion in _first_of_each_visit(Conversion.objects.filter(visit_id__in=ids), "at", most):
        details[conversion.visit_id].append((conversion.at, 2, _conversion(conversion)))
    tz = ZoneInfo(site_timezone())
    return [_visit(visit, [d for _at, _order, d in sorted(details[visit.pk], key=lambda t: t[:2])][:most], tz)
            for visit in visits]


def _parts(visits: list[Visit]) -> Iterator[list[Visit]]:
    """The visits in a row, cut where their actions (as many as Live shows of each) would exceed
    DETAILS_AT_ONCE; a part holds one visit at least."""
    most, part, actions = settings.FARM_LIVE_MAX_ACTIONS_PER_VISIT, [], 0
    for visit in visits:
        shown = min(visit.actions, most)
        if part and actions + shown > DETAILS_AT_ONCE:
            yield part
            part, actions = [], 0
        part.append(visit)
        actions += shown
    if part:
        yield part


def _first_of_each_visit(rows, at: str, most: int):
    """The first `most` rows of each visit, in time order: a bot's visit of 100 000 hits shows its
    first ones, as Matomo's visitor log does, instead of filling the worker's memory."""
    rank = Window(RowNumber(), partition_by=[F("visit_id")], order_by=[F(at).asc(), F("id").asc()])
    return rows.annotate(rank=rank).filter(rank__lte=most).order_by(at, "id")


def _visit(visit: Visit, actions: list[dict], tz: ZoneInfo) -> dict:
    local_first = visit.first_action_at.astimezone(tz)
    converted = [a for a in actions if a["type"] in ("goal", "ecommerceOrder")]
    language = visit.language.split(",")[0].split(";")[0].strip().lower()
    return {
        "idVisit": visit.pk, "visitorId": visit.visitor_id, "userId": visit.user_id or None,
        "visitorType": "returning" if visit.returning else "new", "visitCount": visit.visit_count,
        "daysSinceLastVisit": visit.days_since_last_visit,
        "visitConverted": int(bool(converted)), "goalConversions": len(converted),
        "serverDate": local_first.date().isoformat(), "visitServerHour": str(local_first.hour),
        "serverTimestamp": int(visit.last_action_at.timestamp()),
        "firstActionTimestamp": int(visit.first_action_at.timestamp()),
        "lastActionTimestamp": int(visit.last_action_at.timestamp()),
        "lastActionDateTime": visit.last_action_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"),
        "visitLocalTime": visit.local_time.strftime("%H:%M:%S") if visit.local_time else None,
        "visitDuration": visit.duration_seconds, "actions": visit.actions,
        "entryPageUrl": visit.entry_url, "exitPageUrl": visit.exit_url,
        "referrerType": visit.referrer_type, "referrerTypeName": REFERRER_TYPES.get(visit.referrer_type, ""),
        "referrerName": visit.referrer_name, "referrerKeyword": visit.campaign_keyword,
        "referrerUrl": visit.referrer_url, "campaignName": visit.campaign_name,
        "campaignKeyword": visit.campaign_keyword,
        "deviceType": visit.device_type, "deviceBrand": visit.device_brand, "deviceModel": visit.device_model,
        "operatingSystemName": visit.os_name, "operatingSystemVersion": visit.os_version,
        "operatingSystem": f"{visit.os_name} {visit.os_version}".strip(),
        "browserName": visit.browser_name, "browserVersion": visit.browser_version,
        "browser": f"{visit.browser_name} {visit.browser_version}".strip(),
        "resolution": visit.resolution, "languageCode": language,
        "language": labels.language_name(language.split("-")[0]) if language else "",
        "countryCode": visit.country.lower(), "country": labels.country_name(visit.country) if visit.country else "",
        "visitIp": visit.ip, "dimensions": visit.dimensions,
        "actionDetails": actions,
    }


def _action(action: Action) -> dict:
    row = {"type": ACTION_TYPES[action.kind], "url": action.url, "timestamp": int(action.at.timestamp()),
           "idpageview": action.pv_id}
    if action.kind == Action.Kind.PAGEVIEW:
        row.update(pageTitle=action.title, generationTimeMilliseconds=action.generation_ms)
    elif action.kind == Action.Kind.EVENT:
        row.update(eventCategory=action.event_category, eventAction=action.event_action,
                   eventName=action.event_name, eventValue=action.event_value)
    elif action.kind == Action.Kind.SEARCH:
        row.update(siteSearchKeyword=action.search_keyword, siteSearchCategory=action.search_category,
                   siteSearchCount=action.search_count)
    elif action.kind == Action.Kind.CONTENT:
        row.update(contentName=action.content_name, contentPiece=action.content_piece,
                   contentTarget=action.content_target, contentInteraction=action.content_interaction)
    return row


def _media(play: MediaPlay) -> dict:
    return {"type": "media", "url": play.resource, "timestamp": int(play.first_at.timestamp()),
            "idpageview": play.pv_id, "mediaId": play.media_id, "mediaType": play.media_type,
            "mediaTitle": play.title, "mediaPlayer": play.player, "mediaLength": play.length_seconds,
            "watchedTime": play.watched_seconds, "mediaProgress": play.progress_seconds,
            "fullscreen": play.fullscreen}


def _conversion(conversion: Conversion) -> dict:
    row = {"type": "ecommerceOrder" if conversion.goal_id == 0 else "goal", "url": conversion.url,
           "timestamp": int(conversion.at.timestamp()), "goalId": conversion.goal_id, "revenue": conversion.revenue}
    if conversion.goal_id == 0:
        row.update(orderId=conversion.order_id, items=len(conversion.items), itemDetails=conversion.items,
                   revenueSubTotal=conversion.subtotal, revenueTax=conversion.tax,
                   revenueShipping=conversion.shipping, revenueDiscount=conversion.discount)
    return row
