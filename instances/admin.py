"""The farm console: Django admin for sites, with lifecycle actions that call the services."""
from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from farm.cron.selectors import instance_cron_annotate
from instances import services
from instances.errors import FarmError
from instances.forms import CronUrlFormMixin, ReasonForm
from instances.models import (Anonymisation, ApiToken, DataSubjectAudit, Domain, Instance, Membership, OwnerQuota,
                              StatusChange)
from instances.site_cron import instance_cron_url_set


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ("domain", "is_primary")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class StatusChangeInline(admin.TabularInline):
    model = StatusChange
    extra = 0
    can_delete = False
    fields = ("at", "action", "from_status", "to_status", "by", "reason")
    readonly_fields = fields
    verbose_name_plural = _("audit trail")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def _run(modeladmin, request, queryset, service, done_message, **kwargs):
    """Apply one service to each selected site; report successes and refusals separately."""
    done, refused = [], []
    for instance in queryset:
        try:
            with transaction.atomic():
                service(instance=instance, by=request.user, **kwargs)
            done.append(instance.slug)
        except FarmError as exc:
            refused.append(str(exc))
    if done:
        modeladmin.message_user(request, f"{done_message}: {', '.join(done)}", messages.SUCCESS)
    for message in refused:
        modeladmin.message_user(request, message, messages.ERROR)


def _with_reason(modeladmin, request, queryset, service, done_message, title):
    """Ask for a reason on an intermediate page, then apply the service (like delete_selected)."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        _run(modeladmin, request, queryset, service, done_message, reason=form.cleaned_data["reason"])
        return None
    context = {
        **modeladmin.admin_site.each_context(request), "title": title, "form": form, "queryset": queryset,
        "action": request.POST.get("action"), "opts": modeladmin.model._meta,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/instances/reason.html", context)


@admin.action(description=_("Valider (validate and provision)"))
def validate(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.instance_validate, _("Validated"))


@admin.action(description=_("Refuser (refuse, with a reason)"))
def refuse(modeladmin, request, queryset):
    return _with_reason(modeladmin, request, queryset, services.instance_refuse, _("Refused"), _("Refuse requests"))


@admin.action(description=_("Désactiver (deactivate, with a reason)"))
def deactivate(modeladmin, request, queryset):
    return _with_reason(modeladmin, request, queryset, services.instance_deactivate, _("Deactivated"),
                        _("Deactivate sites"))


@admin.action(description=_("Réactiver (reactivate)"))
def reactivate(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.instance_reactivate, _("Reactivated"))


@admin.action(description=_("Retry provisioning"))
def retry_provisioning(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.instance_provision_retry, _("Provisioning queued"))


@admin.action(description=_("Schedule deletion (after the grace period)"))
def schedule_deletion(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.instance_schedule_deletion, _("Deletion scheduled"))


def _https_by_default(db_field, **kwargs):
    """Form fields as the admin makes them; a URL typed without a scheme gets https:// (as Django 6 will)."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class InstanceAdminForm(CronUrlFormMixin, forms.ModelForm):
    """The admin's site form: the cron URL goes through the SSRF guard, as on the site's Settings page."""

    class Meta:
        model = Instance
        fields = "__all__"
        formfield_callback = _https_by_default



