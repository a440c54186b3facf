"""Fuzzing the two doors Matomo's clients knock on, at scale: generated tracking requests (single GET
and POST, bulk JSON, malformed JSON, bad encodings, huge bodies, every parameter) and Reporting API
calls (every method, random parameters and segments, every format).

What must hold: no 5xx, ever; a refused hit is a 400 that says why; an API refusal is Matomo's error
answer with a message, in the format asked; every hit the endpoint accepted leaves the queue once
ingest has run (stored, or set aside with its reason), and ingest itself never fails.
Short version in make test; `make reliability` runs 10,000 of each (FARM_RELIABILITY=long).
"""
import json
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.api.methods import METHODS
from analytics.segments.dimensions import DIMENSIONS
from analytics.tracking import queue
from analytics.tracking.params import SPEC
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import DAY, make_traffic
from tests.integration.analytics.test_api_fuzz import PARAMS
from tests.reliability.conftest import LONG, scale

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
EXAMPLES = scale(300, 10_000)
D = DAY.date().isoformat()
# the short run (CI) draws the same examples every time; the long one draws afresh
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

NASTY = st.sampled_from(["", "\x00", "\x00abc", "%00", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
                         "😀" * 50, "'; DROP TABLE analytics_visit; --", "<script>alert(1)</script>", "NaN",
                         "Infinity", "-0", "1e309", "9" * 40, "-9223372036854775809", "0x1F", " 1 ", "[]", "{}",
                         "null", "true", "a" * 9000, "\r\n\t", "%", "%zz", "..%2F..%2F", "https://", "http://[::1"])
VALUE = st.one_of(NASTY, st.text(max_size=200), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                  st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
                  st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))
NAME = st.one_of(st.sampled_from(sorted(SPEC) + ["dimension1", "dimension999", "_cvar", "cvar", "cdt", "cip",
                                                 "token_auth", "send_image", "ping", "bots", "ec_items"]),
                 st.text(max_size=20))
HIT = st.dictionaries(NAME, VALUE, max_size=12)
RAW_BODIES = st.one_of(
    st.binary(max_size=2000),
    st.sampled_from([b"{not json", b'{"requests": "nope"}', b"[1, 2]", b'{"requests": [1, "?idsite=1"]}',
                     b"\xff\xfe{", b'{"requests": ["?idsite=1&rec=1&url=%ff%fe"]}', b'{"requests": null}',
                     b'{"requests": [' + b'"?idsite=1&rec=1",' * 200 + b'"?idsite=1"]}', b"{}" * 1000]),
)
RAW_QUERIES = st.one_of(st.text(max_size=300).map(lambda s: s.replace("#", "")),
                        st.sampled_from(["idsite=1&rec=1&url=%ff%fe%fd", "idsite=1&rec=1&action_name=%c3%28",
                                         "idsite=%00&rec=1", "idsite=1&rec=1&" + "&".join(f"p{i}=1" for i in range(300)),
                                         "idsite=1&rec=1&url=" + "a" * 20000, "idsite=1&&&&rec=1&=&==",
                                         "idsite[]=1&rec=1", "idsite=1;rec=1"]))


def _query_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _as_query(hit: dict, site_id: int) -> dict:
    query = {str(name): _query_value(value) for name, value in hit.items()}
    query.setdefault("idsite", str(site_id))
    query.setdefault("rec", "1")
    return {name.replace("\x00", ""): value for name, value in query.items()}


def test_fuzzed_tracking_requests_never_get_a_5xx_and_every_accepted_hit_leaves_the_queue(client):
    site = make_instance("fuzzed", state="publie")
    statuses, refusals = Counter(), Counter()

    @FUZZ
    @given(kind=st.sampled_from(["get", "post", "bulk", "raw-body", "raw-query"]),
           hits=st.lists(HIT, min_size=1, max_size=4), body=RAW_BODIES, raw_query=RAW_QUERIES)
    def one(kind, hits, body, raw_query):
        if kind == "get":
            response = client.get("/matomo.php", _as_query(hits[0], site.pk), **PORTAL)
        elif kind == "post":
            response = client.post("/matomo.php", _as_query(hits[0], site.pk), **PORTAL)
        elif kind == "bulk":
            requests = ["?" + "&".join(f"{k}={v}" for k, v in _as_query(hit, site.pk).items()) if n % 2
                        else {**hit, "idsite": hit.get("idsite", site.pk)} for n, hit in enumerate(hits)]
            response = client.post("/matomo.php", json.dumps({"requests": requests}, default=str),
                                   content_type="application/json", **PORTAL)
        elif kind == "raw-body":
            response = client.post("/matomo.php", body, content_type="application/json", **PORTAL)
        else:
            response = client.get("/matomo.php?" + raw_query.replace("idsite=1", f"idsite={site.pk}"), **PORTAL)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (kind, response.status_code, response.content[:300])
        assert response.status_code in (200, 204, 400), (kind, response.status_code)
        if response.status_code == 400:
            assert response.content.strip(), "a 400 without a word"
            refusals[response.content[:60]] += 1

    one()
    # a body past the endpoint's 16 MB (a client gone wrong): refused with a message, never read whole
    huge = client.post("/matomo.php", b'{"requests": ["?idsite=1&rec=1&url=' + b"a" * 17_000_000 + b'"]}',
                       content_type="application/json", **PORTAL)
    assert huge.status_code == 413 and b"too large" in huge.content

    queued_before = queue.queue_depth()["queued"]
    dead_before = queue.queue_depth()["dead"]
    while queue.queue_depth()["queued"]:
        queue.ingest_drain()  # NB: never raises: a hit that cannot be stored is set aside with its reason
    letters = queue.dead_letters(limit=100_000)[dead_before:]
    unexpected = [letter["error"] for letter in letters if not letter["error"].startswith(("ValueError", "Invalid"))]
    print(f"\n{EXAMPLES} generated tracking requests: statuses {dict(statuses)}; "
          f"{queued_before} hits queued, {len(letters)} set aside; refusals: {len(refusals)} kinds")
    assert sum(statuses.values()) >= EXAMPLES
    assert queue.queue_depth()["queued"] == 0
    assert not unexpected, unexpected[:5]


