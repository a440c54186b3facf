"""Reading an API request's parameters: query string and POST body merged, typed on demand.

Every accessor raises ApiError with a message saying what is accepted, so no malformed value
travels further than this module.
"""
import re

from django.http import QueryDict

from analytics.api.errors import ApiError

FORMATS = ("json", "csv", "tsv", "xml")
_BULK_KEY = re.compile(r"^urls\[(\d{1,4})\]$")
_INT = re.compile(r"^-?\d{1,9}$")


class Params:
    """One API call's parameters. The POST body wins over the query string (so `token_auth` sent in
    the body is preferred, as Matomo advises); bulk sub-requests are built with `Params.of`."""

    def __init__(self, values: dict[str, str]):
        self.values = values

    @classmethod
    def from_request(cls, request) -> "Params":
        body = request.POST if request.method == "POST" else QueryDict()
        return cls({**_last_values(request.GET), **_last_values(body)})

    @classmethod
    def of(cls, query_string: str, *, inherit: "Params") -> "Params":
        """A bulk sub-request: its own query string, with the outer call's token_auth (Matomo does so)."""
        values = _last_values(QueryDict(query_string.lstrip("?")))
        if "token_auth" in inherit.values:
            values.setdefault("token_auth", inherit.values["token_auth"])
        return cls(values)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return default if value is None or value == "" else value

    def required(self, name: str, hint: str) -> str:
        value = self.get(name)
        if value is None:
            raise ApiError(f"The parameter '{name}' is missing: {hint}")
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int = 10**9) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        if not _INT.match(raw.strip()) or not minimum <= int(raw) <= maximum:
            raise ApiError(f"The parameter '{name}' must be a whole number from {minimum} to {maximum}, not “{raw[:50]}”")
        return int(raw)

    def flag(self, name: str) -> bool:
        return (self.get(name) or "0").lower() in ("1", "true", "yes")

    @property
    def method(self) -> str:
        return self.required("method", "e.g. method=VisitsSummary.get (API.getReportMetadata lists the reports)")

    @property
    def format(self) -> str:
        """The output format (json by default); Matomo's original/php/html formats are refused."""
        value = (self.get("format") or "json").lower()
        if value not in FORMATS:
            raise ApiError(f"format={value[:20]} is not supported: use one of {', '.join(FORMATS)}")
        return value

    @property
    def token(self) -> str | None:
        """The personal token, if any; Matomo's placeholder `anonymous` counts as none."""
        value = self.get("token_auth")
        return None if value in (None, "anonymous") else value

    @property
    def id_site(self) -> str | None:
        return self.get("idSite") or self.get("idsite")

    def listing(self, name: str) -> list[str]:
        """An array parameter: `name[0]=a&name[1]=b` (or `name[]=…`) in index order, or `name=a,b`."""
        pattern = re.compile(rf"^{re.escape(name)}\[(\d{{1,4}})\]$")
        indexed = sorted((int(found[1]), value) for key, value in self.values.items() if (found := pattern.match(key)))
        items = [value for _index, value in indexed] or (self.get(name) or "").split(",")
        return [item.strip() for item in items if item.strip()]

    def bulk_urls(self) -> list[str]:
        """API.getBulkRequest's `urls[0]=...&urls[1]=...`, in index order."""
        found = []
        for key, value in self.values.items():
            match = _BULK_KEY.match(key)
            if match:
                found.append((int(match.group(1)), value))
        return [value for _index, value in sorted(found)]


def _last_values(query: QueryDict) -> dict[str, str]:
    """One value a name (the last); an array sent as `name[]=a&name[]=b` becomes `name[0]`, `name[1]`,
    as PHP's http_build_query writes it, so Params.listing reads both forms."""
    values = {}
    for key in query:
        if key.endswith("[]"):
            values.update({f"{key[:-2]}[{index}]": value for index, value in enumerate(query.getlist(key))})
        else:
            values[key] = query.getlist(key)[-1]
    return values
