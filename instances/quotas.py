"""Quotas: how many sites a person may have, and how many hits a month and how much storage a site.

Each limit is the site's own (set in the admin), else its owner's (OwnerQuota), else the farm's
(FARM_QUOTA_SITES_PER_USER, FARM_QUOTA_HITS_PER_MONTH, FARM_QUOTA_STORAGE_MB); 0 means no limit,
the farm's default. Past a site's hits or storage, its hits are not stored — the endpoint answered
them as usual already, so trackers do not retry — and its owner and the farm's admins are told
once a month at 80 % and once at 100 % of the hits. Hits are counted as ingest stores them (a
batch may go past the limit by what it held: counted, then refused from the next one).
"""
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from instances.errors import InvalidRequest
from instances.models import Instance, OwnerQuota, SiteMonthHits, Status

WARN_AT = (80, 100)


@dataclass(frozen=True)
class SiteLimits:
    hits_per_month: int  # 0: no limit
    storage_bytes: int


def _owner_quota(user_id: int) -> OwnerQuota | None:
    return OwnerQuota.objects.filter(user_id=user_id).first()


def _first(*values, default: int) -> int:
    return next((value for value in values if value is not None), default)


_UNREAD = object()


def site_limits(instance: Instance, own=_UNREAD) -> SiteLimits:
    """The site's limits; `own`: its owner's OwnerQuota (or None) when the caller read it already."""
    own = _owner_quota(instance.owner_id) if own is _UNREAD else own
    hits = _first(instance.quota_hits_per_month, own and own.hits_per_month, default=settings.FARM_QUOTA_HITS_PER_MONTH)
    storage = _first(instance.quota_storage_mb, own and own.storage_mb, default=settings.FARM_QUOTA_STORAGE_MB)
    return SiteLimits(hits_per_month=hits, storage_bytes=storage * 1024 * 1024)


def sites_limit(user) -> int:
    own = _owner_quota(user.pk)
    return _first(own and own.sites, default=settings.FARM_QUOTA_SITES_PER_USER)


def sites_used(user) -> int:
    """Sites requested or live (a deactivated site keeps its data but not its place)."""
    return Instance.objects.filter(owner=user, status__in=[Status.PREPA, Status.PUBLIE]).count()


class QuotaReached(InvalidRequest):
    pass


def sites_quota(user) -> dict:
    """The person's sites requested or live, and how many they may have (0: no limit)."""
    return {"used": sites_used(user), "limit": sites_limit(user)}


def site_request_check(user) -> None:
    """Refuse a new request (or a reactivation) past the person's quota of sites."""
    quota = sites_quota(user)
    if quota["limit"] and quota["used"] >= quota["limit"]:
        raise QuotaReached(_("You already have %(limit)s sites, your quota: ask a farm administrator for more, or "
                               "deactivate one you no longer need.") % {"limit": quota["limit"]})


def month_of(day: date) -> date:
    return day.replace(day=1)


def site_today(instance: Instance) -> date:
    return datetime.now(ZoneInfo(instance.timezone)).date()


def hits_allowed(instance: Instance, month: date, limits: SiteLimits) -> int | None:
    """How many more hits of `month` the site may store (None: no limit; 0: none, storage included)."""
    if limits.storage_bytes and (instance.schema_size_bytes or 0) >= limits.storage_bytes:
        return 0
    if not limits.hits_per_month:
        return None
    used = SiteMonthHits.objects.filter(instance=instance, month=month).values_list("hits", flat=True).first() or 0
    return max(0, limits.hits_per_month - used)


def hits_count(instance: Instance, month: date, stored: int, limits: SiteLimits) -> None:
    """Add a batch's stored hits to the month's count (one statement), and warn at 80 % and 100 %
    (once each)."""
    if not stored:
        return
    table = SiteMonthHits._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (instance_id, month, hits) VALUES (%s, %s, %s) "
                       f"ON CONFLICT (instance_id, month) DO UPDATE SET hits = {table}.hits + EXCLUDED.hits "
                       "RETURNING id, hits, warned_80_at, warned_100_at", [instance.pk, month, stored])
        row_id, hits, *warned = cursor.fetchone()
    limit = limits.hits_per_month
    for percent, warned_at in zip(WARN_AT, warned) if limit else ():
        field = f"warned_{percent}_at"
        if hits * 100 >= limit * percent and warned_at is None:
            # NB: compare-and-set: of two batches crossing the mark together, one sends the email
            if SiteMonthHits.objects.filter(pk=row_id, **{f"{field}__isnull": True}).update(**{field: timezone.now()}):
                # NB: sent by a worker (retried while the mail server refuses): never by ingest or a
                # tracking request, which a mail server that hangs would hold up
                from instances.tasks import quota_warning_task

                transaction.on_commit(lambda p=percent, n=hits: quota_warning_task.delay(instance.pk, p, n, limit),
                                      robust=True)


def quota_warn(instance_id: int, *, percent: int, hits: int, limit: int) -> None:
    """Email a site's owner and the farm's superusers that it used `percent` of its month's hits."""
    from instances.notifications import notify_quota

    instance = Instance.objects.select_related("owner").get(pk=instance_id)
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    notify_quota(instance, percent=percent, hits=hits, limit=limit,
                 recipients=[instance.owner.email, *(a.email for a in admins)])


def usage_many(instances: list[Instance]) -> dict[int, dict]:
    """What the owner's pages show of each site, in two queries whatever their number: its hits of
    its own local month and its storage (as last measured), each with its limit (0: none)."""
    months = {instance.pk: month_of(site_today(instance)) for instance in instances}
    hits = {(pk, month): n for pk, month, n in SiteMonthHits.objects.filter(
        instance__in=instances, month__in=set(months.values())).values_list("instance_id", "month", "hits")}
    owners = {q.user_id: q for q in OwnerQuota.objects.filter(user_id__in={i.owner_id for i in instances})}
    found = {}
    for instance in instances:
        limits = site_limits(instance, owners.get(instance.owner_id))
        found[instance.pk] = {"hits": hits.get((instance.pk, months[instance.pk]), 0), "hits_limit": limits.hits_per_month,
                              "storage_bytes": instance.schema_size_bytes, "storage_limit_bytes": limits.storage_bytes}
    return found
