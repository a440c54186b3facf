"""When an email report is due and how it is sent at most once per period.

Each hour the site's task looks at its reports: a daily report is due for yesterday, a weekly one
for last week, a monthly one for last month, from the report's hour (site timezone) of the first
day after the period, and only for moments after the report was created (no backlog at once).

The outbox (instances.ReportDelivery) has one row per (report, period). The email is built first,
then the row is claimed (the unique key decides between two ticks racing), the email sent and the
row marked "sent"; a send the mail server refused is "failed" and tried again next hour (up to
ATTEMPTS), a report that could not be built is "failed" at once (it would fail the same way again).
A row still "sending" after LEASE belongs to a worker that died mid-send: the server may have taken
the email, so it is marked "unknown" and never sent blindly again; a person resends it from the page.
"""
import logging
import smtplib
from datetime import datetime, time, timedelta
from email.mime.image import MIMEImage
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone
from django.utils import translation

from analytics.api.errors import ApiError
from analytics.email_reports.content import as_html, as_text, report_content
from analytics.reports.errors import ReportError
from analytics.reports.periods import Period
from instances.scheduled_reports import ReportDelivery, ScheduledReport

logger = logging.getLogger(__name__)
LEASE = timedelta(minutes=10)  # NB: a send only (the email is built before its row is claimed); EMAIL_TIMEOUT is 60 s
ATTEMPTS = 3
SEND_NOW_PER_HOUR = 10  # sends on request of one report: the page's button is no mail relay
# Refused before the server took the message: safe to send again. Anything else (a timeout, a
# connection lost after DATA) leaves it unknown whether the email went.
_NOT_TAKEN = (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPAuthenticationError,
              smtplib.SMTPSenderRefused, smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, ConnectionRefusedError)


def last_period(kind: str, today) -> Period:
    """The last whole day, week or month before `today`."""
    return Period.of(kind, Period.of(kind, today).start - timedelta(days=1))


def due_period(report: ScheduledReport, now: datetime) -> Period | None:
    """The period the report is due for at `now`, or None (not its hour yet, or never scheduled)."""
    if report.period == "never":
        return None
    zone = ZoneInfo(report.instance.timezone)
    period = last_period(report.period, now.astimezone(zone).date())
    moment = datetime.combine(period.end + timedelta(days=1), time(report.hour), zone)
    return period if report.created_at <= moment <= now else None


def reports_send_due(*, site, now: datetime | None = None) -> dict:
    """Send the site's due reports; returns {"sent": n, "failed": n, "unknown": n (marked now)}."""
    now = now or dj_timezone.now()
    counts = {"sent": 0, "failed": 0, "unknown": deliveries_mark_unknown(site=site, now=now)}
    for report in ScheduledReport.objects.filter(instance=site).exclude(period="never").select_related("instance",
                                                                                                          "user"):
        period = due_period(report, now)
        if period is None or not _open(report, period):
            continue
        message = _message(report, period)  # NB: built before the claim, which is held only while sending
        delivery = _claim(report, period, now)
        if delivery is not None:
            counts[_send(delivery, report, message)] += 1
    return counts


def report_send_now(*, report: ScheduledReport, period: Period) -> ReportDelivery:
    """Send a report now for `period` (sendReport, the page's "send now"): its own outbox row.
    Raises ReportError past SEND_NOW_PER_HOUR such sends of the report in the last hour."""
    if ReportDelivery.objects.filter(report=report, forced=True,
                                     claimed_at__gte=dj_timezone.now() - timedelta(hours=1)).count() >= SEND_NOW_PER_HOUR:
        raise ReportError(f"This report was sent on request {SEND_NOW_PER_HOUR} times in the last hour: wait a little.")
    message = _message(report, period)
    delivery = ReportDelivery.objects.create(report=report, period_label=f"now:{dj_timezone.now().isoformat()}",
                                             period=period.kind, start=period.start, forced=True)
    _send(delivery, report, message)
    delivery.refresh_from_db()
    return delivery


def delivery_resend(*, delivery: ReportDelivery) -> ReportDelivery:
    """Send again a delivery left "unknown" or "failed", as a person decided (compare-and-set: two
    clicks send once)."""
    report = ScheduledReport.objects.select_related("instance", "user").get(pk=delivery.report_id)
    message = _message(report, Period.of(delivery.period, delivery.start))
    now = dj_timezone.now()
    if ReportDelivery.objects.filter(pk=delivery.pk, state__in=("unknown", "failed")).update(
            state="sending", claimed_at=now, attempts=delivery.attempts + 1):
        delivery.claimed_at = now
        _send(delivery, report, message)
    delivery.refresh_from_db()
    return delivery


