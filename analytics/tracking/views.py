"""The Matomo-compatible tracking endpoint (/matomo.php, /piwik.php), on the portal and every site.

Thin: parse the request(s), call `accept_hit` for each, queue what was accepted, answer as Matomo
clients expect (GIF, 204, or the bulk JSON). Refusals are 400 with a message, never a 500.
"""
import base64
import json
from pathlib import Path
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from analytics.tracking.accept import Refused, accept_hit
from analytics.tracking.params import InvalidParameter
from analytics.tracking.queue import hits_enqueue
from instances.tokens import token_user

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
MAX_BULK = 10_000
MAX_BODY = 8 * 1024 * 1024


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


def _image(request, send_image: bool):
    response = HttpResponse(GIF, content_type="image/gif") if send_image else HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return _cors(request, response)


def _bulk(request, body: dict):
    requests = body.get("requests")
    if not isinstance(requests, list) or len(requests) > MAX_BULK:
        return _refuse(request, f"bulk body must hold a 'requests' list of at most {MAX_BULK} requests")
    token = body.get("token_auth") if isinstance(body.get("token_auth"), str) else None
    authenticated = token_user(token) is not None
    entries, invalid, errors = [], [], []
    for index, item in enumerate(requests):
        try:
            if isinstance(item, str):
                raw = dict(parse_qsl(item.split("?", 1)[-1], keep_blank_values=True))
            elif isinstance(item, dict):
                raw = item
            else:
                raise InvalidParameter("(request)", "must be a query string or a JSON object")
            entry = accept_hit(request, raw, token=token)
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
    """The farm's JavaScript tracker at /matomo.js and /piwik.js, where Matomo's snippet expects it."""
    response = HttpResponse(_TRACKER.read_bytes(), content_type="application/javascript; charset=utf-8")
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
    if len(request.body) > MAX_BODY:
        return _refuse(request, "request body too large", status=413)
    if request.method == "POST" and (request.content_type == "application/json" or request.body[:1] in (b"{", b"[")):
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _refuse(request, "bulk body is not valid JSON")
        if not isinstance(body, dict):
            return _refuse(request, "bulk body must be a JSON object")
        return _bulk(request, body)
    raw = {**request.GET.dict(), **request.POST.dict()}
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
