"""Saved segments of one site (call inside its schema): who may see, add, change and delete them.

As Matomo's SegmentEditor, with the farm's roles: any member (view role and up) saves personal
segments; sharing a segment with every member of the site takes the site's admin role; a segment
is changed or deleted by its owner, or, when shared, by a site admin; superusers may do all of it.
A definition is checked (read and compiled) before it is stored.
"""
from datetime import date

from django.conf import settings
from django.db import connection, transaction

from analytics.models import Archive, ArchiveSet, ArchiveVisitors, SavedSegment
from analytics.reports.archive import site_timezone
from analytics.reports.errors import ReportError
from analytics.segments import grammar, query
from analytics.segments.restricted import key_of
from instances.models import Role
from instances.selectors import instance_allows

MAX_NAME = 255
_QUOTA_LOCK = 4245  # pg_advisory_xact_lock(4245, instance id): one pre-processing quota check at a time


class SegmentNotAllowed(ReportError):
    """The person may not do this with this segment (or it is not theirs to see)."""


def _is_admin(user, site) -> bool:
    return instance_allows(user=user, instance=site, role=Role.ADMIN)  # superusers are every site's admins


def visible(user, site):
    """The segments the person sees on the site: their own and the shared ones."""
    segments = SavedSegment.objects.order_by("name", "pk")
    return segments if user.is_superuser else segments.filter(owner_id=user.pk) | segments.filter(shared=True)


def segment_get(user, site, segment_id: int) -> SavedSegment:
    found = visible(user, site).filter(pk=segment_id).first()
    if found is None:
        raise SegmentNotAllowed("Requested segment not found.")
    return found


def _checked(user, site, name: str, definition: str, shared: bool) -> tuple[str, str]:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ReportError(f"A segment needs a name of 1 to {MAX_NAME} characters.")
    if not (definition or "").strip():
        raise ReportError("A segment needs a definition, such as visitCount>1.")
    try:
        query.check(definition, timezone=site_timezone())
    except grammar.SegmentError as error:
        raise grammar.SegmentError(f"The specified segment is invalid: {error}") from None
    if shared and not _is_admin(user, site):
        raise SegmentNotAllowed("Only the site's admins may share a segment with all its members.")
    return name, definition.strip()


def _within_quota(definition: str, auto_archive: bool, *, besides: int | None = None) -> None:
    """A site pre-processes at most FARM_MAX_PREPROCESSED_SEGMENTS definitions: each costs every hourly run."""
    if not auto_archive:
        return
    with connection.cursor() as cursor:  # NB: two saves at once would both see room for one more
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_QUOTA_LOCK, connection.tenant.pk])
    others = {key_of(other) for other in
              SavedSegment.objects.filter(auto_archive=True).exclude(pk=besides).values_list("definition", flat=True)}
    if key_of(definition) not in others and len(others) >= settings.FARM_MAX_PREPROCESSED_SEGMENTS:
        raise ReportError(f"This site already pre-processes {len(others)} segments, the most it may: save this one "
                          "as real-time, or stop pre-processing another one.")


def _forget_archives(definition: str) -> None:
    """Once no saved segment pre-processes a definition, its archives go: kept, they would be read
    again (stale) if it were pre-processed anew, instead of being rebuilt from the logs."""
    key = key_of(definition)
    if not any(key_of(other) == key for other in
               SavedSegment.objects.filter(auto_archive=True).values_list("definition", flat=True)):
        for model in (Archive, ArchiveVisitors, ArchiveSet):
            model.objects.filter(segment=key).delete()


@transaction.atomic
def segment_add(user, site, *, name: str, definition: str, shared: bool = False,
                auto_archive: bool = False, archive_from: date | None = None) -> SavedSegment:
    """`archive_from`: the first day a pre-processed segment is archived for (None: the site's first data)."""
    name, definition = _checked(user, site, name, definition, shared)
    _within_quota(definition, auto_archive)
    return SavedSegment.objects.create(name=name, definition=definition, owner_id=user.pk,
                                       owner_login=user.get_username(), shared=shared, auto_archive=auto_archive,
                                       archive_from=archive_from)


def _editable(user, site, segment_id: int) -> SavedSegment:
    segment = segment_get(user, site, segment_id)
    if segment.owner_id != user.pk and not (segment.shared and _is_admin(user, site)) and not user.is_superuser:
        raise SegmentNotAllowed("Only its owner, or a site admin for a shared segment, may change or delete it.")
    return segment


_KEEP = object()


@transaction.atomic
def segment_update(user, site, segment_id: int, *, name: str, definition: str, shared: bool = False,
                   auto_archive: bool = False, archive_from: date | None | object = _KEEP) -> SavedSegment:
    """`archive_from` left out: the stored day is kept."""
    segment = _editable(user, site, segment_id)
    before = segment.definition
    segment.name, segment.definition = _checked(user, site, name, definition, shared)
    _within_quota(segment.definition, auto_archive, besides=segment.pk)
    segment.shared, segment.auto_archive = shared, auto_archive
    if archive_from is not _KEEP:
        segment.archive_from = archive_from
    segment.save()
    _forget_archives(before)
    return segment


@transaction.atomic
def segment_delete(user, site, segment_id: int) -> None:
    segment = _editable(user, site, segment_id)
    segment.delete()
    _forget_archives(segment.definition)


def as_matomo(segment: SavedSegment, site) -> dict:
    """The row SegmentEditor.get and getAll answer, with Matomo's keys."""
    return {"idsegment": segment.pk, "name": segment.name, "definition": segment.definition,
            "login": segment.owner_login, "enable_all_users": int(segment.shared), "enable_only_idsite": site.pk,
            "auto_archive": int(segment.auto_archive),
            "archive_from": segment.archive_from.isoformat() if segment.archive_from else None,  # the farm's own
            "ts_created": f"{segment.created_at:%Y-%m-%d %H:%M:%S}",
            "ts_last_edit": f"{segment.updated_at:%Y-%m-%d %H:%M:%S}", "deleted": 0}
