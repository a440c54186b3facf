"""The Matomo-compatible tracking endpoint (/matomo.php, /piwik.php), on the portal and every site.

Thin: parse the request(s), call `accept_hit` for each, queue what was accepted, answer as Matomo
clients expect (GIF, 204, or the bulk JSON). Refusals are 400 with a message, never a 500.
"""
import base64
import json
from pathlib import Path
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from analytics.tracking.accept import Grants, Refused, accept_hit
from analytics.tracking.params import InvalidParameter
from analytics.tracking.queue import hits_enqueue

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BULK = 10_000
MAX_BODY = 16 * 1024 * 1024  # a bulk import of MAX_BULK log lines of up to ~1.6 KB each


def _cors(request, response):
    origin = request.headers.get("Origin")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    else:
        response["Access-Control-Allow-Origin"] = "*"
    return response


def _refuse(request, message: str, status: int = 400):
    return _cors(request, HttpResponse(message + "\n", status=status, content_type="text/plain; charset=utf-8"))


def _too_large(request):
    """A body over MAX_BODY: a JSON answer in the bulk endpoint's shape (Matomo's BulkTracking
    error), with CORS headers so a browser-side sender can read why."""
    answer = {"status": "error", "tracked": 0, "invalid": 0,
              "message": f"request body too large: at most {MAX_BODY} bytes ({MAX_BULK} requests per bulk)"}
    return _cors(request, JsonResponse(answer, status=413))


def _body(request) -> bytes | None:
    """The request body read under the endpoint's own limit, or None when it is over it.

    NB: read from the stream, not `request.body`: Django refuses a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), too small for a bulk import, and that setting stays the
    limit of every other view."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY:
        return None
    body = request.read(MAX_BODY + 1)
    return None if len(body) > MAX_BODY else body


def _form(request, body: bytes) -> dict:
    """A form POST's fields, as Django would read them (multipart through its parser and limits)."""
    if request.content_type == "multipart/form-data":
        return request.POST.dict()
    if request.content_type == "application/x-www-form-urlencoded" and body:
        return QueryDict(body, encoding=request.encoding).dict()
    return {}


def _image(request, send_image: bool):
    response = HttpResponse(GIF, content_type="image/gif") if send_image else HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return _cors(request, response)


def _bulk(request, body: dict):
    requests = body.get("requests")
    if not isinstance(requests, list) or len(requests) > MAX_BULK:
        return _refuse(request, f"bulk body must hold a 'requests' list of at most {MAX_BULK} requests")
    token = body.get("token_auth") if isinstance(body.get("token_auth"), str) else None
    grants = Grants()  # the token is checked once for the whole bulk, not per hit
    authenticated = grants.user(token) is not None
    entries, invalid, errors = [], [], []
    for index, item in enumerate(requests):
        try:
            if isinstance(item, str):
                raw = dict(parse_qsl(item.split("?", 1)[-1], keep_blank_values=True))
            elif isinstance(item, dict):
                raw = item
            else:
                raise InvalidParameter("(request)", "must be a query string or a JSON object")
            entry = accept_hit(request, raw, token=token, grants=grants)
        except (InvalidParameter, Refused) as exc:
            invalid.append(index)
            errors.append(f"request {index}: {exc}")
            continue
        if entry is not None:
            entries.append(entry)
    lost = set(hits_enqueue(entries)) if entries else set()
    if lost:
        errors.append(f"{len(lost)} hit(s) could not be stored right now; send them again")
    if str(body.get("send_image", "1")) == "0" and not lost:
        return _image(request, send_image=False)
    answer = {"status": "success", "tracked": len(requests) - len(invalid) - len(lost),
              "invalid": len(invalid) + len(lost)}
    if authenticated or settings.DEBUG:
        answer["invalid_indices"] = invalid
        answer["errors"] = errors[:100]
    return _cors(request, JsonResponse(answer))


_TRACKER = Path(__file__).resolve().parent.parent / "static" / "analytics" / "tracker.js"


@require_GET
def tracker_script(request):
    """The farm's JavaScript tracker at /matomo.js and /piwik.js, where Matomo's snippet expects it.
    A cookieless site's own copy (at its host, where its snippet loads it) says so first, so the
    tracker keeps nothing on the device even with an older snippet (cached for an hour at most)."""
    script = _TRACKER.read_bytes()
    instance = getattr(request, "instance", None)
    if instance is not None and instance.cookieless:
        script = b'window.__farmCookieless = ["%d"];\n' % instance.pk + script
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return _cors(request, response)


@csrf_exempt
def track(request):
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        return _cors(request, response)
    if request.method not in ("GET", "POST", "HEAD"):
        return _refuse(request, "use GET or POST", status=405)
    content = b"" if request.content_type == "multipart/form-data" else _body(request)
    if content is None:
        return _too_large(request)
    if request.method == "POST" and (request.content_type == "application/json" or content[:1] in (b"{", b"[")):
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _refuse(request, "bulk body is not valid JSON")
        if not isinstance(body, dict):
            return _refuse(request, "bulk body must be a JSON object")
        return _bulk(request, body)
    try:
        raw = {**request.GET.dict(), **(_form(request, content) if request.method == "POST" else {})}
    except RequestDataTooBig:
        return _too_large(request)
    except TooManyFieldsSent:
        return _refuse(request, "too many parameters")
    except MultiPartParserError:
        return _refuse(request, "the form body is not valid multipart data")
    if not raw:
        return _cors(request, HttpResponse("This is the farm's Matomo-compatible tracking endpoint.\n",
                                           content_type="text/plain; charset=utf-8"))
    try:
        entry = accept_hit(request, raw, token=raw.get("token_auth"))
    except (InvalidParameter, Refused) as exc:
        return _refuse(request, str(exc))
    if entry is not None and hits_enqueue([entry]):
        return _refuse(request, "the hit could not be stored right now; send it again", status=503)
    return _image(request, send_image=raw.get("send_image", "1") != "0")
