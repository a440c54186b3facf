"""Ingest: turn one site's raw hits into visits, actions, conversions and media plays.

Runs inside the site's schema, one transaction per batch. Hits from bots are dropped unless they
carry bots=1; visits get device, OS, browser (refined by client hints; analytics.tracking.enrich)
and the country the door found; visitors without an id, Matomo's config hash of the door's
address digest (analytics.tracking.visitors). Hits are processed in time order; sessionization
follows Matomo: a new visit after FARM_VISIT_TIMEOUT_MINUTES (30) of inactivity, at midnight in
the site's timezone, on new_visit=1, or when the campaign changes. A hit whose id was already
stored is skipped, so a replayed batch (worker died before acknowledging) adds nothing. Rows are
plain dataclasses written with binary COPY (analytics.tracking.store): the ORM's per-value work
was most of ingest's time.
"""
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from datetime import time as dt_time
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address
from operator import attrgetter
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from analytics.models import Action, Conversion, MediaPlay
from analytics.tracking import agents, enrich, store, visitors
from analytics.tracking.media import positions_union
from analytics.tracking.params import parse_request
from analytics.tracking.store import ActionRow, ConversionRow, VisitRow
from instances.privacy import ORDER_ID_DROPPED, excluded_parameters, referrer_anonymised, url_stripped
from farm.conf import farm_setting


@dataclass(slots=True)
class Hit:
    """A queued hit, validated again (the queue is not trusted) and ready to sessionize."""

    id: str  # canonical UUID text
    at: datetime
    entry: dict
    params: dict
    user_agent: str
    device: dict  # device-detector's reading of the user agent and client hints (agents.devices)


def _timeout() -> timedelta:
    return timedelta(minutes=farm_setting("FARM_VISIT_TIMEOUT_MINUTES"))


def hit_time(entry: dict, params: dict) -> datetime:
    """When the hit happened: the tracker's cdt (validated, privileged) or when it was accepted."""
    return params.get("cdt") or datetime.fromtimestamp(entry["at"], tz=timezone.utc)


def _kind(params: dict) -> str | None:
    if params.get("ping"):
        return "ping"
    if "ma_id" in params:
        return "media"
    if params.get("idgoal") == 0 and not params.get("ec_id"):
        return "cart"  # a cart update, not an order (Matomo: abandoned carts); it only keeps the visit alive
    if "idgoal" in params:
        return "conversion"
    if "link" in params:
        return Action.Kind.OUTLINK
    if "download" in params:
        return Action.Kind.DOWNLOAD
    if "search" in params:
        return Action.Kind.SEARCH
    if "e_c" in params and "e_a" in params:
        return Action.Kind.EVENT
    if "c_n" in params:
        return Action.Kind.CONTENT
    return Action.Kind.PAGEVIEW


def _local_time(params: dict) -> dt_time | None:
    """The visitor's own clock (h, m, s from the tracker), for the "visits per local time" report."""
    return dt_time(params["h"], params.get("m", 0), params.get("s", 0)) if "h" in params else None


