"""Who is asking: the client's address as this deployment can trust it."""
from django.conf import settings


def client_ip(request) -> str:
    """The client's address: behind our own proxy (BEHIND_TLS_PROXY) the last X-Forwarded-For hop,
    the one the proxy itself appended, since earlier entries are whatever the client claimed. The
    tracking door reads visitors with it, and login throttling (django-axes) those who sign in."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "")
