"""PostgreSQL refusing writes during ingest (the database switched to read-only, as a failed-over
replica or `default_transaction_read_only` makes it): the hits stay pending in the stream, none is
set aside as if it were to blame, nothing is acknowledged that was not stored, /healthz says the
database refuses writes, and once writes are accepted again every hit is stored, once."""
import psycopg
import pytest
from django.db import DatabaseError, connection

from analytics.tracking import queue
from analytics.models import Action
from tests.conftest import _test_database_url
from tests.factories import make_instance
from tests.integration.analytics.test_endpoint import count_in

pytestmark = pytest.mark.django_db(transaction=True)
PORTAL = {"HTTP_HOST": "localhost"}


def _read_only(on: bool) -> None:
    """Switch the test database's default for new sessions, from another database (DDL would be refused
    in the read-only one itself), and start this process on a new session."""
    url = _test_database_url()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}')
    connection.close()


def test_hits_wait_in_the_stream_while_the_database_refuses_writes(client):
    site = make_instance("readonly", state="publie")
    dead_before = queue.queue_depth()["dead"]
    for n in range(5):
        assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": f"https://s.example/{n}"},
                          **PORTAL).status_code in (200, 204)
    try:
        _read_only(True)
        with pytest.raises(DatabaseError):
            queue.ingest_drain()
        assert queue.queue_depth() == {"queued": 5, "dead": dead_before}  # kept, none set aside
        health = client.get("/healthz", **PORTAL)
        assert health.status_code == 503 and "refuses writes" in health.json()["database"]
    finally:
        _read_only(False)
    assert queue.ingest_drain() == 5
    assert queue.queue_depth() == {"queued": 0, "dead": dead_before}
    assert count_in(site, Action) == 5
    assert client.get("/healthz", **PORTAL).json()["database"] == "ok"
