"""The per-site daily summary table (SiteDay): the public copy of each site's day totals that All websites reads."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class SiteDay(models.Model):
    """One site's totals for one of its (site-local) days, written by archiving.

    A copy in the public schema of the few numbers the site's own archives already hold, so that "All
    websites", quotas and the farm console read every site in one query instead of one per schema
    (and keep working once schemas live on several database nodes). Weeks, months and ranges are
    sums of days: visits, actions, page views and revenue are additive, as in Matomo's archives.
    """

    instance = models.ForeignKey("instances.Instance", on_delete=models.CASCADE, related_name="days", db_index=False)
    day = models.DateField(_("day"))
    nb_visits = models.PositiveIntegerField(default=0)
    nb_actions = models.PositiveIntegerField(default=0)
    nb_pageviews = models.PositiveIntegerField(default=0)
    revenue = models.FloatField(default=0)
    nb_conversions = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)  # ecommerce orders
    ecommerce_revenue = models.FloatField(default=0)
    archived_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("site day")
        verbose_name_plural = _("site days")
        constraints = [models.UniqueConstraint(fields=["instance", "day"], name="one_summary_per_site_and_day")]

    def __str__(self):
        return f"{self.instance_id} {self.day}: {self.nb_visits} visits"
