"""Creating, changing and listing email reports (instances.ScheduledReport): one set of checks for
the ScheduledReports API and the dashboard's Email reports page."""
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet

from analytics.email_reports import catalogue
from analytics.reports.errors import ReportError
from analytics.segments import grammar
from farm.cron.periods import Schedule
from farm.cron.timetable import timetable_task_remove, timetable_task_set
from instances.models import Role
from instances.scheduled_reports import ScheduledReport
from instances.selectors import instance_allows

MAX_EMAILS = 20
TASK_NAME = "analytics.email_reports.tasks.send_email_reports"  # its sending task, opt-in per site


class ReportNotFound(ReportError):
    pass


def report_save(*, user, site, report: ScheduledReport | None = None, description: str, period: str, hour: int,
                reports: list[str], segment: str = "", email_me: bool = True, additional_emails=(),
                language: str = "en") -> ScheduledReport:
    """Create (or change `report`) after checking every field; raises ReportError saying what to fix."""
    if not instance_allows(user=user, instance=site, role=Role.VIEW):
        raise ReportNotFound("You can't access this resource as it requires 'view' access for the website id = "
                             f"{site.pk}.")
    description = (description or "").strip()
    if not description or len(description) > 255 or any(ord(c) < 32 for c in description):
        raise ReportError("Give the report a description of 1 to 255 characters on one line.")
    if period not in ScheduledReport.Period.values:
        raise ReportError(f"period must be one of {', '.join(ScheduledReport.Period.values)}, not “{period[:20]}”.")
    if not 0 <= hour <= 23:
        raise ReportError(f"hour must be from 0 to 23 (the site's time), not {hour}.")
    try:
        methods = catalogue.methods(reports)
    except catalogue.UnknownReports as error:
        raise ReportError(str(error)) from None
    if segment:
        grammar.parse(segment)  # raises SegmentError, a ReportError, naming what is wrong
    emails = [email.strip() for email in additional_emails if email.strip()]
    for email in emails:
        try:
            validate_email(email)
        except ValidationError:
            raise ReportError(f"“{email[:100]}” is not an email address.") from None
    if len(emails) > MAX_EMAILS:
        raise ReportError(f"At most {MAX_EMAILS} extra addresses.")
    fields = {"description": description, "period": period, "hour": hour, "reports": methods, "segment": segment,
              "email_me": email_me, "additional_emails": emails, "language": language}
    if report is None:
        report = ScheduledReport.objects.create(instance=site, user=user, **fields)
        timetable_task_set(tenant=site, name=TASK_NAME, schedule=Schedule(period="hourly"))  # on while it has some
        return report
    ScheduledReport.objects.filter(pk=report.pk).update(**fields)
    report.refresh_from_db()
    return report


def reports_visible(user, site=None) -> QuerySet:
    """The person's own reports (every one for a farm superuser), of one site if given."""
    reports = ScheduledReport.objects.select_related("instance", "user")
    if not user.is_superuser:
        reports = reports.filter(user=user)
    return reports.filter(instance=site) if site is not None else reports


def report_get(user, report_id: int, site=None) -> ScheduledReport:
    """One of the person's reports; as Matomo, "couldn't be found" for someone else's."""
    report = reports_visible(user, site).filter(pk=report_id).first()
    if report is None or not instance_allows(user=user, instance=report.instance, role=Role.VIEW):
        raise ReportNotFound("Requested report couldn't be found.")
    return report


@transaction.atomic
def report_delete(user, report_id: int, site=None) -> None:
    """Delete one of the person's reports (its outbox goes with it); the site's last one turns its
    sending task off."""
    report = report_get(user, report_id, site)
    report.delete()
    if not ScheduledReport.objects.filter(instance_id=report.instance_id).exists():
        timetable_task_remove(tenant_id=report.instance_id, name=TASK_NAME)
