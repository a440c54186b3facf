"""Views on each site's own host (inside its schema): the dashboard and the SSO landing."""
from urllib.parse import urlencode

from django.contrib.auth import login, logout
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from analytics.models import Visit
from instances.errors import InvalidRequest
from instances.hosts import normalise_host
from instances.models import Role
from instances.selectors import instance_allows, instance_role, portal_url
from instances.sso import sso_ticket_redeem


def _to_portal_sign_in(request):
    here = request.build_absolute_uri()
    return redirect(portal_url(request, "/sso/start/?" + urlencode({"next": here})))


@require_GET
def dashboard(request):
    instance = request.instance
    if not request.user.is_authenticated:
        return _to_portal_sign_in(request)
    if not instance_allows(user=request.user, instance=instance, role=Role.VIEW):
        return render(request, "site/forbidden.html", {"instance": instance}, status=403)
    context = {
        "instance": instance,
        "role": instance_role(user=request.user, instance=instance),
        "visits": Visit.objects.count(),
        "portal": portal_url(request, "/sites/"),
    }
    return render(request, "site/dashboard.html", context)


@require_GET
def sso_accept(request):
    try:
        user = sso_ticket_redeem(ticket=request.GET.get("ticket", ""), host=normalise_host(request.get_host()))
    except InvalidRequest as exc:
        return render(request, "site/sso_error.html", {"message": str(exc), "instance": request.instance},
                      status=400)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    next_path = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(next_path, allowed_hosts=None) or not next_path.startswith("/"):
        next_path = "/"
    return redirect(next_path)


@require_POST
def logout_view(request):
    logout(request)
    return redirect(portal_url(request, "/"))