class _Session:
    """The batch's view of each visitor's current visit (loaded once, saved once)."""

    def __init__(self, cursor, tz: ZoneInfo, own_hosts: set[str], instance=None):
        self.cursor, self.tz, self.own_hosts = cursor, tz, own_hosts
        # What the site keeps of a referrer URL once its type, name and keyword are read (instances.privacy)
        self.referrer_level = instance.referrer_anonymisation if instance is not None else "none"
        self.referrer_names = excluded_parameters(instance.excluded_query_parameters if instance is not None else "")
        self.timeout = _timeout()  # NB: read once per batch: a settings lookup per hit cost 3 µs
        self.current: dict[str, VisitRow] = {}
        self.new: list[VisitRow] = []  # opened by this batch: inserted together at the end
        self.touched: dict[int, VisitRow] = {}  # existing visits changed by this batch

    def load(self, visitor_ids: set[str]):
        self.current = store.visits_latest(self.cursor, visitor_ids)

    def _needs_new_visit(self, visit: VisitRow | None, params: dict, at: datetime, campaign_name: str) -> bool:
        if visit is None or params.get("new_visit"):
            return True
        if at - visit.last_action_at > self.timeout:
            return True
        if at.astimezone(self.tz).date() != visit.last_action_at.astimezone(self.tz).date():
            return True
        return bool(campaign_name) and campaign_name.lower() != visit.campaign_name.lower()

    def visitor_of(self, hit: Hit) -> str:
        entry = hit.entry
        # The door's digest of the full address (entries queued before it existed: the masked one).
        return visitors.visitor_id(hit.params, config=lambda: visitors.config_hash(
            hit.params, device=hit.device, address=entry.get("ipd") or entry.get("ip") or "",
            lang=entry.get("lang", "")))

    def visit_for(self, vid: str, hit: Hit, *, may_start: bool = True) -> VisitRow | None:
        """Visitor `vid`'s visit for this hit; a new one when Matomo's rules say so (and may_start allows)."""
        visit = self.current.get(vid)
        params, at = hit.params, hit.at
        name, keyword = visitors.campaign(params)
        if not self._needs_new_visit(visit, params, at, name):
            return visit
        if not may_start:
            return None
        ref_type, ref_name, ref_keyword = ("campaign", name, keyword) if name else \
            visitors.referrer(params.get("urlref", ""), self.own_hosts)
        previous_visit_at = visit.last_action_at if visit else (
            min(at, datetime.fromtimestamp(params["_viewts"], tz=timezone.utc)) if params.get("_viewts") else None)
        new = VisitRow(
            visitor_id=vid, user_id=params.get("uid", ""), first_action_at=at, last_action_at=at, actions=0,
            referrer_url=referrer_anonymised(url_stripped(params.get("urlref", ""), self.referrer_names),
                                             self.referrer_level),
            referrer_type=ref_type, referrer_name=ref_name,
            campaign_name=name, campaign_keyword=keyword or (ref_keyword if ref_type == "search" else ""),
            returning=visit is not None or params.get("_idvc", 1) > 1,
            visit_count=max(params.get("_idvc", 1), (visit.visit_count + 1) if visit else 1),
            days_since_last_visit=max(0, (at - previous_visit_at).days) if previous_visit_at else None,
            local_time=_local_time(params), resolution=params.get("res", ""),
            language=params.get("lang", hit.entry.get("lang", ""))[:255], user_agent=hit.user_agent,
            ip=_address(hit.entry.get("ip")), country=_country(hit.entry),
            **{field: hit.device[field] for field in enrich.DEVICE_FIELDS}, dimensions=_dimensions(params),
        )
        self.current[vid] = new
        self.new.append(new)
        return new

    def touch(self, visit: VisitRow, at: datetime, *, action_url: str | None = None, counts: bool = True):
        visit.last_action_at = max(visit.last_action_at, at)
        if counts:
            visit.actions += 1
        if action_url:
            visit.entry_url = visit.entry_url or action_url
            visit.exit_url = action_url
        if visit.id is not None:
            self.touched[visit.id] = visit

    def save(self):
        store.visits_save(self.cursor, self.new, list(self.touched.values()))
        # The days whose visits this batch lengthened (a heartbeat, a media play's progress): new
        # rows tell the archiver which days changed, an update does not. Today's too: a site with
        # nothing new since its last run is not archived again (archive.archive_run).
        if days := {visit.first_action_at.astimezone(self.tz).date() for visit in self.touched.values()}:
            store.days_invalidate(self.cursor, days)


def _country(entry: dict) -> str:
    """The country the door found (from the full address, or the masked one if the site says so);
    entries queued before the door did it are looked up from their masked address."""
    return entry["cc"] if "cc" in entry else enrich.country(entry.get("ip"))


def _dimensions(params: dict) -> dict:
    return {str(k): v for k, v in params["dimensions"].items()} if "dimensions" in params else {}


@lru_cache(maxsize=100_000)
def _address(ip: str | None) -> IPv4Address | IPv6Address | None:
    """The (already masked) IP as binary COPY wants it; raises on a hand-made entry's bad address."""
    return ip_address(ip) if ip else None


def _action(hit: Hit, visit: VisitRow, kind: str) -> ActionRow:
    params = hit.params
    return ActionRow(
        hit_id=uuid.UUID(hit.id), visit=visit, kind=kind, at=hit.at,
        url=params.get("link") or params.get("download") or params.get("url", ""),
        title=params.get("action_name", "")[:1024], pv_id=params.get("pv_id", ""),
        event_category=params.get("e_c", ""), event_action=params.get("e_a", ""), event_name=params.get("e_n", ""),
        event_value=params.get("e_v"), search_keyword=params.get("search", ""),
        search_category=params.get("search_cat", ""), search_count=params.get("search_count"),
        content_name=params.get("c_n", ""), content_piece=params.get("c_p", ""), content_target=params.get("c_t", ""),
        content_interaction=params.get("c_i", ""), generation_ms=params.get("pf_srv"), dimensions=_dimensions(params),
    )


