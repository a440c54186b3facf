"""Each tracking test starts and ends with this run's hit stream (and its dead letters) empty."""
import pytest
from django.conf import settings

from analytics.tracking import queue


@pytest.fixture(autouse=True)
def empty_stream():
    r = queue.client()
    r.delete(settings.FARM_HITS_STREAM, settings.FARM_HITS_STREAM + ":dead")
    yield
    r.delete(settings.FARM_HITS_STREAM, settings.FARM_HITS_STREAM + ":dead")
