"""The API's errors, answered as Matomo does: HTTP 200 with {"result": "error", "message"}, 401 for access.

Matomo answers a bad parameter, an unknown method, an unsupported format or a failed bulk
sub-request with HTTP 200 and the error body (clients read `result`, not the status); only its
NoAccessException carries a status, 401 (not logged in, unknown or revoked token, no access to the
site). Clients such as the official Matomo Reporting API clients raise a transport error on any
other status, so the farm keeps to those two.
"""
import logging
import uuid

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses; rendered as {"result": "error", "message": ...} in the asked format,
    with HTTP 200 (Matomo's answer to a bad request). `status` is there for the access subclass."""

    status = 200

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class NoAccess(ApiError):
    """Matomo's NoAccessException: nobody logged in, a token that is not valid, or no role on the
    site (also for a site that does not exist, so the answer gives no hint). Answered with HTTP 401."""

    status = 401


def unexpected(method: str) -> ApiError:
    """The answer to a failure that is no one's input: logged with its traceback (call it in an
    `except` block) under a reference the caller can quote; the caller gets Matomo's error body,
    never a 500 page."""
    reference = uuid.uuid4().hex[:12]
    log.exception("API call %s failed unexpectedly (reference %s)", method[:100], reference)
    return ApiError(f"The API could not answer this request because of an unexpected error on the server "
                    f"(reference {reference}); it has been logged. Try again later or report the reference.")
