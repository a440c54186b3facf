"""No input makes the API fail: random methods, periods, dates, formats, filters and ids always get an answer
(data or Matomo's error) in the asked format, never a 500."""
import json
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.api.methods import METHODS
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import DAY, make_traffic

pytestmark = pytest.mark.django_db
D = DAY.date().isoformat()
text = st.text(max_size=30)


def one_of(*values):
    return st.one_of(st.sampled_from(values), text)


PARAMS = st.fixed_dictionaries({}, optional={
    "method": one_of(*sorted(METHODS)),
    "idSite": one_of("1", "all", "1,2", "-1", "0", "999999999", "1,all", ""),
    "period": one_of("day", "week", "month", "year", "range"),
    "date": one_of(D, "today", "yesterday", "last3", "previous2", f"{D},2026-06-03", "2026-13-01", "last0",
                   "0001-01-01", "9999-12-31", "2026-06-03,2026-06-01"),
    "format": one_of("json", "csv", "tsv", "xml", "php", "original", "JSON"),
    "filter_limit": one_of("-1", "0", "1", "100", "-5", "1e3", "99999999999"),
    "filter_offset": one_of("0", "2", "-1", "x"),
    "filter_sort_column": one_of("label", "nb_visits", "nb_hits", "nope"),
    "filter_sort_order": one_of("asc", "desc"),
    "filter_pattern": one_of("blog", "(", "^/", "[a-", ".*"),
    "flat": one_of("0", "1"), "expanded": one_of("0", "1"), "idSubtable": one_of("1", "2", "0", "-3"),
    "showColumns": one_of("nb_visits", "label,nb_hits", ","), "hideColumns": one_of("url", "nb_visits"),
    "minTimestamp": one_of("0", "1780000000", "-1", "9" * 20), "lastMinutes": one_of("30", "0", "99999"),
    "visitorId": one_of("a" * 16, "zz", ""), "url": one_of("https://s.example", "http://[", ""),
    "urls[0]": one_of("method=VisitsSummary.get&idSite=1&period=day&date=today", "method=API.getBulkRequest", "%%"),
    "segment": one_of("visitCount>1"),
})


@pytest.fixture
def caller(client):
    site = make_instance("fuzzed", state="publie")
    make_traffic(site)
    token = token_create(user=site.owner)[1]
    return client, site, token


def parses(response, fmt: str) -> None:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    body = content.decode()
    if fmt == "xml":
        ET.fromstring(content)
    elif fmt in ("csv", "tsv"):
        assert response["Content-Type"].startswith("text/")
    else:
        json.loads(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(params=PARAMS, use_post=st.booleans())
def test_no_parameter_makes_the_api_fail(caller, params, use_post):
    client, site, token = caller
    params = {k: v.replace("1", str(site.pk)) if k == "idSite" else v for k, v in params.items()}
    query = {"module": "API", "token_auth": token, **params}
    if use_post:
        response = client.post("/index.php", query, HTTP_HOST="localhost")
    else:
        response = client.get("/index.php", query, HTTP_HOST="localhost")
    assert response.status_code in (200, 401), response
    fmt = (params.get("format") or "json").lower()
    parses(response, fmt if fmt in ("csv", "tsv", "xml") else "json")
