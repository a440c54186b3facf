"""A worker process hands back the memory a big task freed (farm.worker_memory)."""
import gc

import pytest
from celery.signals import task_postrun, task_prerun

from farm import worker_memory

MB = 2**20
needs_malloc_trim = pytest.mark.skipif(worker_memory._malloc_trim is None or worker_memory.rss_bytes() is None,
                                       reason="a C library with malloc_trim and /proc (glibc, Linux)")


def _peak_freed(megabytes: int = 48) -> bytes:
    """What a big task does to the C heap: many objects too big for Python's own allocator (over
    512 bytes: malloc's), all freed at the end but one made last, which keeps glibc from shrinking
    the heap's top by itself. Returns that one (the caller keeps it). Callers trim the heap first, so
    that the chunks take new pages instead of free ones an earlier test left resident."""
    chunks = [bytes(1024) for _ in range(megabytes * 1024)]
    last = bytes(1024)
    del chunks
    gc.collect()
    return last


@needs_malloc_trim
def test_a_task_that_grew_its_process_gives_the_freed_memory_back():
    worker_memory.memory_give_back()
    task_prerun.send(sender=None, task_id="big", task=None)
    kept = _peak_freed()
    grown = worker_memory.rss_bytes()
    task_postrun.send(sender=None, task_id="big", task=None)
    after = worker_memory.rss_bytes()
    assert after < grown - 30 * MB, (grown / MB, after / MB)
    assert kept and "big" not in worker_memory._rss_at_start


def test_a_small_task_does_not_trim(monkeypatch):
    trims = []
    monkeypatch.setattr(worker_memory, "_malloc_trim", trims.append)
    task_prerun.send(sender=None, task_id="small", task=None)
    small = [bytes(1024) for _ in range(64)]
    task_postrun.send(sender=None, task_id="small", task=None)
    assert small and trims == [] and "small" not in worker_memory._rss_at_start


@needs_malloc_trim
def test_the_freed_memory_stays_without_the_trim():
    """The reason for the module: without malloc_trim, the freed pages stay in the process."""
    worker_memory.memory_give_back()
    before = worker_memory.rss_bytes()
    kept = _peak_freed()
    assert kept and worker_memory.rss_bytes() > before + 30 * MB
    worker_memory.memory_give_back()
    assert worker_memory.rss_bytes() < before + 10 * MB


@pytest.mark.django_db
def test_a_task_leaves_no_query_log_behind():
    """With DEBUG on (`farm up`'s default), Django logs each query on its connection and empties the
    log when a request starts; a task is no request, so the worker empties it after each task."""
    from django.db import connection

    connection.force_debug_cursor = True  # what DEBUG does
    try:
        task_prerun.send(sender=None, task_id="queries", task=None)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert len(connection.queries_log) >= 1
        task_postrun.send(sender=None, task_id="queries", task=None)
        assert len(connection.queries_log) == 0
    finally:
        connection.force_debug_cursor = False
