"""Combining the reports of shorter periods into a longer one: rows merged by key, sets unioned.

Pure functions, no database. Metrics are additive by name: `max_*` take the maximum, `min_*` the
minimum, everything else is summed. Unique visitors and users are not additive: they are dropped
here and set by the caller from the union of the periods' visitor sets. A segment's rows also
carry their visitor counts for the k-anonymity floor (anonymity.combine). Actions.get is derived
from the merged action reports rather than summed (its nb_keywords counts distinct keywords).
"""
import numpy as np

from analytics.reports import anonymity
from analytics.reports.catalog import MEDIA_UNIQUE_COLUMNS, REPORTS, STORED

UNIQUE_COLUMNS = ("nb_uniq_visitors", "nb_users", *MEDIA_UNIQUE_COLUMNS)
KEY_COLUMNS = ("parent", "label")


def _combine(into: dict, row: dict) -> None:
    combine_metrics(into, row)
    anonymity.combine(into, row)


def combine_metrics(into: dict, row: dict) -> None:
    """Add a row's metrics into `into` (max_* and min_* kept as such)."""
    for column, value in row.items():
        if column in KEY_COLUMNS or column in UNIQUE_COLUMNS or anonymity.private(column):
            continue
        if value is None:  # e.g. min_event_value of events without a value: kept as null, as a day has it
            into.setdefault(column, None)
            continue
        current = into.get(column)
        if current is None:
            into[column] = value
        elif column.startswith("max_"):
            into[column] = max(current, value)
        elif column.startswith("min_"):
            into[column] = min(current, value)
        else:
            into[column] = current + value


def merge_rows(row_lists: list[list[dict]]) -> list[dict]:
    """Rows of several periods merged by (parent, label), in first-seen order."""
    merged: dict[tuple, dict] = {}
    for rows in row_lists:
        for row in rows:
            key = tuple(row.get(k) for k in KEY_COLUMNS)
            if key not in merged:
                merged[key] = {k: row[k] for k in KEY_COLUMNS if k in row}
            _combine(merged[key], row)
    return list(merged.values())


def merge_reports(parts: list[dict[str, list[dict]]]) -> dict[str, list[dict]]:
    """Every report of a longer period from its parts' reports (name -> rows)."""
    reports = {}
    for spec in REPORTS:
        if spec.name not in STORED:
            continue
        rows = merge_rows([part.get(spec.name, []) for part in parts])
        if spec.single_row:
            rows = [{**spec.defaults, **(rows[0] if rows else {})}]
            rows[0].pop("label", None)
            rows[0].pop("parent", None)
        reports[spec.name] = rows
    return derive(reports)


def derive(reports: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Add the reports computed from other reports of the same period (Actions.get); returns `reports`."""
    def total(name, column):
        return sum(row[column] for row in reports.get(name, []))

    reports["Actions.get"] = [{
        "nb_pageviews": total("Actions.getPageUrls", "nb_hits"),
        "nb_uniq_pageviews": total("Actions.getPageUrls", "nb_visits"),
        "nb_downloads": total("Actions.getDownloads", "nb_hits"),
        "nb_uniq_downloads": total("Actions.getDownloads", "nb_visits"),
        "nb_outlinks": total("Actions.getOutlinks", "nb_hits"),
        "nb_uniq_outlinks": total("Actions.getOutlinks", "nb_visits"),
        "nb_searches": total("Actions.getSiteSearchKeywords", "nb_hits"),
        "nb_keywords": sum(not anonymity.is_other(row.get("label", ""))  # the k floor's "Other" is none
                           for row in reports.get("Actions.getSiteSearchKeywords", [])),
    }]
    for name in STORED:
        reports.setdefault(name, [])
    return reports


def pack(ids: np.ndarray) -> bytes:
    """A sorted, distinct int64 array as bytes (8 bytes an id) for a bytea column."""
    return np.asarray(ids, dtype="<i8").tobytes()


def unpack(data: bytes | memoryview | None) -> np.ndarray:
    return np.frombuffer(bytes(data or b""), dtype="<i8")


def union(sets: list[np.ndarray]) -> np.ndarray:
    """The sorted union of several id sets (exact: ids, not estimates)."""
    return np.unique(np.concatenate(sets)) if sets else np.empty(0, dtype=np.int64)
