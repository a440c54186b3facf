"""Each tracking test starts and ends with this run's hit stream (and its dead letters) empty, and Redis not
marked as away."""
import pytest
from django.conf import settings

from analytics.tracking import queue


@pytest.fixture(autouse=True)
def empty_stream():
    r = queue.client()
    r.delete(settings.FARM_HITS_STREAM, settings.FARM_HITS_STREAM + ":dead")
    queue._redis_away_until = 0.0  # a test that made Redis unreachable leaves no pause behind
    yield
    queue._redis_away_until = 0.0
    r.delete(settings.FARM_HITS_STREAM, settings.FARM_HITS_STREAM + ":dead")
