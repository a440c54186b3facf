"""Rates as Matomo's API gives them: `format_metrics`.

Matomo answers bounce, exit and conversion rates as percent strings ("42%", "12.34%") by default
(format_metrics=bc, kept for its older clients), as quotients with format_metrics=0 (0.42), and with
format_metrics=1 formats every metric (only rates are formatted here; times and money stay numbers).
The archive's own rates (percent, one decimal) are what the dashboard shows; here each rate is
worked out again from its row's counts, with Matomo's rounding, once the rows are sorted and paged
(sorting by a rate sorts numbers, not strings).
"""
from collections.abc import Callable

from analytics.api.errors import ApiError
from analytics.api.params import Params
from analytics.reports import catalog

MODES = ("bc", "1", "0")


def presenter(params: Params) -> Callable[[dict], dict]:
    """A function giving a row of `params.method`'s report (and its nested sub-table rows) Matomo's rates."""
    mode = params.get("format_metrics", "bc")
    if mode not in MODES:
        raise ApiError(f"format_metrics must be one of {', '.join(MODES)}, not “{mode[:20]}”")
    try:
        ratios = [ratio for ratio in catalog.spec(params.method).ratios if ratio.percent is not None]
    except catalog.UnknownReport:  # Live, SitesManager, …: no rates
        ratios = []
    if not ratios:
        return lambda row: row

    def present(row: dict) -> dict:
        row = {**row, **{ratio.name: _shown(ratio.quotient(row), mode) for ratio in ratios if ratio.name in row}}
        if isinstance(row.get("subtable"), list):
            row["subtable"] = [present(child) for child in row["subtable"]]
        return row
    return present


def _shown(quotient: float, mode: str) -> float | str:
    # NB: round() first: 0.29 * 100 is 28.999999999999996, which Matomo (PHP) prints as 29.
    return quotient if mode == "0" else f"{round(quotient * 100, 8):g}%"
