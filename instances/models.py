"""The public-schema tables: Instance (the tenant), Domain, StatusChange, Membership, ApiToken, DaySalt."""
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_tenants.models import DomainMixin, TenantMixin

from instances.privacy import validate_excluded_ips
from instances.summaries import SiteDay  # noqa: F401  (a model of this app, kept in its own module)
from instances.scheduled_reports import ReportDelivery, ScheduledReport  # noqa: F401  (models of this app)
from instances.quota_models import OwnerQuota, SiteMonthHits  # noqa: F401  (models of this app)


class Status(models.TextChoices):
    """The three statuses a person sees, stored as SPIP stores its own."""

    PREPA = "prepa", _("demandé")
    PUBLIE = "publie", _("validé")
    DESACTIVE = "desactive", _("désactivé")


class SchemaState(models.TextChoices):
    """Where the instance's PostgreSQL schema stands; operational, not a status."""

    NONE = "none", _("none")
    PROVISIONING = "provisioning", _("provisioning")
    READY = "ready", _("ready")
    FAILED = "failed", _("failed")


TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


def validate_timezone(value: str) -> None:
    """Accept IANA names only; kept out of `choices` so tzdata updates need no migration."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known timezone (use a name like Europe/Paris)."),
                              params={"value": value})


CRON_EVERY_CHOICES = [(1, pgettext_lazy("cron URL schedule", "every minute")), (5, _("every 5 minutes")),
                      (15, _("every 15 minutes")), (60, _("every hour"))]


class Instance(TenantMixin):
    """One site of the farm. Its `schema_name` is derived from its slug; its `id` is its idsite."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.CharField(_("slug"), max_length=63, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_instances",
        verbose_name=_("owner"),
    )
    purpose = models.TextField(_("purpose"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PREPA, db_index=True
    )
    schema_state = models.CharField(
        _("schema state"), max_length=12, choices=SchemaState.choices, default=SchemaState.NONE
    )
    provisioning_error = models.TextField(_("last provisioning error"), blank=True)
    timezone = models.CharField(_("timezone"), max_length=64, validators=[validate_timezone], default="UTC")
    main_url = models.URLField(_("main URL"), max_length=500, blank=True)
    alias_urls = models.JSONField(_("alias URLs"), default=list, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    validated_at = models.DateTimeField(_("validated at"), null=True, blank=True)
    deactivated_at = models.DateTimeField(_("deactivated at"), null=True, blank=True)
    deletion_due_at = models.DateTimeField(_("deletion due at"), null=True, blank=True)
    purged_at = models.DateTimeField(_("purged at"), null=True, blank=True)
    schema_size_bytes = models.BigIntegerField(_("schema size (bytes)"), null=True, blank=True)
    schema_size_measured_at = models.DateTimeField(_("size measured at"), null=True, blank=True)

    # Privacy at the door (applied before a hit is queued; defaults are the privacy-first ones).
    ip_mask_bytes = models.PositiveSmallIntegerField(
        _("IP anonymisation"), default=2,
        choices=[(0, _("keep the full address")), (1, _("mask 1 byte (192.0.2.xxx)")),
                 (2, _("mask 2 bytes (192.0.xxx.xxx)")), (3, _("mask 3 bytes (192.xxx.xxx.xxx)"))],
        help_text=_("Applied before anything is stored; IPv6 keeps a /64, /48 or /32 prefix."))
    honour_do_not_track = models.BooleanField(
        _("honour Do Not Track"), default=True,
        help_text=_("Visitors whose browser sends Do Not Track or Global Privacy Control are not recorded."))
    excluded_ips = models.TextField(
        _("excluded IP addresses"), blank=True, validators=[validate_excluded_ips],
        help_text=_("One per line: 192.0.2.7, 10.0.0.0/8, 192.168.*.* or 2001:db8::/32."))
    excluded_user_agents = models.TextField(
        _("excluded user agents"), blank=True,
        help_text=_("One per line; a visitor whose user agent contains one of them is not recorded."))
    geolocate_masked_ip = models.BooleanField(
        _("use the masked address for geolocation"), default=False,
        help_text=_("Off: the country comes from the full address, looked up at the door and never stored. "
                    "On: from the masked address (less accurate)."))

    # What a hit's URLs and user id become before they are queued (instances.privacy, at the door).
    pseudonymise_user_ids = models.BooleanField(
        _("pseudonymise user ids"), default=False,
        help_text=_("On: a user id is replaced by a keyed hash of it before anything is stored (the same person "
                    "keeps the same pseudonym on this site). The ids already stored are kept as they are."))
    excluded_query_parameters = models.TextField(
        _("URL query parameters to remove"), blank=True,
        help_text=_("One per line, removed from page and referrer URLs before they are stored, besides Matomo's "
                    "list of click and session ids (gclid, fbclid, msclkid, phpsessid, jsessionid, sessionid, sid…)."))
    referrer_anonymisation = models.CharField(
        _("referrer URLs"), max_length=8, default="none",
        choices=[("none", _("keep them as sent")), ("query", _("remove their query")),
                 ("path", _("keep the domain only"))],
        help_text=_("The referrer's type, name and search keyword are read first; only the URL is shortened."))
    order_ids = models.CharField(
        _("ecommerce order ids"), max_length=5, default="keep",
        choices=[("keep", _("keep them as sent")), ("short", _("replace them by a short code")),
                 ("drop", _("do not store them"))],
        help_text=_("A short code is a keyed hash of the id: a repeated order still counts once, but the code "
                    "cannot be matched with your shop's order book. Not stored: a repeated order counts again."))
    cookieless = models.BooleanField(
        _("cookieless tracking"), default=False,
        help_text=_("On: the farm's tracker stores nothing on the visitor's device (no cookie, no local "
                    "storage) and visitors are recognised by their browser's configuration alone, as for a "
                    "visitor without cookies: a returning visitor is not recognised from one day to the next."))

    # Retention (analytics.privacy.retention, a daily task of the site): raw logs are deleted once
    # older than this and archived; the reports stay.
    raw_log_retention_days = models.PositiveIntegerField(
        _("delete raw logs older than (days)"), null=True, blank=True, validators=[MinValueValidator(1)],
        help_text=_("Empty: raw logs are kept. Each day, visits, actions, conversions and media sessions older "
                    "than this are deleted, only once their day's reports are archived; the reports stay. The "
                    "visitor log, visitor profiles and new segments then reach back this far only."))

    # Report retention (analytics.privacy.reports_retention, the same daily task): Matomo's "delete old
    # aggregated report data", counted in whole months before the current one.
    report_retention_months = models.PositiveIntegerField(
        _("delete reports older than (months)"), null=True, blank=True, validators=[MinValueValidator(2)],
        help_text=_("Empty: reports are kept. At least 2; the current month is not counted. Reports of days "
                    "and weeks that ended before are deleted each day, and those of months and years unless kept "
                    "below; a deleted report is not rebuilt, even where raw logs are still kept."))
    report_retention_keep_basic_metrics = models.BooleanField(
        _("keep basic metrics"), default=True,
        help_text=_("Visits, unique visitors, users, actions, bounces, visit time, conversions and revenue of "
                    "the deleted periods stay (the visits summary and goals overview), only their detailed "
                    "reports go."))
    report_retention_keep_month_year = models.BooleanField(
        _("keep month and year reports"), default=True,
        help_text=_("On: only the reports of days and weeks are deleted. Off: those of months and years too, "
                    "and the current year's report stops growing once its first months are deleted."))

    visitor_views_admins_only = models.BooleanField(
        _("visitor log and profiles for site admins only"), default=False,
        help_text=_("On: members with the view or write role see reports, but not the visitor log, visitor "
                    "profiles, the latest visits of the real-time page, the audience log nor Live.* in the API."))

    k_anonymity = models.PositiveSmallIntegerField(
        _("k-anonymity floor of segmented reports"), default=5,
        validators=[MinValueValidator(2), MaxValueValidator(100)],
        help_text=_("A report narrowed by a segment never shows a row describing fewer visitors than this: such "
                    "rows are folded into “Other” or withheld. At least 2; 5 by default."))

    # The site's own cron, called by the farm's super cron (instances.site_cron); set through
    # instances.site_cron.instance_cron_url_set, which checks the URL (SSRF guard) and schedules it.
    cron_url = models.CharField(  # not a URLField: instances.url_guard checks it (http(s) only, public hosts)
        _("cron URL"), max_length=2000, blank=True,
        help_text=_("Your site's own cron, which the farm calls on schedule so its tasks run even without "
                    "visits: SPIP https://www.example.org/spip.php?action=cron, WordPress "
                    "https://www.example.org/wp-cron.php?doing_wp_cron, Drupal https://www.example.org/cron/KEY. "
                    "Leave empty to call nothing."))
    cron_every = models.PositiveSmallIntegerField(
        _("call it"), default=1, choices=CRON_EVERY_CHOICES)
    cron_failing_since = models.DateTimeField(
        _("cron URL failing since"), null=True, blank=True,
        help_text=_("Set once the cron URL failed FARM_CRON_URL_FAILURE_ALERT times in a row; cleared when it "
                    "answers again."))

    # Quotas (instances.quotas): empty follows the owner's, then the farm's (FARM_QUOTA_*); 0 is no limit.
    quota_hits_per_month = models.PositiveBigIntegerField(
        _("hits a month"), null=True, blank=True,
        help_text=_("Past it, this month's hits are not stored (trackers are answered as usual). Empty: the "
                    "owner's quota, else the farm's; 0: no limit."))
    quota_storage_mb = models.PositiveIntegerField(
        _("storage (MB)"), null=True, blank=True,
        help_text=_("Past it (as the daily size measure finds it), hits are not stored. Empty: the owner's quota, "
                    "else the farm's; 0: no limit."))

    # Provisioning is ours (instances.provisioning), never a side effect of save().
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["-created_at"]

    def __str__(self):
        return self.slug

    @property
    def idsite(self) -> int:
        """The small integer Matomo tracking clients use to name this site."""
        return self.pk

    @property
    def is_live(self) -> bool:
        """Validated and provisioned: the only state in which the site serves or stores data."""
        return self.status == Status.PUBLIE and self.schema_state == SchemaState.READY


class Domain(DomainMixin):
    """A host name answering for an instance: `<slug>.<FARM_DOMAIN>` plus custom domains."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self):
        return self.domain


class StatusChange(models.Model):
    """The audit trail: one row per lifecycle action, kept even after a purge."""

    class Action(models.TextChoices):
        REQUEST = "request", _("requested")
        REACTIVATION_REQUEST = "reactivation_request", _("reactivation requested")
        VALIDATE = "validate", _("validated")
        REFUSE = "refuse", _("refused")
        DEACTIVATE = "deactivate", _("deactivated")
        REACTIVATE = "reactivate", _("reactivated")
        SCHEDULE_DELETION = "schedule_deletion", _("deletion scheduled")
        PURGE = "purge", _("purged")

    instance = models.ForeignKey(Instance, on_delete=models.PROTECT, related_name="status_changes")
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    from_status = models.CharField(_("from"), max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=12, choices=Status.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("by"),
    )
    reason = models.TextField(_("reason"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.instance_id}: {self.from_status or '∅'} → {self.to_status} ({self.action})"


class DataSubjectAudit(models.Model):
    """The audit trail of the GDPR tools: one row per search, export or deletion of a site's data
    subjects (analytics.privacy.subjects), who did it and how many visits it touched. Kept in the
    public schema, so the farm console lists every site's, and kept after the site is purged."""

    class Action(models.TextChoices):
        FIND = "find", _("search")
        EXPORT = "export", _("export")
        DELETE = "delete", _("deletion")

    instance = models.ForeignKey(Instance, null=True, on_delete=models.SET_NULL, related_name="data_subject_audits",
                                 verbose_name=_("site"))
    site_name = models.CharField(_("site name"), max_length=200)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+", verbose_name=_("by"))
    login = models.CharField(_("login"), max_length=150)
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    visits = models.PositiveIntegerField(_("visits"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)  # the search, or the rows deleted per table
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("GDPR action")
        verbose_name_plural = _("GDPR actions")
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.site_name}: {self.login} {self.action} {self.visits}"


class Anonymisation(models.Model):
    """A site's stored rows made more private after the fact: when a site admin chooses a stricter
    setting (Settings page), or PrivacyManager.anonymizeSomeRawData asks for a date range. Run by the
    site's task analytics.privacy.tasks.anonymise_stored_rows (analytics.privacy.anonymise), which
    records its progress here for the Settings page. Public schema, like the audit trail."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("scheduled")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="anonymisations",
                                 verbose_name=_("site"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # Rows of visits that started on these site-local days (None: from the first, to the last);
    # only rows stored before the request: those after it were stored under the new settings.
    first_day = models.DateField(_("from"), null=True, blank=True)
    last_day = models.DateField(_("to"), null=True, blank=True)
    ip_mask_bytes = models.PositiveSmallIntegerField(_("mask IP addresses"), null=True, blank=True)
    relocate = models.BooleanField(_("country from the masked address"), default=False)
    pseudonymise_user_ids = models.BooleanField(_("pseudonymise user ids"), default=False)
    referrer_anonymisation = models.CharField(_("referrer URLs"), max_length=8, blank=True)
    order_ids = models.CharField(_("ecommerce order ids"), max_length=5, blank=True)
    unset_visit_columns = models.JSONField(_("visit columns emptied"), default=list, blank=True)
    unset_action_columns = models.JSONField(_("action columns emptied"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=9, choices=State.choices, default=State.SCHEDULED)
    visits_total = models.PositiveIntegerField(_("visits to go through"), null=True, blank=True)
    visits_done = models.PositiveIntegerField(_("visits gone through"), default=0)
    last_visit_id = models.BigIntegerField(default=0)  # the cursor: visits up to this one are done
    rows_changed = models.JSONField(_("rows changed"), default=dict, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("anonymisation of stored data")
        verbose_name_plural = _("anonymisations of stored data")
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.instance_id}: {self.describe()} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return int(100 * self.visits_done / self.visits_total) if self.visits_total else 0

    def describe(self) -> str:
        """What it does, in words, for the Settings page and the admin."""
        parts = []
        if self.ip_mask_bytes:
            parts.append(_("IP addresses masked to %(n)s bytes") % {"n": self.ip_mask_bytes})
        if self.relocate:
            parts.append(_("countries read from the masked addresses"))
        if self.pseudonymise_user_ids:
            parts.append(_("user ids pseudonymised"))
        if self.referrer_anonymisation:
            parts.append(_("referrer URLs shortened (%(level)s)") % {"level": self.referrer_anonymisation})
        if self.order_ids:
            parts.append(_("order ids coded") if self.order_ids == "short" else _("order ids removed"))
        for column in [*self.unset_visit_columns, *self.unset_action_columns]:
            parts.append(_("%(column)s emptied") % {"column": column})
        return ", ".join(str(part) for part in parts)


class Role(models.TextChoices):
    """Per-site roles, each including the ones before it."""

    VIEW = "view", _("view")
    WRITE = "write", _("write")
    ADMIN = "admin", _("admin")


ROLE_RANK = {Role.VIEW: 1, Role.WRITE: 2, Role.ADMIN: 3}


class Membership(models.Model):
    """A person's role on one site (the owner is admin without a row)."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=8, choices=Role.choices, default=Role.VIEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        constraints = [models.UniqueConstraint(fields=["instance", "user"], name="one_role_per_user_and_site")]

    def __str__(self):
        return f"{self.user} ({self.role}) on {self.instance}"


class ApiToken(models.Model):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    description = models.CharField(_("description"), max_length=200, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.description or self.user})"


class DaySalt(models.Model):
    """A random salt for one day's visitor recognition (instances.salts): it keys the digest that
    stands for a visitor's full address. Deleted about two days later, so days cannot be linked."""

    day = models.DateField(unique=True)
    salt = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("day salt")
        verbose_name_plural = _("day salts")

    def __str__(self):
        return str(self.day)
