"""Log imports at full speed: a bulk request checks its token once, whatever its number of hits;
bodies of 10,000 requests (~10 MB) are accepted and stored; larger ones get a JSON 413 with CORS
headers, and the other views keep Django's own body limit."""
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.models import Action
from analytics.tracking import queue
from analytics.tracking.views import MAX_BODY, MAX_BULK
from farm.tenancy import in_tenant
from instances.tokens import token_create
from tests.factories import make_instance

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


@pytest.fixture
def site():
    return make_instance("imports", state="publie")


def imported_lines(site, count: int, *, pad: int = 0) -> list[str]:
    at = int((timezone.now() - timedelta(days=3)).timestamp())
    return [f"?idsite={site.pk}&rec=1&cip=81.2.69.{n % 250}&cdt={at + n}&url=https://imports.example/{n}{'x' * pad}"
            f"&ua=Mozilla%2F5.0%20(X11%3B%20Linux%20x86_64%3B%20rv%3A128.0)%20Gecko%2F20100101%20Firefox%2F128.0"
            for n in range(count)]


def post_bulk(client, body: bytes, **extra):
    return client.post("/matomo.php", body, content_type="application/json", **PORTAL, **extra)


def queries_for_a_bulk(client, site, token: str, count: int) -> int:
    body = json.dumps({"requests": imported_lines(site, count), "token_auth": token}).encode()
    with CaptureQueriesContext(connection) as queries:
        assert post_bulk(client, body).json()["tracked"] == count
    return len(queries)


def test_a_bulk_import_checks_its_token_once_whatever_its_size(client, site):
    _t, token = token_create(user=site.owner)
    queries_for_a_bulk(client, site, token, 1)  # the site and the days' salts are cached from here on
    few, many = queries_for_a_bulk(client, site, token, 10), queries_for_a_bulk(client, site, token, 500)
    assert few == many <= 5, (few, many)


def test_a_bulk_of_ten_thousand_requests_and_ten_megabytes_is_accepted_and_stored(client, site):
    _t, token = token_create(user=site.owner)
    lines = imported_lines(site, MAX_BULK, pad=850)
    body = json.dumps({"requests": lines, "token_auth": token}).encode()
    assert 10_000_000 <= len(body) <= MAX_BODY
    response = post_bulk(client, body)
    assert response.status_code == 200
    assert response.json() == {"status": "success", "tracked": MAX_BULK, "invalid": 0, "invalid_indices": [],
                               "errors": []}
    assert queue.client().xlen(settings.FARM_HITS_STREAM) == MAX_BULK
    assert queue.ingest_drain(batch=1000, max_batches=20) == MAX_BULK
    with in_tenant(site):
        assert Action.objects.count() == MAX_BULK


def test_an_oversized_body_gets_a_json_413_with_cors_headers(client, site):
    body = json.dumps({"requests": imported_lines(site, 1, pad=MAX_BODY)}).encode()
    response = post_bulk(client, body, HTTP_ORIGIN="https://importer.example")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "https://importer.example"
    answer = response.json()
    assert (answer["status"], answer["tracked"]) == ("error", 0) and "too large" in answer["message"]
    assert queue.client().xlen(settings.FARM_HITS_STREAM) == 0


def test_a_form_post_to_the_endpoint_is_still_read(client, site):
    response = client.post("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://imports.example/form",
                                           "send_image": 0}, **PORTAL)
    assert response.status_code == 204
    assert queue.client().xlen(settings.FARM_HITS_STREAM) == 1


def test_other_views_keep_djangos_body_limit(client, site):
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/optout/", {"choice": big}, HTTP_HOST="imports.localhost")
    assert response.status_code == 400
