"""Live reads stay bounded whatever is asked: filter_limit=-1 answers at most FARM_API_LIVE_MAX_VISITS visits,
streamed a chunk at a time in json; a visitor profile sums at most FARM_LIVE_PROFILE_MAX_VISITS visits; a visit
shows at most FARM_LIVE_MAX_ACTIONS_PER_VISIT actions."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.reports import live
from farm.tenancy import in_tenant
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import ALICE, call_api, make_traffic
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
START = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def busy():
    """A site with 25 one-page visits by 25 visitors, and visitor 'f…f' back 6 times (7 visits)."""
    site = make_instance("livebusy", state="publie")
    store(site, [hit(site, START + timedelta(hours=n), url=f"https://s.example/{n}", _id=f"{n + 1:016x}")
                 for n in range(25)] +
          [hit(site, START + timedelta(days=1, hours=n), url=f"https://s.example/back{n}", _id="f" * 16)
           for n in range(7)])
    return site, token_create(user=site.owner)[1]


def test_filter_limit_minus_one_answers_at_most_the_cap_streamed_in_json(client, busy, settings):
    site, token = busy
    settings.FARM_API_LIVE_MAX_VISITS = 10
    query = {"module": "API", "method": "Live.getLastVisitsDetails", "idSite": site.pk, "filter_limit": -1,
             "token_auth": token}
    response = client.get("/index.php", query, HTTP_HOST="localhost")
    assert response.status_code == 200 and response.streaming
    visits = json.loads(b"".join(response.streaming_content))
    assert len(visits) == 10 and visits[0]["visitorId"] == "f" * 16
    _, more = call_api(client, token_auth=token, idSite=site.pk, method="Live.getLastVisitsDetails",
                       filter_limit=-1, filter_offset=10)
    assert len(more) == 10 and not {v["idVisit"] for v in more} & {v["idVisit"] for v in visits}
    text = client.get("/index.php", {**query, "format": "csv"}, HTTP_HOST="localhost").content.decode()
    assert len(list(csv.DictReader(io.StringIO(text, newline="")))) == 10


def test_a_long_list_is_read_in_chunks_and_pages_match_a_plain_read(busy, monkeypatch):
    site, _ = busy
    monkeypatch.setattr(live, "CHUNK", 4)
    with in_tenant(site):
        everything = live.last_visits(limit=-1)
        assert len(everything) == 32
        with CaptureQueriesContext(connection) as queries:
            chunked = list(live.visits_iter(limit=-1, offset=3))
        assert chunked == everything[3:]
        assert len(queries) >= 8 * 4  # a round of four queries per chunk of 4 visits, not one read of all
        assert list(live.visits_iter(limit=6, offset=1)) == everything[1:7]


def test_a_visitor_profile_sums_at_most_the_cap_but_knows_the_first_visit(client, busy, settings):
    site, token = busy
    settings.FARM_LIVE_PROFILE_MAX_VISITS = 3
    with in_tenant(site):
        profile = live.visitor_profile("f" * 16)
    assert profile["totalVisits"] == profile["visitsAggregated"] == 3 and profile["hasMoreVisits"] == 1
    assert len(profile["lastVisits"]) == 3
    assert profile["firstVisit"]["timestamp"] == int((START + timedelta(days=1)).timestamp())
    _, answered = call_api(client, token_auth=token, idSite=site.pk, method="Live.getVisitorProfile",
                           visitorId="f" * 16, limitVisits=2)
    assert answered["visitsAggregated"] == 3 and len(answered["lastVisits"]) == 2


def test_a_profile_under_the_cap_has_no_more_visits():
    site = make_instance("liveprofile", state="publie")
    make_traffic(site)
    with in_tenant(site):
        profile = live.visitor_profile(ALICE)
    assert (profile["totalVisits"], profile["visitsAggregated"], profile["hasMoreVisits"]) == (2, 2, 0)


def test_a_visit_shows_at_most_the_cap_of_actions_in_time_order(busy, settings):
    site, _ = busy
    settings.FARM_LIVE_MAX_ACTIONS_PER_VISIT = 5
    at = START + timedelta(days=3)
    store(site, [hit(site, at + timedelta(seconds=n), url=f"https://s.example/bot{n}", _id="9" * 16)
                 for n in range(12)])
    with in_tenant(site):
        bot = live.last_visits(limit=1)[0]
    assert bot["actions"] == 12 and [a["url"] for a in bot["actionDetails"]] == [
        f"https://s.example/bot{n}" for n in range(5)]


def test_a_chunk_of_long_visits_is_detailed_a_part_at_a_time_with_the_same_answer(busy, monkeypatch, settings):
    """A web worker holds at most DETAILS_AT_ONCE actions' details at once, however long the visits."""
    site, _ = busy
    settings.FARM_LIVE_MAX_ACTIONS_PER_VISIT = 5
    at = START + timedelta(days=3)
    store(site, [hit(site, at + timedelta(minutes=v, seconds=n), url=f"https://s.example/long{v}/{n}",
                     _id=f"{0xa0 + v:016x}") for v in range(3) for n in range(8)])
    with in_tenant(site):
        together = live.last_visits(limit=-1)
        monkeypatch.setattr(live, "DETAILS_AT_ONCE", 6)
        detailed = []
        monkeypatch.setattr(live, "_with_details", lambda visits, real=live._with_details: (
            detailed.append([visit.actions for visit in visits]) or real(visits)))
        assert live.last_visits(limit=-1) == together
    assert detailed[:3] == [[8], [8], [8, 1]], "each long visit (5 actions shown) detailed apart, then 1 + 5 more"
    assert all(sum(min(n, 5) for n in part) <= 6 or len(part) == 1 for part in detailed)
