"""The tracking endpoint over HTTP: Matomo's answers, refusals with messages, privacy, the queue."""
import json

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from analytics.models import Action, Visit
from analytics.tracking import queue
from farm.tenancy import in_tenant
from instances import services
from instances.models import Membership, Role
from instances.tokens import token_create
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


@pytest.fixture
def site():
    return make_instance("hive", state="publie")


def queued() -> int:
    return queue.client().xlen(settings.FARM_HITS_STREAM)


def count_in(instance, model) -> int:
    with in_tenant(instance):
        return model.objects.count()


def test_a_page_view_answers_a_gif_and_is_queued_then_stored(client, site):
    response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://hive.localhost/",
                                          "action_name": "Home", "_id": "0123456789abcdef"}, **PORTAL)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert response["Cache-Control"] == "no-store" and response.content.startswith(b"GIF89a")
    assert queued() == 1
    assert queue.ingest_drain() == 1
    assert queued() == 0
    with in_tenant(site):
        action = Action.objects.get()
        assert (action.kind, action.title, action.visit.visitor_id) == ("pageview", "Home", "0123456789abcdef")


def test_piwik_php_and_the_sites_own_domain_work_too(client, site):
    assert client.get("/piwik.php", {"idsite": site.pk, "rec": 1, "send_image": 0}, **PORTAL).status_code == 204
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, HTTP_HOST="hive.localhost").status_code == 200
    assert queued() == 2


def test_the_sites_domain_refuses_another_sites_idsite(client, site):
    other = make_instance("other", state="publie")
    response = client.get("/matomo.php", {"idsite": other.pk, "rec": 1}, HTTP_HOST="hive.localhost")
    assert response.status_code == 400 and b"not the site that answers at this address" in response.content


def test_without_rec_the_hit_is_accepted_and_ignored(client, site):
    assert client.get("/matomo.php", {"idsite": site.pk}, **PORTAL).status_code == 200
    assert queued() == 0


def test_a_bare_get_answers_a_short_page(client):
    response = client.get("/matomo.php", **PORTAL)
    assert response.status_code == 200 and b"tracking endpoint" in response.content


@pytest.mark.parametrize("params, message", [
    ({"idsite": 999999, "rec": 1}, b"not a live site"),
    ({"idsite": "x", "rec": 1}, b"invalid parameter 'idsite'"),
    ({"rec": 1}, b"invalid parameter 'idsite': is required"),
    ({"idsite": 1, "rec": 1, "_id": "nothex"}, b"invalid parameter '_id'"),
])
def test_bad_requests_get_400_with_a_message(client, params, message):
    response = client.get("/matomo.php", params, **PORTAL)
    assert response.status_code == 400 and message in response.content
    assert queued() == 0


def test_sites_not_live_refuse_tracking(client):
    requested = make_instance("asked")
    off = make_instance("off", state="desactive")
    for instance in (requested, off):
        assert client.get("/matomo.php", {"idsite": instance.pk, "rec": 1}, **PORTAL).status_code == 400
    response = client.get("/matomo.php", {"idsite": off.pk, "rec": 1}, HTTP_HOST="off.localhost")
    assert response.status_code == 400 and b"does not accept tracking" in response.content
    assert queued() == 0


def test_deactivating_a_site_stops_its_tracking_at_once(client, site):
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, **PORTAL).status_code == 200
    services.instance_deactivate(instance=site, by=None, reason="closed")
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, **PORTAL).status_code == 400


def test_cors_preflight_and_origin_echo(client, site):
    preflight = client.options("/matomo.php", HTTP_ORIGIN="https://hive.example", **PORTAL)
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == "https://hive.example"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    post = client.post("/matomo.php", {"idsite": site.pk, "rec": 1}, HTTP_ORIGIN="https://hive.example", **PORTAL)
    assert post.status_code == 200 and post["Access-Control-Allow-Credentials"] == "true"


