"""The quotas' records (public schema): a person's overrides of the farm's defaults, and each
site's hits counted per month with the warnings sent (instances.quotas reads and writes them)."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OwnerQuota(models.Model):
    """One person's quotas, over the farm's defaults (FARM_QUOTA_*); empty: the farm's, 0: no limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quota",
                                verbose_name=_("person"))
    sites = models.PositiveIntegerField(_("sites"), null=True, blank=True,
                                        help_text=_("Sites requested or live at once (deactivated ones do not count)."))
    hits_per_month = models.PositiveBigIntegerField(_("hits a month, per site"), null=True, blank=True)
    storage_mb = models.PositiveIntegerField(_("storage (MB), per site"), null=True, blank=True)

    class Meta:
        verbose_name = _("owner quota")
        verbose_name_plural = _("owner quotas")

    def __str__(self):
        return str(self.user)


class SiteMonthHits(models.Model):
    """The hits a site stored in one month (its first day), and when its owner and the farm's admins
    were told it reached 80 % and 100 % of its quota (each once a month)."""

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="month_hits")
    month = models.DateField()
    hits = models.PositiveBigIntegerField(default=0)
    warned_80_at = models.DateTimeField(null=True, blank=True)
    warned_100_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instance", "month"], name="site_month_hits_unique")]