SEGMENT = st.one_of(
    st.builds(lambda dim, op, value, join, more: f"{dim}{op}{value}" + (f"{join}{more}" if join else ""),
              st.sampled_from([d.name for d in DIMENSIONS] + ["nope", ""]),
              st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "=@", "!@", "=^", "=$", "", "=="]),
              st.one_of(st.text(max_size=20), st.sampled_from(["1", "new", "fr", "%2C", "%3B", "a%", "\\", "'"])),
              st.sampled_from(["", ";", ","]), st.text(max_size=30)),
    st.text(max_size=60),
)


# Parameters a client would send: each call made of these alone is valid, so the reports' own code is
# reached (fuzzed values stop most calls at the parameter checks).
SENSIBLE = st.fixed_dictionaries({}, optional={
    "period": st.sampled_from(["day", "week", "month", "year"]), "format": st.sampled_from(["json", "xml", "csv", "tsv"]),
    "filter_limit": st.sampled_from(["-1", "5"]), "filter_offset": st.sampled_from(["0", "1"]),
    "filter_sort_column": st.sampled_from(["label", "nb_visits"]), "filter_sort_order": st.sampled_from(["asc", "desc"]),
    "filter_pattern": st.sampled_from(["blog", "^/"]), "flat": st.sampled_from(["0", "1"]),
    "expanded": st.sampled_from(["0", "1"]), "showColumns": st.just("nb_visits"), "hideColumns": st.just("label"),
    "format_metrics": st.sampled_from(["0", "1"]), "lastMinutes": st.just("30")})


def test_fuzzed_reporting_api_calls_never_get_a_5xx_and_refusals_are_matomo_errors(client):
    site = make_instance("fuzzapi", state="publie")
    make_traffic(site)
    token = token_create(user=site.owner)[1]
    statuses, errors = Counter(), Counter()

    @FUZZ
    @given(params=st.one_of(PARAMS, SENSIBLE), method=st.sampled_from(sorted(METHODS)), segment=SEGMENT,
           use_post=st.booleans(),
           with_segment=st.booleans())
    def one(params, method, segment, use_post, with_segment):
        # a valid call's parameters, then the fuzzed ones over them: most calls reach the reports
        params = {"idSite": "1", "period": "day", "date": D, "method": method, **params}
        params = {k: v.replace("1", str(site.pk)) if k == "idSite" else v for k, v in params.items()}
        if with_segment:
            params["segment"] = segment
        query = {"module": "API", "token_auth": token, **params}
        call = client.post if use_post else client.get
        response = call("/index.php", query, **PORTAL)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (query, response.status_code)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        fmt = (params.get("format") or "json").lower()
        message = _error_message(content, fmt if fmt in ("xml", "csv", "tsv") else "json")
        if message is not None:
            errors[message[:40]] += 1
            assert message.strip(), f"an error without a message: {content[:200]}"
        else:
            assert response.status_code == 200, (query, response.status_code, content[:200])

    one()
    print(f"\n{EXAMPLES} generated Reporting API calls: statuses {dict(statuses)}; {sum(errors.values())} "
          f"Matomo errors of {len(errors)} kinds; the most frequent: {errors.most_common(8)}")


def _error_message(content: bytes, fmt: str) -> str | None:
    """The message of Matomo's error answer, or None when the body is data (it must still parse)."""
    if fmt == "xml":
        root = ET.fromstring(content)
        error = root.find("error") if root.tag == "result" else None
        return None if error is None else error.get("message", "")
    if fmt in ("csv", "tsv"):
        text = content.decode("utf-8", errors="replace")
        return text[len("Error: "):] if text.startswith("Error: ") else None
    data = json.loads(content)
    if isinstance(data, dict) and data.get("result") == "error":
        return data.get("message", "")
    return None
