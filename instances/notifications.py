"""Emails sent on lifecycle actions (farm admins hear of requests, requesters of decisions) and
invitations to join a site."""
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from farm.conf import farm_setting
from instances.models import Membership, Role

logger = logging.getLogger(__name__)


def _send(subject_template: str, body_template: str, context: dict, recipients: list[str]) -> None:
    recipients = [r for r in recipients if r]
    if not recipients:
        return
    subject = render_to_string(subject_template, context).strip()
    body = render_to_string(body_template, context)
    send_mail(subject, body, None, recipients)


def notify_admins_of_request(instance, *, reactivation: bool) -> None:
    """Tell every farm superuser with an email address that a request awaits validation."""
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True).exclude(email="")
    context = {"instance": instance, "reactivation": reactivation, "farm_domain": farm_setting("FARM_DOMAIN")}
    _send("emails/request_subject.txt", "emails/request_body.txt", context, [a.email for a in admins])


def notify_owner(instance, *, action: str, reason: str = "") -> None:
    """Tell the requester their site was validated, refused, deactivated or reactivated."""
    owner = instance.owner
    # The farm's language, not whoever clicked: the requester never chose the admin's language.
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "instance": instance, "action": action, "reason": reason, "owner": owner,
            "farm_domain": farm_setting("FARM_DOMAIN"),
        }
        _send("emails/decision_subject.txt", "emails/decision_body.txt", context, [owner.email])


def notify_quota(instance, *, percent: int, hits: int, limit: int, recipients: list[str]) -> None:
    """Tell a site's owner and the farm's admins that it used `percent` of its hits for the month."""
    with translation.override(settings.LANGUAGE_CODE):
        context = {"instance": instance, "percent": percent, "hits": hits, "limit": limit,
                   "farm_domain": farm_setting("FARM_DOMAIN")}
        _send("emails/quota_subject.txt", "emails/quota_body.txt", context, recipients)


def notify_invitation(*, instance, email: str, role: str, invited_by, link: str, days: int) -> None:
    """Send an invitation to join a site to an address (whoever reads it may accept)."""
    with translation.override(settings.LANGUAGE_CODE):
        context = {"instance": instance, "role": Role(role).label, "invited_by": invited_by, "link": link,
                   "days": days}
        _send("emails/invitation_subject.txt", "emails/invitation_body.txt", context, [email])


def site_admin_emails(instance) -> list[str]:
    """The addresses of the site's owner and admins (once each)."""
    admins = Membership.objects.filter(instance=instance, role=Role.ADMIN, user__is_active=True).exclude(
        user__email="").values_list("user__email", flat=True)
    return list(dict.fromkeys([instance.owner.email, *admins]))


def notify_cron_url_state(instance, *, failing: bool, failures: int) -> None:
    """Tell the site's admins their cron URL keeps failing (failing=True), or answers again."""
    from instances.url_guard import url_redacted

    with translation.override(settings.LANGUAGE_CODE):
        context = {"instance": instance, "failing": failing, "failures": failures,
                   "url": url_redacted(instance.cron_url), "farm_domain": farm_setting("FARM_DOMAIN")}
        _send("emails/cron_url_subject.txt", "emails/cron_url_body.txt", context, site_admin_emails(instance))
