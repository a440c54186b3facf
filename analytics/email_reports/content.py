"""What an email report holds for one period: for each chosen report, the Reporting API's own
answer (the same call, the same numbers), a chart drawn as a PNG, and the table; then the whole as
an HTML email with the charts inline and the rows as a CSV attachment.

Charts: a single-row report (VisitsSummary.get, Goals.get…) shows its first metric over the last
EVOLUTION periods; a report with rows shows its top rows by their first metric as bars.
"""
import base64
import io
from datetime import date
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils import translation

from analytics.api.formats import render
from analytics.api.params import Params
from analytics.email_reports.catalogue import title
from analytics.reports.archive import site_today
from analytics.reports.catalog import BY_NAME
from analytics.reports.periods import Period

ROWS = 10  # rows a table and a bar chart show (the CSV holds the same rows)
EVOLUTION = 12  # periods an evolution chart shows
COLUMNS = 4  # metric columns a table shows


@dataclass
class Section:
    method: str
    title: str
    columns: list[tuple[str, str]]  # (metric, title)
    rows: list[dict]  # the API's rows ("label" + metrics); one row for a single-row report
    chart: bytes  # PNG
    csv: str
    labelled: bool  # rows have a label (not a single-row report)


@dataclass
class Content:
    subject: str
    sections: list[Section] = field(default_factory=list)

    def csv(self) -> str:
        """Every section's CSV, one after the other, each under its report's name."""
        return "\n".join(f"# {s.title} ({s.method})\n{s.csv}" for s in self.sections)


def _answer(params: Params, user):
    """The Reporting API's answer. NB: imported here: analytics.api.methods lists ScheduledReports.*,
    which sends through this module."""
    from analytics.api.methods import answer
    return answer(params, user=user, host=None)


def api_params(method: str, period: Period, *, site_id: int, segment: str = "", limit: int | None = ROWS,
               language: str = "en") -> Params:
    """The Reporting API call an email's section is: the same as a client would make."""
    values = {"method": method, "idSite": str(site_id), "period": period.kind, "date": period.start.isoformat(),
              "language": language}
    if segment:
        values["segment"] = segment
    if limit and not BY_NAME[method].single_row:
        values["filter_limit"] = str(limit)
    return Params(values)


def report_content(report, period: Period) -> Content:
    """The email's content for `report` (an instances.ScheduledReport) over `period`. Raises the
    API's errors (ApiError, NoAccess) as the API would answer them."""
    with translation.override(report.language or "en"):
        subject = f"{report.instance.name} · {report.description} · {period.kind} {period.label}"
        content = Content(subject)
        for method in report.reports:
            content.sections.append(_section(report, method, period))
    return content


def _section(report, method: str, period: Period) -> Section:
    spec = BY_NAME[method]
    params = api_params(method, period, site_id=report.instance_id, segment=report.segment, language=report.language)
    data = _answer(params, report.user)
    rows = [data] if isinstance(data, dict) else list(data)
    metrics = {**spec.metrics, **{ratio.name: ratio.title for ratio in spec.ratios}}
    present = [name for name in metrics if any(name in row for row in rows)]
    columns = [(name, metrics[name]) for name in present[:COLUMNS]]
    csv = render(data, "csv").content.decode()
    if spec.single_row:
        chart = _evolution(report, method, period, columns[0] if columns else ("nb_visits", "Visits"))
    else:
        chart = _bars(rows, columns[0] if columns else ("nb_visits", "Visits"))
    return Section(method, title(method), columns, rows, chart, csv, labelled=not spec.single_row)


def _evolution(report, method: str, period: Period, metric: tuple[str, str]) -> bytes:
    """The metric over the EVOLUTION periods ending with `period`: for the last whole period (what
    a scheduled email reports on) one API call, date=previousN, as a client would ask; otherwise
    one call a period."""
    params = api_params(method, period, site_id=report.instance_id, segment=report.segment, language=report.language)
    if Period.of(period.kind, site_today()).previous() == period:
        keyed = _answer(Params({**params.values, "date": f"previous{EVOLUTION}"}), report.user)
        points = [(date.fromisoformat(label.split(",")[0]), data) for label, data in keyed.items()]
    else:
        periods = [period]
        while len(periods) < EVOLUTION:
            periods.append(periods[-1].previous())
        points = [(each.start, _answer(Params({**params.values, "date": each.start.isoformat()}), report.user))
                  for each in reversed(periods)]
    values = [(start.strftime("%b %Y" if period.kind == "month" else "%d %b"),
               (data if isinstance(data, dict) else {}).get(metric[0], 0) or 0) for start, data in points]
    return chart_png("line", values, metric[1])


def _bars(rows: list[dict], metric: tuple[str, str]) -> bytes:
    values = [(str(row.get("label", ""))[:40], row.get(metric[0], 0) or 0) for row in rows[:ROWS]]
    return chart_png("bars", values[::-1], metric[1])


def chart_png(kind: str, values: list[tuple[str, float]], metric: str) -> bytes:
    """A small chart as PNG bytes (matplotlib's Agg canvas: no display, safe in a worker thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 2.6 if kind == "line" else max(1.6, 0.32 * len(values) + 0.8)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels, numbers = [label for label, _v in values], [float(v) for _label, v in values]
    if kind == "line":
        axes.plot(range(len(numbers)), numbers, marker="o", color="#2456c9")
        axes.fill_between(range(len(numbers)), numbers, color="#2456c9", alpha=0.12)
        axes.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45, ha="right")
        axes.set_ylim(bottom=0)
    else:
        axes.barh(range(len(numbers)), numbers, color="#2456c9")
        axes.set_yticks(range(len(labels)), labels, fontsize=7)
    if not values:
        axes.text(0.5, 0.5, "No data", ha="center", va="center", transform=axes.transAxes, color="#5b6576")
    axes.set_title(metric, fontsize=9, loc="left")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(labelsize=7)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def as_html(content: Content, *, inline: bool = False) -> str:
    """The email's HTML: charts referenced by Content-ID (cid:chart-N), or as data: URLs for the
    page's preview (`inline`)."""
    sections = [{"section": s, "src": (f"data:image/png;base64,{base64.b64encode(s.chart).decode()}" if inline
                                       else f"cid:chart-{n}")} for n, s in enumerate(content.sections)]
    return render_to_string("emails/scheduled_report.html", {"subject": content.subject, "sections": sections})


def as_text(content: Content) -> str:
    lines = [content.subject, ""]
    for section in content.sections:
        lines.append(section.title)
        for row in section.rows:
            cells = [str(row.get("label", ""))] if section.labelled else []
            cells += [f"{name}: {row.get(metric, '')}" for metric, name in section.columns]
            lines.append("  " + " · ".join(cell for cell in cells if cell))
        lines.append("")
    return "\n".join(lines)