def test_do_not_track_is_honoured(client, site):
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, HTTP_DNT="1", **PORTAL).status_code == 200
    assert queued() == 0


def test_the_ip_is_masked_before_it_is_stored(client, site):
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, REMOTE_ADDR="198.51.100.77", **PORTAL)
    queue.ingest_drain()
    with in_tenant(site):
        assert Visit.objects.get().ip == "198.51.0.0"


def test_cip_and_old_cdt_need_a_token_with_write_access(client, site):
    response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "cip": "203.0.113.5"}, **PORTAL)
    assert response.status_code == 400 and b"token_auth" in response.content
    viewer = make_user("viewer")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    _t, weak = token_create(user=viewer)
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "cdt": "1700000000", "token_auth": weak},
                      **PORTAL).status_code == 400
    _t, strong = token_create(user=site.owner)
    assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "cdt": "1700000000", "cip": "203.0.113.5",
                                      "token_auth": strong}, **PORTAL).status_code == 200
    queue.ingest_drain()
    with in_tenant(site):
        visit = Visit.objects.get()
        assert visit.ip == "203.0.0.0" and visit.first_action_at.year == 2023


def test_bulk_with_mixed_requests_counts_tracked_and_invalid(client, site):
    body = {"requests": [
        f"?idsite={site.pk}&rec=1&url=https://hive.localhost/a",
        {"idsite": site.pk, "rec": 1, "e_c": "Video", "e_a": "Play"},
        f"?idsite={site.pk}&rec=1&_id=bad",
        {"idsite": "999999", "rec": "1"},
        42,
        {"idsite": site.pk, "rec": 1, "search": "honey", "search_count": 3},
    ]}
    response = client.post("/matomo.php", json.dumps(body), content_type="application/json", **PORTAL)
    assert response.json() == {"status": "success", "tracked": 3, "invalid": 3}
    assert queued() == 3
    _t, token = token_create(user=site.owner)
    detailed = client.post("/matomo.php", json.dumps({**body, "token_auth": token}), content_type="application/json",
                           **PORTAL).json()
    assert detailed["invalid_indices"] == [2, 3, 4] and "'_id'" in detailed["errors"][0]
    quiet = client.post("/matomo.php", json.dumps({**body, "send_image": 0}), content_type="application/json",
                        **PORTAL)
    assert quiet.status_code == 204
    queue.ingest_drain()
    assert count_in(site, Action) == 9


@pytest.mark.parametrize("body", [b"{not json", b'{"requests": "nope"}', b"[1, 2]", b'{"requests": [' + b"1," * 10001
                                  + b"1]}", b"\xff\xfe{"])
def test_malformed_bulk_bodies_get_400(client, body):
    response = client.post("/matomo.php", body, content_type="application/json", **PORTAL)
    assert response.status_code == 400
    assert queued() == 0


VALUES = st.one_of(st.text(max_size=300), st.integers(), st.floats(allow_nan=True), st.booleans(), st.none(),
                   st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
NAMES = st.one_of(st.sampled_from(["idsite", "rec", "url", "_id", "cid", "res", "e_v", "ec_items", "cdt", "cip",
                                   "ma_st", "ma_mt", "uadata", "dimension3", "h", "revenue", "pv_id"]),
                  st.text(max_size=20))


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests=st.lists(st.dictionaries(NAMES, VALUES, max_size=8), max_size=5), as_bulk=st.booleans())
def test_fuzzed_input_never_causes_a_500(client, site, requests, as_bulk):
    for raw in requests:
        raw.setdefault("idsite", site.pk)
    if as_bulk:
        response = client.post("/matomo.php", json.dumps({"requests": requests}), content_type="application/json",
                               **PORTAL)
    else:
        query = {k: v for r in requests for k, v in r.items() if isinstance(v, (str, int, float))}
        response = client.get("/matomo.php", query, **PORTAL)
    assert response.status_code in (200, 204, 400)
    if response.status_code == 400:
        assert response.content.strip()
