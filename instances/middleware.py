"""Routes each request by host: the portal in the public schema, or one live instance's schema.

A deactivated site answers 403 with a clear page, a requested or not-yet-provisioned one 503,
an unknown host 404 — all rendered before any schema is entered (the middleware prefers
failing to leaking). The schema is reset to public after every response.

The tracking endpoint is answered straight from here, without the rest of the middleware chain:
it needs no session, user, CSRF token, language or message, and it is the request the farm
serves most (it is csrf-exempt and reads its cookies itself).
"""
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import resolve

from instances.hosts import instance_for_host, is_portal_host, normalise_host
from instances.models import Status

TENANT_URLCONF = "farm.urls_tenant"
TRACKING_PATHS = {"/matomo.php", "/piwik.php"}


def _tracking(request):
    match = resolve(request.path_info, request.urlconf)
    return match.func(request, *match.args, **match.kwargs)


class InstanceRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        host = normalise_host(request.get_host())
        connection.set_schema_to_public()
        if is_portal_host(host):
            request.instance = None
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            return _tracking(request) if request.path in TRACKING_PATHS else self.get_response(request)

        instance = instance_for_host(host)
        if instance is None:
            return render(request, "site/unknown.html", {"host": host}, status=404)
        request.instance = instance
        if request.path in TRACKING_PATHS:
            if not instance.is_live:
                return HttpResponse(f"{instance.slug} does not accept tracking: it is not a live site.\n",
                                    status=400, content_type="text/plain; charset=utf-8")
            request.urlconf = TENANT_URLCONF
            return _tracking(request)  # hits enter no schema: the ingest workers do
        if instance.status == Status.DESACTIVE:
            return render(request, "site/deactivated.html", {"instance": instance}, status=403)
        if not instance.is_live:
            response = render(request, "site/not_ready.html", {"instance": instance}, status=503)
            response["Retry-After"] = "30"
            return response

        connection.set_tenant(instance)
        request.tenant = instance
        request.urlconf = TENANT_URLCONF
        try:
            return self.get_response(request)
        finally:
            connection.set_schema_to_public()