def _conversion(hit: Hit, visit: VisitRow) -> ConversionRow:
    params = hit.params
    return ConversionRow(
        hit_id=uuid.UUID(hit.id), visit=visit, at=hit.at, goal_id=params["idgoal"],
        revenue=params.get("revenue", params.get("ec_st", 0.0)), order_id=_order_id(params),
        items=params.get("ec_items", []), subtotal=params.get("ec_st"), tax=params.get("ec_tx"),
        shipping=params.get("ec_sh"), discount=params.get("ec_dt"), url=params.get("url", ""),
    )


def _order_id(params: dict) -> str:
    order_id = params.get("ec_id", "")
    return "" if order_id == ORDER_ID_DROPPED else order_id  # the site keeps no order ids (door_params)


def _first_orders(conversions: list[ConversionRow]) -> list[ConversionRow]:
    """Leave out orders already recorded, or repeated in the batch: an order counts once (Matomo)."""
    seen = store.orders_known({c.order_id for c in conversions if c.order_id}) if conversions else set()
    kept = []
    for conversion in conversions:
        if conversion.order_id:
            if conversion.order_id in seen:
                continue
            seen.add(conversion.order_id)
        kept.append(conversion)
    return kept


def _media(params: dict, visit: VisitRow, at: datetime) -> None:
    """Upsert the play session: watched time, progress and length only grow; time to play is set once;
    fullscreen is sticky; the positions played are the union of every ping's."""
    play, created = MediaPlay.objects.select_for_update().get_or_create(
        visit_id=visit.id, pv_id=params.get("pv_id", ""), media_id=params["ma_id"],
        defaults={"media_type": params.get("ma_mt", "video"), "first_at": at, "last_at": at})
    play.resource = params.get("ma_re", play.resource)
    play.title = params.get("ma_ti", play.title)
    play.player = params.get("ma_pn", play.player)
    play.watched_seconds = max(play.watched_seconds, params.get("ma_st", 0))
    play.progress_seconds = max(play.progress_seconds, params.get("ma_ps", 0))
    play.length_seconds = max(play.length_seconds, params.get("ma_le", 0))
    if play.time_to_play_seconds is None and "ma_ttp" in params:
        play.time_to_play_seconds = params["ma_ttp"]
    play.width, play.height = params.get("ma_w", play.width), params.get("ma_h", play.height)
    play.fullscreen = play.fullscreen or bool(params.get("ma_fs"))
    if "ma_se" in params:  # every ping's positions are kept, whatever their order
        play.segments = positions_union(play.segments, params["ma_se"])
    play.first_at, play.last_at = min(play.first_at, at), max(play.last_at, at)  # pings in any order
    play.save()


def _sessionize(session: _Session, hits: list[Hit]) -> tuple[list[ActionRow], list[ConversionRow], list]:
    """Give each hit its visit (Matomo's rules) and the row it becomes: actions, conversions, and
    media events (upserted once the visits exist)."""
    visitor_ids = [session.visitor_of(hit) for hit in hits]
    session.load(set(visitor_ids))
    actions, conversions, media = [], [], []
    for hit, vid in zip(hits, visitor_ids, strict=True):
        kind = _kind(hit.params)
        # Heartbeats and cart updates only extend a visit; they never start one (as in Matomo).
        visit = session.visit_for(vid, hit, may_start=kind not in ("ping", "cart"))
        if visit is None:
            continue
        if kind in ("ping", "cart"):
            session.touch(visit, hit.at, counts=False)
        elif kind == "media":
            media.append((hit.params, visit, hit.at))
            session.touch(visit, hit.at, counts=False)
        elif kind == "conversion":
            conversions.append(_conversion(hit, visit))
            session.touch(visit, hit.at, counts=False)
        else:
            actions.append(_action(hit, visit, kind))
            session.touch(visit, hit.at, action_url=hit.params.get("url") if kind == Action.Kind.PAGEVIEW else None)
    return actions, conversions, media


