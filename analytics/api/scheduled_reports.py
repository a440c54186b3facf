"""ScheduledReports.*: email reports (analytics.email_reports), with Matomo's parameters where they
apply: reports as uniqueIds (`reports[]=VisitsSummary_get`), `parameters[emailMe]`,
`parameters[additionalEmails][]`, `idSegment` (a saved segment of the site), `hour` in the site's
time. Every report is sent as HTML with its charts inline and its rows as a CSV attachment."""
from functools import wraps

from analytics.api import access
from analytics.api.errors import ApiError
from analytics.api.formats import SUCCESS
from analytics.email_reports import catalogue, reports
from analytics.email_reports.delivery import last_period, report_send_now
from analytics.models import SavedSegment
from analytics.reports.archive import site_today
from analytics.reports.errors import ReportError
from analytics.reports.periods import Period, parse_day
from farm.tenancy import in_tenant

FORMATS = ("html", "csv")


def _fields(call) -> dict:
    params = call.params
    if (params.get("reportType") or "email").lower() != "email":
        raise ApiError("reportType must be email: the farm sends email reports only.")
    if (params.get("reportFormat") or "html").lower() not in FORMATS:
        raise ApiError("reportFormat must be html or csv: every report is sent as HTML with its rows as a CSV "
                       "attachment.")
    return {"description": params.required("description", "a few words naming the report"),
            "period": (params.required("period", "day, week, month or never")).lower(),
            "hour": params.integer("hour", 0, minimum=0, maximum=23),
            "reports": params.listing("reports"),
            "segment": _segment(call),
            "email_me": params.flag("parameters[emailMe]") if "parameters[emailMe]" in params.values else True,
            "additional_emails": params.listing("parameters[additionalEmails]"),
            "language": (params.get("language") or "en")[:10]}


def _segment(call) -> str:
    """The definition of idSegment, a saved segment of the site the caller may see."""
    raw = call.params.get("idSegment")
    if raw in (None, "0", "false"):
        return ""
    segment_id = call.params.integer("idSegment", 0, minimum=1)
    with in_tenant(call.site):
        found = SavedSegment.objects.filter(pk=segment_id).first()
    if found is None or not (found.shared or found.owner_id == call.user.pk):
        raise ApiError(f"idSegment {segment_id} is not a segment of this site you can use (SegmentEditor.getAll "
                       "lists them).")
    return found.definition


def add_report(call) -> dict:
    return {"value": reports.report_save(user=call.user, site=call.site, **_fields(call)).pk}


def update_report(call) -> dict:
    report = reports.report_get(call.user, _report_id(call), call.site)
    fields = _fields(call)
    if call.params.get("idSegment") is None:  # left out: the report keeps its segment
        fields["segment"] = report.segment
    reports.report_save(user=call.user, site=call.site, report=report, **fields)
    return SUCCESS


def delete_report(call) -> dict:
    reports.report_delete(call.user, _report_id(call), call.host)
    return SUCCESS


def get_reports(call) -> list[dict]:
    site = call.host  # on a site's own domain, only that site's
    if call.params.id_site:
        site = access.site_for(call.user, call.params.integer("idSite", 0, minimum=1), call.host)
    found = reports.reports_visible(call.user, site)
    if call.params.get("period"):
        found = found.filter(period=call.params.get("period"))
    if call.params.get("idReport"):
        found = [reports.report_get(call.user, _report_id(call), site)]
    return [as_matomo(report) for report in found]


def send_report(call) -> dict:
    """Send now, for `period` and `date` if given, else the report's last whole period."""
    report = reports.report_get(call.user, _report_id(call), call.host)
    kind = (call.params.get("period") or report.kind).lower()
    with in_tenant(report.instance):  # the site's day, and the email built as its task builds it
        today = site_today()
        day = parse_day(call.params.get("date"), today=today) if call.params.get("date") else None
        delivery = report_send_now(report=report, period=Period.of(kind, day) if day else last_period(kind, today))
    if delivery.state != "sent":
        raise ApiError(f"The report was not sent ({delivery.get_state_display()}): {delivery.error}")
    return SUCCESS


def _report_id(call) -> int:
    call.params.required("idReport", "the id of an email report (ScheduledReports.getReports lists them)")
    return call.params.integer("idReport", 0, minimum=1)


def as_matomo(report) -> dict:
    """A report as Matomo's getReports lists it."""
    return {"idreport": report.pk, "idsite": report.instance_id, "login": report.user.get_username(),
            "description": report.description, "idsegment": None, "segment": report.segment,
            "period": report.period, "period_param": report.kind,
            "hour": report.hour, "type": "email", "format": "html",
            "reports": [catalogue.unique_id(method) for method in report.reports],
            "parameters": {"displayFormat": 1, "emailMe": report.email_me, "evolutionGraph": False,
                           "additionalEmails": report.additional_emails},
            "ts_created": report.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "ts_last_sent": report.last_sent_at.strftime("%Y-%m-%d %H:%M:%S") if report.last_sent_at else None,
            "deleted": 0}


def _answering(run):
    """Matomo's error answer for what the services refuse (a bad field, an unknown report)."""
    @wraps(run)
    def wrapper(call):
        try:
            return run(call)
        except ReportError as error:
            raise ApiError(str(error)) from None
    return wrapper


METHODS = {
    "ScheduledReports.addReport": (_answering(add_report), "site"),
    "ScheduledReports.updateReport": (_answering(update_report), "site"),
    "ScheduledReports.deleteReport": (_answering(delete_report), "farm"),
    "ScheduledReports.getReports": (_answering(get_reports), "farm"),
    "ScheduledReports.sendReport": (_answering(send_report), "farm"),
}
WRITES = {"ScheduledReports.addReport", "ScheduledReports.updateReport", "ScheduledReports.deleteReport",
          "ScheduledReports.sendReport"}
