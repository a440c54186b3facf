"""Matomo's generic filters on a report's rows: pattern, sort, offset/limit, then showColumns/hideColumns.

Applied in Matomo's order on each table of an answer (each site, each period). Single-row answers
(VisitsSummary.get) only take the column filters. filter_pattern runs on RE2 (google-re2), whose
matching time is linear in the text: no pattern, however catastrophic for a backtracking engine
(`(a+)+$`), can hold a web worker. RE2 has no backreferences or lookarounds; such a pattern is
refused with a message saying so.
"""
from collections.abc import Callable

import re2

from analytics.api.errors import ApiError
from analytics.api.formats import Stream
from analytics.api.params import Params

DEFAULT_LIMIT = 100
_KEEP = ("label", "idsubdatatable")
_PATTERN_MEMORY = 8 << 20  # bytes RE2 may use for one compiled pattern: a{1000} repeated stays refused  # showColumns never drops the row key or the subtable link


def rows_filtered(rows: list[dict], params: Params, *, paged: bool = False,
                  present: Callable[[dict], dict] = lambda row: row) -> list[dict]:
    """The rows after filter_pattern, filter_sort_*, filter_offset/filter_limit (unless the method
    `paged` itself), then as `present` shows them, then the column filters."""
    rows = _matching(rows, params)
    rows = _sorted(rows, params)
    if not paged:
        offset, limit = page(params)
        rows = rows[offset:] if limit < 0 else rows[offset:offset + limit]
    return [columns(present(row), params) for row in rows]


def stream_filtered(stream: Stream, params: Params, *, present: Callable[[dict], dict] = lambda row: row) -> Stream:
    """A paged Stream (Live's visits) after filter_pattern and the column filters, row by row.
    No sort: as Matomo's Live API, the rows keep their own order (newest first)."""
    pattern = _pattern(params)
    column = params.get("filter_column", "label")

    def rows():
        for row in stream:
            if pattern is None or pattern.search(str(row.get(column, ""))):
                yield columns(present(row), params)
    return Stream(rows)


def page(params: Params) -> tuple[int, int]:
    """(filter_offset, filter_limit): limit 100 by default, -1 for every row."""
    return (params.integer("filter_offset", 0, minimum=0),
            params.integer("filter_limit", DEFAULT_LIMIT, minimum=-1))


def columns(row: dict, params: Params) -> dict:
    """showColumns keeps only the listed columns (and the label), hideColumns drops the listed ones."""
    show, hide = _names(params.get("showColumns")), _names(params.get("hideColumns"))
    if show:
        row = {k: v for k, v in row.items() if k in show or k in _KEEP}
    return {k: v for k, v in row.items() if k not in hide} if hide else row


def _names(raw: str | None) -> set[str]:
    return {name.strip() for name in raw.split(",") if name.strip()} if raw else set()


def _matching(rows: list[dict], params: Params) -> list[dict]:
    pattern = _pattern(params)
    if pattern is None:
        return rows
    column = params.get("filter_column", "label")
    return [row for row in rows if pattern.search(str(row.get(column, "")))]


def _pattern(params: Params):
    raw = params.get("filter_pattern")
    if raw is None:
        return None
    if len(raw) > 200:
        raise ApiError("filter_pattern is limited to 200 characters")
    return pattern_compiled(raw)


def pattern_compiled(raw: str):
    """filter_pattern as a case-insensitive RE2 pattern (as Matomo matches); ApiError if RE2 cannot
    compile it (invalid, or a backreference / lookaround RE2 does not support)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # NB: else RE2 writes every refused pattern to stderr
    options.max_mem = _PATTERN_MEMORY
    try:
        return re2.compile(raw, options=options)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) \
            else str(error)
        raise ApiError(f"filter_pattern is not a regular expression this API supports ({reason}): use RE2 "
                       "syntax, without backreferences or lookarounds") from None


def _sorted(rows: list[dict], params: Params) -> list[dict]:
    """Rows by filter_sort_column (desc by default); rows without that column keep their order, last."""
    column = params.get("filter_sort_column")
    if column is None:
        return rows
    order = params.get("filter_sort_order", "desc").lower()
    if order not in ("asc", "desc"):
        raise ApiError(f"filter_sort_order must be asc or desc, not “{order[:20]}”")
    numbers, texts, rest = [], [], []
    for row in rows:
        value = row.get(column)
        kind = texts if isinstance(value, str) else numbers if isinstance(value, (int, float)) else rest
        kind.append(row)
    ordered = sorted(numbers, key=lambda r: r[column]) + sorted(texts, key=lambda r: r[column].lower())
    return (ordered[::-1] if order == "desc" else ordered) + rest
