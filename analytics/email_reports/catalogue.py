"""The reports an email report may hold: every report of the catalogue (media and goals included),
named as Matomo's ScheduledReports names them (uniqueId "Module_action"), or by method name."""
from analytics.reports.catalog import REPORTS, BY_NAME


class UnknownReports(ValueError):
    """Names that are no report; the message lists a few that are."""


def choices() -> list[tuple[str, str]]:
    """(method, "Category › Report") for the report picker, in the catalogue's order."""
    return [(spec.name, f"{spec.category} › {title(spec.name)}") for spec in REPORTS]


_OVERVIEWS = {"VisitsSummary.get": "Visits overview", "VisitFrequency.get": "Returning visits",
              "Actions.get": "Actions overview", "Goals.get": "Goals overview", "MediaAnalytics.get": "Media overview"}


def title(method: str) -> str:
    """A report's title for people: its dimension, or what a single-row report sums up."""
    return BY_NAME[method].dimension or _OVERVIEWS.get(method) or method


def methods(names: list[str]) -> list[str]:
    """The method names of `names` (uniqueIds "Actions_getPageUrls" or "Actions.getPageUrls"), in the
    given order, each once. Raises UnknownReports."""
    found, unknown = [], []
    for name in names:
        method = name.replace("_", ".", 1) if "." not in name else name
        if method not in BY_NAME:
            unknown.append(name)
        elif method not in found:
            found.append(method)
    if unknown:
        raise UnknownReports(f"Unknown report(s): {', '.join(unknown[:5])}; use the uniqueId of a report, e.g. "
                             "VisitsSummary_get or Actions_getPageUrls (API.getReportMetadata lists them).")
    if not found:
        raise UnknownReports("Choose at least one report, e.g. reports[]=VisitsSummary_get.")
    return found


def unique_id(method: str) -> str:
    return method.replace(".", "_", 1)
