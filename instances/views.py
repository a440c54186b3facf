"""Portal views (public schema): sign-up, site requests, my sites (all websites' numbers), members, tokens, SSO start.

Each view parses input, calls one service and renders; domain errors become form errors.
"""
import re
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from instances import board, members, quotas, services
from instances import tokens as token_services
from instances.errors import FarmError
from instances.quotas import QuotaReached
from instances.forms import MemberForm, SignupForm, SiteRequestForm, TokenForm
from instances.hosts import instance_for_host
from instances.models import ApiToken, Instance, Role
from instances.selectors import (
    instance_allows,
    instance_members,
    instance_role,
    instance_site_url,
    instances_for_user,
    portal_url,
)
from instances.sso import sso_state_valid, sso_ticket_make

DIGITS = re.compile(r"[0-9]{1,18}")


def home(request):
    if request.user.is_authenticated:
        return redirect("my-sites")
    return render(request, "portal/home.html")


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignupForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""  # e.g. an invitation to accept once the account exists; never another host
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if next_url:
            return redirect(next_url)
        messages.success(request, _("Welcome! You can now request a site."))
        return redirect("request-site")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@login_required
def my_sites(request):
    """The person's sites with their visits, page views and revenue for the chosen period (instances.board).

    An htmx request (the period picker, the sort and page links) gets the board alone.
    """
    context = board.board_context(sites=instances_for_user(request.user), params=request.GET)
    usage = quotas.usage_many([line.instance for line in context["board"].lines])
    for line in context["board"].lines:
        line.role = instance_role(user=request.user, instance=line.instance)
        line.url = instance_site_url(line.instance, request) if line.instance.is_live else None
        line.usage = usage[line.instance.pk]
    context["sites_quota"] = quotas.sites_quota(request.user)
    template = "portal/_sites_board.html" if request.headers.get("HX-Request") else "portal/my_sites.html"
    return render(request, template, context, status=400 if context["error"] else 200)


@login_required
@require_http_methods(["GET", "POST"])
def request_site(request):
    form = SiteRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            instance = services.instance_request(
                owner=request.user, name=data["name"], slug=data["slug"], purpose=data["purpose"],
                main_url=data["main_url"], timezone_name=data["timezone"],
            )
        except QuotaReached as exc:
            form.add_error(None, str(exc))
        except FarmError as exc:
            form.add_error("slug", str(exc))
        else:
            messages.success(request, _("Your request for “%(slug)s” is recorded; an admin will review it.")
                             % {"slug": instance.slug})
            return redirect("my-sites")
    return render(request, "portal/request_site.html", {"form": form, "sites_quota": quotas.sites_quota(request.user)},
                  status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def site_members(request, slug):
    instance = get_object_or_404(Instance, slug=slug)
    if not instance_allows(user=request.user, instance=instance, role=Role.VIEW):
        return render(request, "portal/forbidden.html", status=403)
    is_admin = instance_allows(user=request.user, instance=instance, role=Role.ADMIN)
    form = MemberForm(request.POST if request.method == "POST" and "who" in request.POST else None)
    if request.method == "POST" and not is_admin:
        return render(request, "portal/forbidden.html", {"message": _("Only the site's admins can manage its members.")},
                      status=403)
    if request.method == "POST":
        remove = request.POST.get("remove", "")
        if remove and not DIGITS.fullmatch(remove):
            return HttpResponseBadRequest(_("Invalid member."))
        try:
            if remove:
                members.member_remove(instance=instance, by=request.user, user_id=int(remove))
                messages.success(request, _("Member removed."))
                return redirect("site-members", slug=slug)
            if form.is_valid():
                data = form.cleaned_data
                if data["email"]:
                    members.member_invite(instance=instance, by=request.user, email=data["email"], role=data["role"],
                                          portal=portal_url(request))
                    messages.success(request, _("Invitation sent to %(email)s: they get the role once they accept "
                                                "it.") % {"email": data["email"]})
                else:
                    members.member_add(instance=instance, by=request.user, username=data["username"],
                                       role=data["role"])
                    messages.success(request, _("Member saved."))
                return redirect("site-members", slug=slug)
        except FarmError as exc:
            form = form if form.is_bound else MemberForm()
            form.add_error(None, str(exc))
    context = {"instance": instance, "members": instance_members(instance), "form": form, "is_admin": is_admin}
    return render(request, "portal/members.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    new_token = None
    form = TokenForm(request.POST if "create" in request.POST else None)
    if request.method == "POST":
        if "revoke" in request.POST:
            token_id = request.POST.get("revoke", "")
            token = ApiToken.objects.filter(pk=token_id, user=request.user).first() if DIGITS.fullmatch(token_id) \
                else None
            if token is None:
                return HttpResponseBadRequest(_("Unknown token."))
            token_services.token_revoke(token=token, by=request.user)
            messages.success(request, _("Token revoked."))
            return redirect("tokens")
        if form.is_valid():
            _token, new_token = token_services.token_create(
                user=request.user, description=form.cleaned_data["description"])
            form = TokenForm()
    context = {"tokens": request.user.api_tokens.all(), "form": form, "new_token": new_token}
    return render(request, "portal/tokens.html", context)


@login_required
def sso_start(request):
    """Send a logged-in person on to a site's own host with a sign-in ticket bound to the site's state.

    Without a state (a bookmarked or hand-made link) the person is sent to the site itself, which
    starts the flow with its own state: a ticket is only ever made for a browser the site asked for.
    """
    parts = urlsplit(request.GET.get("next", ""))
    try:
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return HttpResponseBadRequest(_("Unknown site address."))
    # NB: the redirect is rebuilt from the parsed host and port, never from the raw netloc, so
    # "https://site:80@evil.example/" cannot carry the ticket to another host.
    instance = instance_for_host(host) if host and "@" not in parts.netloc else None
    if instance is None or parts.scheme not in ("http", "https") or (request.is_secure() and parts.scheme != "https"):
        return HttpResponseBadRequest(_("Unknown site address."))
    if not instance_allows(user=request.user, instance=instance, role=Role.VIEW):
        return render(request, "portal/forbidden.html", {"instance": instance}, status=403)
    site = f"{parts.scheme}://{host}{f':{port}' if port else ''}"
    next_path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    state = request.GET.get("state", "")
    if not sso_state_valid(state):
        return redirect(f"{site}{next_path}")
    query = urlencode({"ticket": sso_ticket_make(user=request.user, host=host, state=state), "next": next_path})
    return redirect(f"{site}/sso/accept/?{query}")


@require_http_methods(["GET", "POST"])
def invitation(request, token):
    """An emailed invitation: who invites whom to which site; signed-in people accept it (POST)."""
    try:
        invite = members.invitation_read(token=token)
    except FarmError as exc:
        return render(request, "portal/invitation.html", {"error": str(exc)}, status=400)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            membership = members.invitation_accept(token=token, user=request.user)
        except FarmError as exc:
            return render(request, "portal/invitation.html", {"error": str(exc), "invite": invite}, status=400)
        messages.success(request, _("You are now a member of %(name)s (%(role)s).")
                         % {"name": membership.instance.name, "role": membership.get_role_display()})
        return redirect("my-sites")
    return render(request, "portal/invitation.html", {"invite": invite, "here": request.get_full_path()})
