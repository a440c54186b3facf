"""The API's one error: a message for the caller and the HTTP status it is answered with."""


class ApiError(Exception):
    """A request the API refuses; rendered as {"result": "error", "message": ...} in the asked format.

    Statuses: 400 for a bad parameter, 401 when nobody is authenticated (or the token is not valid),
    403 when the caller may not see the site (also for a site that does not exist: no hint).
    """

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
