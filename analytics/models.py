"""Per-site analytics tables (in each tenant schema). The tracking issue fills them in."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class Visit(models.Model):
    """One visit (session) of one visitor, as Matomo's log_visit keeps it."""

    visitor_id = models.CharField(_("visitor id"), max_length=16, db_index=True)
    first_action_at = models.DateTimeField(_("first action"), db_index=True)
    last_action_at = models.DateTimeField(_("last action"))
    actions = models.PositiveIntegerField(_("actions"), default=0)
    entry_url = models.TextField(_("entry page"), blank=True)
    exit_url = models.TextField(_("exit page"), blank=True)
    referrer_url = models.TextField(_("referrer"), blank=True)
    returning = models.BooleanField(_("returning visitor"), default=False)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    @property
    def duration_seconds(self) -> int:
        return int((self.last_action_at - self.first_action_at).total_seconds())
