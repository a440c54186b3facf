"""The Reporting API's HTTP edge: /index.php, and `/` when the request carries module=API.

Thin: parse the parameters, authenticate, call `methods.answer_bounded`, render. Token calls are
CSRF-exempt (a token is not ambient authority); a POST authenticated by the session cookie goes
through Django's CSRF check like any form. Errors are Matomo's {"result": "error", "message"}
in the asked format, with HTTP 200, or 401 for access (see errors); anything unexpected is logged
and answered the same way, so no input yields a 500.
"""
from functools import wraps

from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from analytics.api import access, formats, methods
from analytics.api.errors import ApiError, unexpected
from analytics.api.params import Params

NOT_ARCHIVED_LISTED = 60


@csrf_exempt
@require_http_methods(["GET", "POST"])
def api(request):
    params = Params.from_request(request)
    if request.method == "POST" and params.token is None:
        return _session_post(request, params)
    if params.token is None and request.user.is_authenticated and _safe(lambda: methods.writes(params)):
        # NB: a link on another site could make a signed-in browser GET this: writes need a token or a POST
        return formats.error(f"{params.get('method')} changes data: send it as a POST from the dashboard (with its "
                             "CSRF token) or with token_auth.", "json", status=403)
    return _answer(request, params)


def _safe(check) -> bool:
    try:
        return check()
    except ApiError:
        return False  # a malformed call is answered as such by _answer


def _answer(request, params: Params):
    fmt = "json"
    try:
        fmt = params.format
        user = access.api_user(request, params)
        data, not_archived = methods.answer_bounded(params, user=user, host=request.instance)
        return _with_not_archived(formats.render(data, fmt), not_archived)
    except ApiError as error:
        return formats.error(error.message, fmt, status=error.status)
    except Exception:  # noqa: BLE001 — the API's last resort: logged in `unexpected`, answered as an error
        return formats.error(unexpected(params.get("method") or "").message, fmt)


def _with_not_archived(response, not_archived: list[str]):
    """Name the periods left to the archiving run: X-Farm-Not-Archived lists the first
    NOT_ARCHIVED_LISTED (space-separated, a proxy's header buffer stays safe), the count says how many."""
    if not_archived:
        response["X-Farm-Not-Archived"] = " ".join(not_archived[:NOT_ARCHIVED_LISTED])
        response["X-Farm-Not-Archived-Count"] = str(len(not_archived))
    return response


_session_post = csrf_protect(_answer)  # NB: a session-authenticated POST keeps Django's CSRF check


def is_api_call(request) -> bool:
    return request.GET.get("module") == "API" or (request.method == "POST" and request.POST.get("module") == "API")


def api_or(view):
    """`view`, unless the request carries module=API (Matomo clients call the API at `/` too).

    The wrapper is CSRF-exempt so token calls reach the API; `view` keeps its CSRF protection.
    """
    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def dispatch(request, *args, **kwargs):
        if is_api_call(request):
            return api(request)
        return protected(request, *args, **kwargs)
    return dispatch