def _own_hosts(instance) -> set[str]:
    urls = [instance.main_url, *(instance.alias_urls or [])]
    return {(urlsplit(u).hostname or "").removeprefix("www.") for u in urls if u} - {""}


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _canonical_id(hit_id: str) -> str:
    """The hit id as PostgreSQL prints a uuid, so ids compare as text; raises on a non-uuid.
    (The queue's own ids are canonical already: checking that is cheaper than re-parsing.)"""
    return hit_id if _CANONICAL_UUID.fullmatch(hit_id) else str(uuid.UUID(hit_id))


_DIGEST = re.compile(r"[0-9a-f]{32}")
_COUNTRY = re.compile(r"(?:[A-Z]{2})?")


def _check_door_fields(entry: dict) -> None:
    """Refuse an entry whose digest or country no door could have written (the queue is not trusted)."""
    if "ipd" in entry and not (isinstance(entry["ipd"], str) and _DIGEST.fullmatch(entry["ipd"])):
        raise ValueError("the address digest must be 32 hexadecimal digits")
    if "cc" in entry and not (isinstance(entry["cc"], str) and _COUNTRY.fullmatch(entry["cc"])):
        raise ValueError("the country must be a two-letter code or empty")


def _checked(entry: dict) -> tuple[dict, str, tuple]:
    """An entry's parameters, user agent and client hints; raises if it is not a valid hit."""
    params = parse_request(entry["p"])
    _check_door_fields(entry)
    user_agent = params.get("ua") or entry.get("ua", "")
    if not isinstance(user_agent, str):  # NB: before the batch's agents are looked up together
        raise ValueError("the user agent must be text")
    return params, user_agent, enrich.client_hints(params.get("uadata"))


def hits_prepare(entries: list[dict]) -> tuple[list[Hit], list[tuple[dict, Exception]]]:
    """Queued entries validated again (the queue is not trusted), timed and given their device;
    bots' hits left out (bots are not visitors, unless the tracker says bots=1). Returns the hits
    and, for the entries that are not valid hits, why: the caller sets them aside with the error,
    so a hand-crafted entry never blocks the others.

    The batch's agents are looked up at once (agents.devices): one query for those this process
    has not met, a parse only for those the farm has never met."""
    checked, invalid = [], []
    for entry in entries:
        try:
            checked.append((entry, *_checked(entry)))
        except Exception as exc:  # reported with the entry, never raised
            invalid.append((entry, exc))
    devices = agents.devices((user_agent, hints) for _entry, _params, user_agent, hints in checked)
    hits = []
    for entry, params, user_agent, hints in checked:
        device = devices[(user_agent, hints)]
        if device["bot"] and not params.get("bots"):
            continue
        try:
            hits.append(Hit(_canonical_id(entry["id"]), hit_time(entry, params), entry, params, user_agent, device))
        except Exception as exc:  # reported with the entry, never raised
            invalid.append((entry, exc))
    return hits, invalid


def hit_prepare(entry: dict) -> Hit | None:
    """`hits_prepare` for one entry: its hit (None for a bot's), or raises why it is not valid."""
    hits, invalid = hits_prepare([entry])
    if invalid:
        raise invalid[0][1]
    return hits[0] if hits else None


def _new_hits(cursor, hits: list[Hit]) -> list[Hit]:
    """The hits not stored yet (nor repeated in the batch), in time order."""
    seen = store.hits_known(cursor, [hit.id for hit in hits])
    new = []
    for hit in hits:
        if hit.id not in seen:
            seen.add(hit.id)
            new.append(hit)
    new.sort(key=attrgetter("at"))
    return new


@transaction.atomic
def ingest_site_hits(instance, hits: list[Hit]) -> int:
    """Store one site's prepared hits (call inside its schema); returns how many were new.

    Holds the site's ingest lock for the whole transaction (store.site_lock): one writer per site.
    """
    with connection.cursor() as cursor:
        store.site_lock(cursor, instance.pk)
        hits = _new_hits(cursor, hits)
        session = _Session(cursor, ZoneInfo(instance.timezone), _own_hosts(instance), instance)
        actions, conversions, media = _sessionize(session, hits)
        session.save()
        store.rows_insert(cursor, Action, actions)
        store.rows_insert(cursor, Conversion, _first_orders(conversions))
    for params, visit, at in media:  # after the visits exist; upserts in time order
        _media(params, visit, at)
    return len(hits)
