"""Segments side by side: the overview's summary and one report's table, for all visits and up to
four segments (`vs=` in the URL, once per segment), each column under its segment's k floor.

Each column is read through the same service as every page (analytics.reports.service), under
`service.segmented`: a segment's column is what its own page would show.
"""
from dataclasses import dataclass

from django.utils.translation import gettext

from analytics.dashboard import pages, tables
from analytics.dashboard.choice import PeriodChoice
from analytics.reports import service

MOST = 4
SUMMARY = ("nb_visits", "nb_uniq_visitors", "nb_actions", "nb_actions_per_visit", "avg_time_on_site", "bounce_rate")
ROWS = 20  # a report's rows compared: the first ones of all visits, then those only a segment has


@dataclass
class Compared:
    """A table whose columns are all visits, then each segment: `heads`; rows of (label, kind, values)."""

    heads: list[str]
    rows: list[tuple[str, str, list]]
    metric: str = ""


def asked(definitions: list[str], saved: list) -> list[tuple[str, str]]:
    """The segments to compare, as (head, definition): a saved one by its name, at most MOST, once each."""
    names = {segment.definition: segment.name for segment in saved}
    unique = list(dict.fromkeys(d.strip() for d in definitions if d and d.strip()))
    return [(names.get(definition, definition), definition) for definition in unique[:MOST]]


def _under(definition: str | None, read):
    with service.segmented(definition):
        return read()


def summary(choice: PeriodChoice, segments: list[tuple[str, str]]) -> Compared:
    """VisitsSummary.get's main metrics, a column per segment."""
    rows = [_under(definition, lambda: service.report("VisitsSummary.get", choice.period))
            for definition in [None, *(d for _h, d in segments)]]
    metrics = [tables.column(metric) for metric in SUMMARY]
    return Compared([gettext("All visits"), *(head for head, _d in segments)],
                    [(str(c.title), c.kind, [row.get(c.key) for row in rows]) for c in metrics])


def report(name: str, choice: PeriodChoice, segments: list[tuple[str, str]]) -> Compared:
    """One report's main metric, a column per segment; a row a segment does not show reads "—"."""
    main = tables.columns(name)[0]
    columns = [_under(definition, lambda: service.report(name, choice.period))
               for definition in [None, *(d for _h, d in segments)]]
    values = [{(row.get("parent"), row["label"]): row.get(main.key) for row in rows} for rows in columns]
    keys = list(values[0])[:ROWS]
    keys += [key for column in values[1:] for key in column if key not in keys]
    return Compared([gettext("All visits"), *(head for head, _d in segments)],
                    [(" — ".join(filter(None, [key[0], str(pages.display_label(name, key[1]))])), main.kind,
                      [column.get(key) for column in values]) for key in keys], metric=str(main.title))
