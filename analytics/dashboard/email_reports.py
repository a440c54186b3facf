"""The dashboard's Email reports page: a person's scheduled email reports of this site, created and
changed through one form (analytics.email_reports.reports), previewed as the email will read, sent
now, and their deliveries; a delivery left "unknown" (a worker stopped mid-send) or "failed" is
resent only when the person says so."""
from csp.constants import SELF
from csp.decorators import csp_replace
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics.api.errors import ApiError
from analytics.email_reports import catalogue, reports
from analytics.email_reports.content import as_html, report_content
from analytics.email_reports.delivery import delivery_resend, last_period, report_send_now
from analytics.models import SavedSegment
from analytics.reports.archive import site_today
from analytics.reports.errors import ReportError
from instances.models import Role
from instances.scheduled_reports import ReportDelivery, ScheduledReport
from instances.site_access import site_context, site_role_required


class EmailReportForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=255)
    period = forms.ChoiceField(label=_("Send it"), choices=ScheduledReport.Period.choices, initial="week")
    hour = forms.TypedChoiceField(label=_("At (site time)"), coerce=int, initial=8,
                                  choices=[(h, f"{h:02d}:00") for h in range(24)])
    reports = forms.MultipleChoiceField(label=_("Reports"), choices=catalogue.choices,
                                        widget=forms.SelectMultiple(attrs={"size": 10}))
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    email_me = forms.BooleanField(label=_("Send it to me"), required=False, initial=True)
    additional_emails = forms.CharField(label=_("Also send it to"), required=False,
                                        widget=forms.Textarea(attrs={"rows": 2}),
                                        help_text=_("One address per line."))

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [("", gettext("All visits"))] + [(s.definition, s.name) for s in segments]


def _segments(request):
    return [s for s in SavedSegment.objects.order_by("name") if s.shared or s.owner_id == request.user.pk]


def _initial(report: ScheduledReport) -> dict:
    return {"description": report.description, "period": report.period, "hour": report.hour,
            "reports": report.reports, "segment": report.segment, "email_me": report.email_me,
            "additional_emails": "\n".join(report.additional_emails)}


@require_http_methods(["GET", "POST"])
@site_role_required(Role.VIEW)
def email_reports(request):
    """The list, and the form (new, or `?edit=<id>`)."""
    editing = _own(request, request.GET.get("edit")) if request.GET.get("edit") else None
    form = EmailReportForm(request.POST or None, segments=_segments(request),
                           initial=_initial(editing) if editing else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = reports.report_save(
                user=request.user, site=request.instance, report=editing, description=data["description"],
                period=data["period"], hour=data["hour"], reports=data["reports"], segment=data["segment"],
                email_me=data["email_me"], additional_emails=data["additional_emails"].splitlines(),
                language=request.LANGUAGE_CODE or "en")
        except ReportError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, gettext("Email report “%(name)s” saved.") % {"name": saved.description})
            return redirect(f"/email-reports/?preview={saved.pk}")
    mine = list(reports.reports_visible(request.user, request.instance).prefetch_related("deliveries"))
    for report in mine:
        report.titles = [catalogue.title(method) for method in report.reports]
    return render(request, "dashboard/email_reports.html", site_context(
        request, section="email-reports", form=form, editing=editing, reports=mine,
        preview=request.GET.get("preview", "")))


@require_GET
@xframe_options_sameorigin  # shown in the page's own frame
@csp_replace({"frame-ancestors": [SELF]})
@site_role_required(Role.VIEW)
def email_report_preview(request, report_id: int):
    """The email as it will read for the report's last whole period (charts inline)."""
    report = _own(request, report_id)
    try:
        content = report_content(report, last_period(report.kind, site_today()))
    except (ReportError, ApiError) as error:
        return HttpResponse(format_html("<p>{}</p>", str(error)), status=400)
    with translation.override(report.language or "en"):
        return HttpResponse(as_html(content, inline=True))


@require_POST
@site_role_required(Role.VIEW)
def email_report_act(request, report_id: int):
    """Send now, delete, or resend one of its deliveries."""
    report, action = _own(request, report_id), request.POST.get("action")
    if action == "delete":
        reports.report_delete(request.user, report.pk, request.instance)
        messages.success(request, gettext("Email report deleted."))
    elif action == "send":
        try:
            _said(request, report_send_now(report=report, period=last_period(report.kind, site_today())))
        except ReportError as error:
            messages.error(request, str(error))
    elif action == "resend":
        delivery = ReportDelivery.objects.filter(report=report, pk=request.POST.get("delivery") or 0).first()
        if delivery is None:
            raise Http404
        _said(request, delivery_resend(delivery=delivery))
    return redirect("/email-reports/")


def _said(request, delivery: ReportDelivery) -> None:
    if delivery.state == "sent":
        messages.success(request, gettext("Sent to %(to)s.") % {"to": ", ".join(delivery.recipients)})
    else:
        messages.error(request, gettext("Not sent (%(state)s): %(error)s") % {
            "state": delivery.get_state_display(), "error": delivery.error})


def _own(request, report_id) -> ScheduledReport:
    try:
        return reports.report_get(request.user, int(report_id), request.instance)
    except (ValueError, ReportError):
        raise Http404 from None
