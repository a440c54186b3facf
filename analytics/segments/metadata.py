"""API.getSegmentsMetadata: every segment dimension as Matomo describes it to its clients; and the
same catalog grouped for the dashboard's segment builder."""
from django.utils.translation import gettext_lazy as _

from analytics.segments.dimensions import DIMENSIONS

SEGMENT_OPERATORS = (("==", _("is")), ("!=", _("is not")), ("=@", _("contains")), ("!@", _("does not contain")),
                     ("=^", _("starts with")), ("=$", _("ends with")), (">", _("greater than")),
                     (">=", _("at least")), ("<", _("less than")), ("<=", _("at most")))


def segments_metadata() -> list[dict]:
    """type (dimension or metric), category, name, segment, acceptedValues — Matomo's keys. Custom
    dimensions (`dimension1`, `dimension2`, …) are accepted too, without being listed one by one."""
    return [{"type": d.type, "category": str(d.category), "name": str(d.title or d.name), "segment": d.name,
             "acceptedValues": d.accepted} for d in DIMENSIONS]


def segment_dimension_groups() -> list[tuple[str, list]]:
    """The dimensions by category, in the catalog's order (the builder's grouped picker)."""
    groups: dict[str, list] = {}
    for dimension in DIMENSIONS:
        groups.setdefault(str(dimension.category), []).append(dimension)
    return list(groups.items())