class CronUrlFailingFilter(admin.SimpleListFilter):
    title = _("cron URL")
    parameter_name = "cron_url_state"

    def lookups(self, request, model_admin):
        return (("failing", _("failing")), ("set", _("set")), ("none", _("none")))

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(cron_failing_since__isnull=False)
        if self.value() == "set":
            return queryset.exclude(cron_url="")
        if self.value() == "none":
            return queryset.filter(cron_url="")
        return queryset


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    form = InstanceAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ("slug", "name", "id", "status", "schema_state", "owner", "created_at", "validated_at",
                    "last_task_run", "task_failures_24h", "dispatch_lag", "cron_url_state", "schema_size")
    list_filter = ("status", "schema_state", CronUrlFailingFilter, "created_at")
    search_fields = ("slug", "name", "owner__username", "owner__email", "domains__domain")
    list_select_related = ("owner",)
    autocomplete_fields = ("owner",)
    readonly_fields = (
        "slug", "schema_name", "status", "schema_state", "provisioning_error", "created_at", "validated_at",
        "deactivated_at", "deletion_due_at", "purged_at", "schema_size_bytes", "schema_size_measured_at",
        "cron_failing_since",
    )
    fields = (
        "name", "slug", "owner", "purpose", "timezone", "main_url", "alias_urls", "status", "schema_state",
        "provisioning_error", "schema_name", "created_at", "validated_at", "deactivated_at", "deletion_due_at",
        "purged_at", "schema_size_bytes", "schema_size_measured_at", "quota_hits_per_month", "quota_storage_mb",
        "ip_mask_bytes", "geolocate_masked_ip", "honour_do_not_track", "excluded_ips", "excluded_user_agents",
        "pseudonymise_user_ids", "excluded_query_parameters", "referrer_anonymisation",
        "order_ids", "cookieless", "raw_log_retention_days", "report_retention_months",
        "report_retention_keep_basic_metrics", "report_retention_keep_month_year", "visitor_views_admins_only", "k_anonymity", "cron_url", "cron_every", "cron_failing_since",
    )
    inlines = (DomainInline, MembershipInline, StatusChangeInline)
    actions = (validate, refuse, deactivate, reactivate, retry_provisioning, schedule_deletion)

    def get_queryset(self, request):
        return instance_cron_annotate(super().get_queryset(request))

    @admin.display(description=_("last task run"), ordering="cron_last_run_at")
    def last_task_run(self, obj):
        return obj.cron_last_run_at or "—"

    @admin.display(description=_("task failures (24 h)"))
    def task_failures_24h(self, obj):
        return obj.cron_failures_24h

    @admin.display(description=_("dispatch lag"))
    def dispatch_lag(self, obj):
        lag = obj.cron_dispatch_lag
        return f"{lag.total_seconds():.1f} s" if lag is not None else "—"

    @admin.display(description=_("cron URL"), ordering="cron_failing_since")
    def cron_url_state(self, obj):
        if obj.cron_failing_since:
            return format_html('<strong style="color:#c62828" title="{}">{}</strong>', obj.cron_failing_since,
                               _("failing"))
        return _("every %(n)s min") % {"n": obj.cron_every} if obj.cron_url else "—"

    def save_model(self, request, obj, form, change):
        """Saved as the form says, but the cron URL and schedule through their service (the guard, the
        timetable, the failure flag); if the service refuses, the stored ones stay."""
        stored = Instance.objects.filter(pk=obj.pk).values("cron_url", "cron_every").first() or {}
        wanted = {"url": obj.cron_url, "every": obj.cron_every}
        obj.cron_url, obj.cron_every = stored.get("cron_url", ""), stored.get("cron_every", 1)
        super().save_model(request, obj, form, change)
        if (wanted["url"], wanted["every"]) != (obj.cron_url, obj.cron_every):
            try:
                instance_cron_url_set(instance=obj, **wanted)
            except FarmError as exc:  # its address changed between the form's check and now
                self.message_user(request, str(exc), messages.ERROR)

    @admin.display(description=_("size"), ordering="schema_size_bytes")
    def schema_size(self, obj):
        return filesizeformat(obj.schema_size_bytes) if obj.schema_size_bytes is not None else "—"

    def has_add_permission(self, request):
        # Sites are born from a request (portal or `instance request`), never typed in here.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting goes through deactivation, a grace period and a purge that keeps the audit trail.
        return False


class AuditTrailAdmin(admin.ModelAdmin):
    """An audit trail: read, never written nor rewritten from the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(AuditTrailAdmin):
    list_display = ("at", "instance", "action", "from_status", "to_status", "by", "reason")
    list_filter = ("action", "to_status")
    search_fields = ("instance__slug", "reason")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "description", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "user", "created_at", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request):
        return False


@admin.register(DataSubjectAudit)
class DataSubjectAuditAdmin(AuditTrailAdmin):
    """The GDPR tools' audit trail (analytics.privacy.subjects)."""

    list_display = ("at", "site_name", "login", "action", "visits", "detail")
    list_filter = ("action",)
    search_fields = ("site_name", "login")
    date_hierarchy = "at"


@admin.register(Anonymisation)
class AnonymisationAdmin(AuditTrailAdmin):
    """Anonymisations of stored data (instances.anonymisations): what, for whom, how far along."""

    list_display = ("requested_at", "instance", "requested_by", "describe", "state", "percent", "rows_changed")
    list_filter = ("state",)
    search_fields = ("instance__slug",)


@admin.register(OwnerQuota)
class OwnerQuotaAdmin(admin.ModelAdmin):
    """A person's quotas over the farm's defaults (FARM_QUOTA_*): empty follows the farm, 0 is no limit."""

    list_display = ("user", "sites", "hits_per_month", "storage_mb")
    search_fields = ("user__username", "user__email")
    autocomplete_fields = ("user",)
