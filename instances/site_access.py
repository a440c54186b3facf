"""Who may open a page on a site's own host, and what every such page knows about the visitor's role.

One decorator for every site page (dashboard, reports, tasks, settings): anonymous people go to
the portal's sign-in (single sign-on brings them back), people without the role get a 403 page.
Tenant isolation itself comes from the schema the middleware entered; this checks the role only.
"""
from functools import wraps
from urllib.parse import urlencode

from django.shortcuts import redirect, render

from instances.models import Role
from instances.selectors import instance_allows, instance_role, portal_url
from instances.sso import sso_state_for, sso_state_remember


def to_portal_sign_in(request):
    """Start single sign-on: a sign-in state in this host's cookie, then the portal (see instances.sso)."""
    here = request.build_absolute_uri()
    state = sso_state_for(request)
    response = redirect(portal_url(request, "/sso/start/?" + urlencode({"next": here, "state": state})))
    sso_state_remember(response, state)
    return response


def forbidden(request):
    return render(request, "site/forbidden.html", {"instance": request.instance}, status=403)


def sees_visitors(user, instance) -> bool:
    """Whether the person may see single visitors (visitor log, profiles, latest visits, Live.*): every
    member, unless the site keeps those views for its admins (visitor_views_admins_only)."""
    return not instance.visitor_views_admins_only or instance_allows(user=user, instance=instance, role=Role.ADMIN)


def visitor_views(view):
    """Let a view showing single visitors run only for those who may see them (sees_visitors)."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not sees_visitors(request.user, request.instance):
            return forbidden(request)
        return view(request, *args, **kwargs)
    return wrapper


def site_role_required(role: str = Role.VIEW):
    """Let the view run only for a signed-in person holding `role` (or more) on this site."""
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return to_portal_sign_in(request)
            if not instance_allows(user=request.user, instance=request.instance, role=role):
                return forbidden(request)
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def site_context(request, **extra) -> dict:
    """What the site's navigation needs on every page (role, admin links, the portal), plus `extra`."""
    instance = request.instance
    return {
        "instance": instance,
        "role": instance_role(user=request.user, instance=instance),
        "is_site_admin": instance_allows(user=request.user, instance=instance, role=Role.ADMIN),
        "sees_visitors": sees_visitors(request.user, instance),
        "portal": portal_url(request, "/sites/"),
        "tracker_base": f"//{request.get_host()}/",  # the snippet's tracker URL: this very host
        **extra,
    }
