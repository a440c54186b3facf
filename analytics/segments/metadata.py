"""API.getSegmentsMetadata: every segment dimension as Matomo describes it to its clients."""
from analytics.segments.dimensions import DIMENSIONS


def segments_metadata() -> list[dict]:
    """type (dimension or metric), category, name, segment, acceptedValues — Matomo's keys. Custom
    dimensions (`dimension1`, `dimension2`, …) are accepted too, without being listed one by one."""
    return [{"type": d.type, "category": d.category, "name": d.title or d.name, "segment": d.name,
             "acceptedValues": d.accepted} for d in DIMENSIONS]
