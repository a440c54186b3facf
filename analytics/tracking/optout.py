"""The opt-out page (/optout/ on each site's domains and on the portal), meant to be embedded in the
tracked website's privacy policy as an iframe, as Matomo's is.

The choice is a cookie on the host that receives the hits (the site's domain, or the portal for
hits sent there by idsite); the endpoint drops hits that carry it. The form is exempt from Django's
CSRF cookie (a cross-site iframe often cannot keep one) and is guarded instead by the Origin the
browser sends, which must be this very host: another website cannot opt a visitor in or out.
"""
from csp.decorators import csp_replace
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from analytics.tracking.accept import OPT_OUT_COOKIE, OPT_OUT_COOKIES, browser_asks_not_to_track, visitor_opted_out

COOKIE_MAX_AGE = 10 * 365 * 24 * 3600  # "until I change my mind", as Matomo keeps it


def _same_origin(request) -> bool:
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == f"{request.scheme}://{request.get_host()}"
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


def _set_choice(request, response, opted_out: bool) -> None:
    # In a cross-site iframe a cookie needs SameSite=None, which browsers accept only with Secure.
    same_site = "None" if request.is_secure() else "Lax"
    if opted_out:
        response.set_cookie(OPT_OUT_COOKIE, "1", max_age=COOKIE_MAX_AGE, samesite=same_site,
                            secure=request.is_secure(), httponly=True)
    else:
        for name in OPT_OUT_COOKIES:
            response.delete_cookie(name, samesite=same_site)


@csrf_exempt
@xframe_options_exempt
@csp_replace({"frame-ancestors": None})  # sites embed it: any page may frame it
def opt_out(request):
    language = request.GET.get("language", "")
    if translation.check_for_language(language):
        translation.activate(language)
    if request.method == "POST":
        choice = request.POST.get("choice")
        if choice not in ("out", "in") or not _same_origin(request):
            return HttpResponse("This form only accepts a choice sent from this page.\n", status=400,
                                content_type="text/plain; charset=utf-8")
        response = HttpResponseRedirect(request.get_full_path())
        response.status_code = 303
        _set_choice(request, response, opted_out=choice == "out")
        return response
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    instance = getattr(request, "instance", None)
    context = {
        "instance": instance,
        "opted_out": visitor_opted_out(request),
        "do_not_track": (instance is None or instance.honour_do_not_track) and browser_asks_not_to_track(request),
    }
    return render(request, "tracking/optout.html", context)
