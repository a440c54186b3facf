"""The portal's "My sites" board: the period a request asks for, every site's numbers, sorting, pages, links.

Built on instances.overview (the reads and Matomo's evolution). The period defaults to today in the
farm's timezone (settings.TIME_ZONE); each site's numbers are counted over its own local days.
"""
import math
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from instances.overview import (OverviewError, Span, elapsed_ratio, evolution, sites_series, sites_totals, span_choice,
                                today_in)

BOARD_FIELDS = ("id", "name", "slug", "status", "schema_state", "deletion_due_at", "owner_id", "schema_name")
PERIOD_KINDS = [("day", _("Day")), ("week", _("Week")), ("month", _("Month")), ("year", _("Year")),
                ("range", _("Date range"))]
_PAGE = re.compile(r"[0-9]{1,6}")


def board_context(*, sites: QuerySet, params) -> dict:
    """What the My sites page shows of `sites` for `params` (period, date, end, sort, order, page):
    the board and its links; `error` says why a bad period was replaced by today."""
    today = today_in(settings.TIME_ZONE)
    error = None
    try:
        span = span_choice(kind=params.get("period"), day=params.get("date"), end=params.get("end"), today=today)
    except OverviewError as exc:
        span, error = Span.of("day", today), str(exc)
    page = params.get("page", "")
    board = sites_board(instances=list(sites.only(*BOARD_FIELDS)), span=span,
                        now=timezone.now(), timezone_name=settings.TIME_ZONE, sort=params.get("sort", "nb_visits"),
                        order=params.get("order", ""),
                        page=int(page) if _PAGE.fullmatch(page) else 1)
    return {"board": board, "error": error, "kinds": PERIOD_KINDS, "today": today, "query": _query(span),
            "previous_query": _query(span.previous(), board), "next_query": _query(span.following(), board),
            "sorted_query": _query(span, board)}


def _query(span: Span, board: "Board | None" = None) -> str:
    """The query string giving this period back (and the board's sort order, if given)."""
    params = {"period": span.kind, "date": span.start.isoformat()}
    if span.kind == "range":
        params["end"] = span.end.isoformat()
    if board is not None:
        params |= {"sort": board.sort, "order": board.order}
    return urlencode(params)


SHOWN = ("nb_visits", "nb_pageviews", "revenue")
SORTS = ("name", *SHOWN, *(f"{metric}_change" for metric in SHOWN))
PER_PAGE = 100


@dataclass
class SiteLine:
    """One site on the board; `values`, `changes` and `series` are empty for a site that is not live."""

    instance: object
    values: dict
    changes: dict
    series: list

    @property
    def live(self) -> bool:
        return bool(self.values)


@dataclass
class Board:
    """One page of the board, the totals of every live site, and where the page stands."""

    span: Span
    lines: list[SiteLine]
    totals: dict
    changes: dict
    sort: str
    order: str
    page: int = 1
    pages: int = 1
    count: int = 0


def sites_board(*, instances: list, span: Span, now: datetime, timezone_name: str, sort: str = "nb_visits",
                order: str = "desc", page: int = 1, per_page: int = PER_PAGE) -> Board:
    """The given sites' visits, page views and revenue for `span`, their change against the period
    before, and the totals of the live sites; sorted by `sort` (one of SORTS), cut into pages, each
    site of the page with a sparkline of its visits.

    Two queries whatever the number of sites (totals, then the page's sparklines). Sites that are
    not live keep their place in the list without numbers, after the others when sorting by a number.
    """
    if sort not in SORTS:
        sort = "nb_visits"
    live_ids = [site.pk for site in instances if site.is_live]
    totals = sites_totals(site_ids=live_ids, span=span, metrics=SHOWN) if live_ids else {}
    ratio = elapsed_ratio(span, now=now, timezone_name=timezone_name)
    lines, current_sum, previous_sum = [], dict.fromkeys(SHOWN, 0), dict.fromkeys(SHOWN, 0)
    for site in instances:
        if not site.is_live:
            lines.append(SiteLine(site, {}, {}, []))
            continue
        current, previous = totals.get(site.pk, (dict.fromkeys(SHOWN, 0), dict.fromkeys(SHOWN, 0)))
        for metric in SHOWN:
            current_sum[metric] += current[metric]
            previous_sum[metric] += previous[metric]
        changes = {m: evolution(current[m], previous[m], ratio=ratio) for m in SHOWN}
        lines.append(SiteLine(site, current, changes, []))
    _sort(lines, sort, order)
    pages = max(1, math.ceil(len(lines) / per_page))
    page = min(max(page, 1), pages)
    shown = lines[(page - 1) * per_page:page * per_page]
    live_shown = [line.instance.pk for line in shown if line.live]
    series = sites_series(site_ids=live_shown, spans=span.series()) if live_shown else {}
    for line in shown:
        line.series = series.get(line.instance.pk, [])
    changes = {m: evolution(current_sum[m], previous_sum[m], ratio=ratio) for m in SHOWN}
    return Board(span, shown, current_sum, changes, sort, "asc" if order == "asc" else "desc", page, pages,
                 len(lines))


def _sort(lines: list[SiteLine], sort: str, order: str) -> None:
    """Sort in place: by name, or by a number or a change (sites without numbers last, by name)."""
    reverse = order != "asc"
    lines.sort(key=lambda line: line.instance.name.lower(), reverse=reverse and sort == "name")
    if sort == "name":
        return
    metric, numbers = sort.removesuffix("_change"), [line for line in lines if line.live]
    numbers.sort(key=lambda line: (line.changes if sort.endswith("_change") else line.values)[metric], reverse=reverse)
    lines[:] = numbers + [line for line in lines if not line.live]
