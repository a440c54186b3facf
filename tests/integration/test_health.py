"""GET /healthz answers fast to frequent probes: the Celery ping is not repeated on every request."""
import time

import pytest

from farm import health

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


def timed_probe(client) -> tuple[float, dict]:
    started = time.monotonic()
    body = client.get("/healthz", **PORTAL).json()
    return time.monotonic() - started, body


def test_two_quick_health_probes_ping_the_workers_once(client, monkeypatch):
    monkeypatch.setattr(health, "_workers_cache", None)
    first, body = timed_probe(client)
    second, again = timed_probe(client)
    assert first >= 0.45, "the first probe waits for the workers' replies"
    # Relative, not absolute: on a busy machine the database and Redis checks alone may take a while.
    assert second < first - 0.3, f"the second probe pinged again ({second:.2f} s after {first:.2f} s)"
    assert again["celery_workers"] == body["celery_workers"] and again["status"] == "ok"


def test_the_workers_are_pinged_again_once_the_answer_is_a_few_seconds_old(client, monkeypatch):
    monkeypatch.setattr(health, "_workers_cache", None)
    monkeypatch.setattr(health, "WORKERS_CACHE_SECONDS", 0.1)
    timed_probe(client)
    time.sleep(0.15)
    later, _body = timed_probe(client)
    assert later >= 0.45, "an expired answer is refreshed by a new ping"