def deliveries_mark_unknown(*, site, now: datetime) -> int:
    """Deliveries still "sending" after LEASE: their worker died mid-send. Returns how many."""
    return ReportDelivery.objects.filter(report__instance=site, state="sending", claimed_at__lt=now - LEASE).update(
        state="unknown", error="The worker stopped while sending: the email may or may not have gone. "
                               "Resend it from the Email reports page if it did not arrive.")


def _open(report, period: Period) -> bool:
    """Whether the period's outbox row is still to be claimed (none yet, or a failure to try again)."""
    row = ReportDelivery.objects.filter(report=report, period_label=_label(period)).values("state", "attempts").first()
    return row is None or (row["state"] == "failed" and row["attempts"] < ATTEMPTS)


def _label(period: Period) -> str:
    return f"{period.kind}:{period.start}"


def _claim(report, period: Period, now: datetime) -> ReportDelivery | None:
    """The outbox row of (report, period), now "sending" and ours; None when another tick has it."""
    label = _label(period)
    try:
        with transaction.atomic():
            return ReportDelivery.objects.create(report=report, period_label=label, period=period.kind,
                                                 start=period.start, claimed_at=now)
    except IntegrityError:  # NB: the unique (report, period_label): another tick claimed it first
        pass
    row = ReportDelivery.objects.filter(report=report, period_label=label, state="failed",
                                        attempts__lt=ATTEMPTS).first()
    if row is not None and ReportDelivery.objects.filter(pk=row.pk, state="failed", attempts=row.attempts).update(
            state="sending", claimed_at=now, attempts=row.attempts + 1):
        row.refresh_from_db()
        return row
    return None


def _message(report: ScheduledReport, period: Period) -> EmailMultiAlternatives | str:
    """The email, or why it cannot be built (nothing is sent then: the delivery is "failed")."""
    recipients = report.recipients()
    if not recipients:
        return "No recipient: tick “send it to me” (with an email address on your account) or add one."
    try:
        content = report_content(report, period)
        with translation.override(report.language or "en"):
            message = EmailMultiAlternatives(content.subject, as_text(content), settings.DEFAULT_FROM_EMAIL,
                                             recipients)
            message.attach_alternative(as_html(content), "text/html")
        message.mixed_subtype = "related"  # NB: the charts are parts the HTML shows by Content-ID
        for n, section in enumerate(content.sections):
            image = MIMEImage(section.chart, "png")
            image.add_header("Content-ID", f"<chart-{n}>")
            image.add_header("Content-Disposition", "inline", filename=f"chart-{n}.png")
            message.attach(image)
        message.attach(f"{report.instance.slug}-{period.kind}-{period.start}.csv", content.csv(), "text/csv")
        message.message()  # NB: headers checked now (a line break in the subject), not mid-send
    except (ReportError, ApiError, BadHeaderError) as error:
        return str(error)
    except Exception as error:  # noqa: BLE001 — recorded as "failed" (nothing went), never left "sending"
        logger.exception("email report %s not built", report.pk)
        return f"The report could not be built ({type(error).__name__}); the farm's logs say more."
    return message


def _send(delivery: ReportDelivery, report: ScheduledReport, message) -> str:
    """Send a claimed delivery's email (or record why it was not built); record and return its state."""
    if isinstance(message, str):
        return _record(delivery, "failed", error=message, final=True)
    try:
        message.send()
    except _NOT_TAKEN as error:
        return _record(delivery, "failed", error=f"The mail server refused it: {error}", recipients=message.to)
    except (OSError, smtplib.SMTPException) as error:
        return _record(delivery, "unknown", error=f"Sending was cut off ({error}): the email may or may not have "
                                                  "gone; resend it if it did not arrive.", recipients=message.to)
    ScheduledReport.objects.filter(pk=report.pk).update(last_sent_at=dj_timezone.now())
    return _record(delivery, "sent", recipients=message.to)


def _record(delivery, state: str, *, recipients: list[str] = (), error: str = "", final: bool = False) -> str:
    """Record how a send ended, if the delivery is still the one we claimed (compare-and-set: a row
    marked "unknown" meanwhile, or resent, stays as it is)."""
    fields = {"state": state, "error": error[:2000], "recipients": list(recipients)}
    if state == "sent":
        fields["sent_at"] = dj_timezone.now()
    if final:
        fields["attempts"] = ATTEMPTS  # NB: building it failed; the next hour would fail the same way
    ReportDelivery.objects.filter(pk=delivery.pk, state="sending", claimed_at=delivery.claimed_at).update(**fields)
    if state != "sent":
        logger.warning("email report %s (%s) %s: %s", delivery.report_id, delivery.period_label, state, error)
    return state
