"""Email reports' rows (public schema): the reports people schedule and their outbox. Models of the
instances app, kept in their own module (instances.models imports them); the work is in
analytics.email_reports."""
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ScheduledReport(models.Model):
    """An email report of one site for one person, as Matomo's ScheduledReports: chosen reports sent
    daily, weekly or monthly at an hour of the site's timezone (analytics.email_reports). Public
    schema: its id is farm-wide, as Matomo's idreport is (deleteReport takes no idSite)."""

    class Period(models.TextChoices):
        DAY = "day", _("daily")
        WEEK = "week", _("weekly")
        MONTH = "month", _("monthly")
        NEVER = "never", _("never (sent on request only)")

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="scheduled_reports",
                                 verbose_name=_("site"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="scheduled_reports",
                             verbose_name=_("owner"))
    description = models.CharField(_("description"), max_length=255)
    period = models.CharField(_("schedule"), max_length=5, choices=Period.choices, default=Period.WEEK)
    hour = models.PositiveSmallIntegerField(_("hour (site time)"), default=8, validators=[MaxValueValidator(23)])
    reports = models.JSONField(_("reports"), default=list)  # method names, "Actions.getPageUrls"
    segment = models.TextField(_("segment"), blank=True)  # a segment definition, as the API takes it
    email_me = models.BooleanField(_("send it to me"), default=True)
    additional_emails = models.JSONField(_("also send it to"), default=list, blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_sent_at = models.DateTimeField(_("last sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("email report")
        verbose_name_plural = _("email reports")
        ordering = ["description", "id"]

    def __str__(self):
        return f"{self.instance_id}: {self.description}"

    @property
    def kind(self) -> str:
        """The period it reports on: its schedule's, a day for one sent on request only."""
        return "day" if self.period == self.Period.NEVER else self.period

    def recipients(self) -> list[str]:
        """The owner (if "send it to me" and they have an address), then the extra addresses."""
        own = [self.user.email] if self.email_me and self.user.email else []
        return list(dict.fromkeys(own + list(self.additional_emails)))


class ReportDelivery(models.Model):
    """The outbox of email reports: one row per (report, period), claimed before sending and marked
    sent after, so a report goes at most once per period (analytics.email_reports.delivery)."""

    class State(models.TextChoices):
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        UNKNOWN = "unknown", _("unknown: may have gone")

    report = models.ForeignKey(ScheduledReport, on_delete=models.CASCADE, related_name="deliveries")
    period_label = models.CharField(max_length=60)  # "week:2026-11-23", or "now:<when>" for a send on request
    period = models.CharField(max_length=5)
    start = models.DateField()
    forced = models.BooleanField(default=False)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.SENDING)
    attempts = models.PositiveSmallIntegerField(default=1)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "period_label"], name="report_delivery_once")]
        ordering = ["-claimed_at", "-id"]
