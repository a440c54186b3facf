"""/metrics: Prometheus text for the bearer of FARM_METRICS_TOKEN only; its numbers move with the
farm's work (a tick, hits through the door and ingest, a run ending), and the counts of several
processes add up (they live in Redis, not in one process)."""
import subprocess
import sys

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from analytics.tracking import queue
from farm.cron import dispatch
from farm.cron.models import ScheduledTask
from tests.factories import make_instance, run_task_now

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
TOKEN = "a-long-random-metrics-token"


@pytest.fixture
def token(settings, monkeypatch):
    settings.FARM_METRICS_TOKEN = TOKEN
    # NB: hits other tests wrote through in this process would be counted with the first one queued here
    monkeypatch.setattr(queue, "_uncounted", {"accepted": 0, "stored": 0})
    return TOKEN


def scrape(client) -> dict[tuple, float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **PORTAL)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


def test_metrics_are_not_there_without_a_token_setting_and_refused_without_the_token(client, settings):
    settings.FARM_METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything", **PORTAL).status_code == 404
    settings.FARM_METRICS_TOKEN = TOKEN
    for header in ({}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, {"HTTP_AUTHORIZATION": TOKEN},
                   {"HTTP_AUTHORIZATION": f"Basic {TOKEN}"}):
        refused = client.get("/metrics", **header, **PORTAL)
        assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer"), header
        assert b"farm_" not in refused.content


def test_a_tick_hits_and_a_finished_run_move_their_metrics(client, token):
    site = make_instance(state="publie")
    before = scrape(client)
    assert before[("farm_metrics_store_up", ())] == 1
    assert before[("farm_sites", (("schema_state", "ready"), ("status", "publie")))] >= 1

    ScheduledTask.objects.filter(instance=site).update(next_run_at=ScheduledTask.objects.filter(
        instance=site).order_by("next_run_at").values_list("next_run_at", flat=True).first())
    due = ScheduledTask.objects.filter(instance=site).order_by("next_run_at").first().next_run_at
    result = dispatch.tick(now=due, wake=False)
    assert result.queued >= 1
    for n in range(3):
        response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": f"https://s.example/{n}",
                                              "_id": "0123456789abcdef"}, **PORTAL)
        assert response.status_code in (200, 204)
    stored = queue.ingest_drain()
    run_task_now(ScheduledTask.objects.filter(instance=site).first())

    after = scrape(client)
    assert moved(before, after, "farm_super_cron_ticks_total") == 1
    assert moved(before, after, "farm_runs_due_total") == result.due
    assert moved(before, after, "farm_runs_dispatched_total") == result.queued
    assert moved(before, after, "farm_hits_accepted_total", path="queue") == 3
    assert stored == 3 and moved(before, after, "farm_hits_stored_total") == 3
    assert moved(before, after, "farm_runs_finished_total", status="succeeded") == 1
    assert after[("farm_ingest_queue_hits", (("queue", "queued"),))] == 0
    assert ("farm_super_cron_last_tick_age_seconds", ()) in after


def test_counts_from_other_processes_add_up(client, token):
    before = scrape(client)
    counting = "from farm import metrics; metrics.count('farm_hits_dead_total', 2); " \
               "metrics.observe('farm_archive_run_seconds', 0.3, 7.0)"
    for _ in range(2):  # two other processes, as two workers would
        subprocess.run([sys.executable, "-c", f"import django; django.setup(); {counting}"], check=True,
                       cwd=settings.BASE_DIR, env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "farm.settings"})
    after = scrape(client)
    assert moved(before, after, "farm_hits_dead_total") == 4
    assert moved(before, after, "farm_archive_run_seconds_count") == 4
    assert moved(before, after, "farm_archive_run_seconds_bucket", le="0.5") == 2
    assert moved(before, after, "farm_archive_run_seconds_bucket", le="10.0") == 4
    assert moved(before, after, "farm_archive_run_seconds_sum") == pytest.approx(14.6)


def test_a_count_that_fails_never_fails_the_hits_it_counts(client, token):
    """The counters' hash replaced by a string (WRONGTYPE for every count): hits are still queued,
    not written through, and ingest stores and acknowledges them; the scrape says the store is down."""
    import redis

    from farm.metrics import _key

    site = make_instance(state="publie")
    store = redis.Redis.from_url(settings.REDIS_URL)
    store.delete(_key())
    store.set(_key(), "not a hash")
    try:
        response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://s.example/",
                                              "_id": "0123456789abcdef"}, **PORTAL)
        assert response.status_code in (200, 204) and queue.queue_depth()["queued"] == 1
        assert queue.ingest_drain() == 1 and queue.queue_depth()["queued"] == 0
        assert scrape(client)[("farm_metrics_store_up", ())] == 0
    finally:
        store.delete(_key())


def test_hits_written_through_while_redis_was_away_are_counted_once_it_answers(client, token, monkeypatch):
    import time
    from datetime import datetime, timezone

    from tests.integration.analytics.test_ingest import hit

    site = make_instance(state="publie")
    before = scrape(client)
    monkeypatch.setattr(queue, "_redis_away_until", time.monotonic() + 60)  # as after a failed XADD
    assert queue.hits_enqueue([hit(site, datetime.now(timezone.utc), url="https://s.example/through")]) == []
    assert moved(before, scrape(client), "farm_hits_accepted_total", path="write_through") == 0  # not yet
    monkeypatch.setattr(queue, "_redis_away_until", 0.0)  # Redis answers again
    client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://s.example/q", "_id": "0123456789abcdef"},
               **PORTAL)
    after = scrape(client)
    assert moved(before, after, "farm_hits_accepted_total", path="write_through") == 1
    assert moved(before, after, "farm_hits_accepted_total", path="queue") == 1
    assert moved(before, after, "farm_hits_stored_total") == 1  # the one written through (the queued one waits)
