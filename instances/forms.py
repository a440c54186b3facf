"""Portal forms: sign-up, site request, members, tokens, the admin's reason form, and site settings."""
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from instances.models import TIMEZONE_CHOICES, Instance, Role
from instances.url_guard import UrlRefused, url_check, url_redacted, url_with_password_of


class SignupForm(UserCreationForm):
    email = forms.EmailField(label=_("Email"), help_text=_("We write to you when your site is validated."))

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class SiteRequestForm(forms.Form):
    name = forms.CharField(label=_("Site name"), max_length=200)
    slug = forms.CharField(
        label=_("Address"), max_length=40,
        help_text=_("Your site will answer at <address>.<farm domain>: lowercase letters, digits and hyphens."),
    )
    main_url = forms.URLField(
        label=_("Website URL"), required=False, max_length=500, assume_scheme="https",
        help_text=_("The website its analytics will track; leave empty to use the site's own address."),
    )
    timezone = forms.ChoiceField(label=_("Timezone"), choices=TIMEZONE_CHOICES, initial="UTC")
    purpose = forms.CharField(label=_("What is it for?"), widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberForm(forms.Form):
    """A username (the account gets the role at once) or an email address (it gets an invitation)."""

    who = forms.CharField(
        label=_("Username or email"), max_length=254,
        help_text=_("An email address receives an invitation link: the role is given once it is accepted."))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEW)

    def clean(self):
        data = super().clean()
        who = (data.get("who") or "").strip()
        try:
            validate_email(who)
        except ValidationError:
            data["email"], data["username"] = "", who
        else:
            data["email"], data["username"] = who, ""
        return data


class TokenForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=200, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class CronUrlFormMixin:
    """The cron URL field, checked by the SSRF guard; a password in it is shown back as "***" (and a
    URL sent back unchanged keeps the stored one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.cron_url if self.instance and self.instance.pk else ""
        self._stored_cron_url = stored
        if "cron_url" in self.fields and not self.is_bound:
            self.initial["cron_url"] = url_redacted(stored)
        if "cron_every" in self.fields:
            self.fields["cron_every"].required = False  # a form without it keeps the site's choice

    def clean_cron_every(self):
        every = self.cleaned_data.get("cron_every")
        return every if every not in (None, "") else (self.instance.cron_every if self.instance.pk else 1)

    def clean_cron_url(self):
        url = (self.cleaned_data.get("cron_url") or "").strip()
        if url and url == url_redacted(self._stored_cron_url):
            return self._stored_cron_url
        try:
            url = url_with_password_of(url, self._stored_cron_url)  # "***" kept while editing the rest
        except UrlRefused as exc:
            raise ValidationError(str(exc)) from None
        if url:
            try:
                url_check(url)
            except UrlRefused as exc:
                raise ValidationError(str(exc)) from None
        return url


class SiteSettingsForm(CronUrlFormMixin, forms.ModelForm):
    """What a site admin may change on their own site: its clock, its privacy at the door, its cron URL."""

    timezone = forms.ChoiceField(label=_("Timezone"), choices=TIMEZONE_CHOICES,
                                 help_text=_("Days, reports and scheduled tasks follow this timezone."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("k_anonymity", "referrer_anonymisation", "order_ids"):
            self.fields[name].required = False  # left out (an older form, a script): kept as it is

    def clean_k_anonymity(self):
        value = self.cleaned_data.get("k_anonymity")
        return self.instance.k_anonymity if value is None else value

    def clean_referrer_anonymisation(self):
        return self.cleaned_data.get("referrer_anonymisation") or self.instance.referrer_anonymisation

    def clean_order_ids(self):
        return self.cleaned_data.get("order_ids") or self.instance.order_ids

    class Meta:
        model = Instance
        fields = ("timezone", "ip_mask_bytes", "geolocate_masked_ip", "honour_do_not_track", "excluded_ips",
                  "excluded_user_agents", "pseudonymise_user_ids", "excluded_query_parameters",
                  "referrer_anonymisation", "order_ids", "cookieless", "raw_log_retention_days",
                  "report_retention_months", "report_retention_keep_basic_metrics",
                  "report_retention_keep_month_year", "visitor_views_admins_only", "k_anonymity",
                  "cron_url", "cron_every")
        widgets = {"excluded_ips": forms.Textarea(attrs={"rows": 4}),
                   "excluded_user_agents": forms.Textarea(attrs={"rows": 3}),
                   "excluded_query_parameters": forms.Textarea(attrs={"rows": 3}),
                   "cron_url": forms.TextInput(attrs={"placeholder": "https://www.example.org/spip.php?action=cron"})}

