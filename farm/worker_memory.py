"""A Celery worker process keeps nothing of a task once it is done: Django's query log is emptied,
and the memory a big task freed goes back to the system.

Django's query log: with DEBUG on (the default of `farm up`), Django keeps every query's SQL on
its connection, up to 9,000, and empties that log when a request starts; a Celery task is no
request, so the log filled across tasks. Archiving one day of 20,000 visits added 44 queries and
1.46 MB of SQL text to it each run (RSS 125 → 137 MB over six runs); in the soak, each archiving
run left its pool process 3 to 13 MB bigger. Now emptied after each task, as after a request.

The freed memory: a worker process runs small ingest batches all day and, now and then, a big task
(a site's archiving, a purge). What such a task allocates at its peak is freed when it ends, but
glibc's malloc keeps the freed heap pages for later instead of returning them: the process's RSS
climbs to the peak of the biggest task it ever ran and stays there. Measured in one process on a
fixed day of 20,000 visits: archiving it took RSS from 116 to 130 MB, and `malloc_trim(0)` brought
it back to 117 MB. In the soak (docs/reliability.md), where archiving runs every 2 minutes on a
growing day, the trim gives back 5 to 10 MB of a pool process's 10 to 20 MB rise after each run.

So after a task that left its process bigger by GROWTH_MB or more, `malloc_trim(0)` returns the
free pages: 2 to 3 ms, measured after that archiving run, and only after such tasks (an ingest
batch grows a process by a few KB). On a C library without malloc_trim (musl) nothing is done.
Connected to Celery's task signals when farm.celery is imported, so every worker (prefork children,
the cron-URL threads) has it.
"""
import ctypes
import os

from celery.signals import task_postrun, task_prerun
from django.db import reset_queries

GROWTH_MB = 2.0


def _find_malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None


_malloc_trim = _find_malloc_trim()
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_rss_at_start: dict[str, int | None] = {}


def rss_bytes() -> int | None:
    """This process's resident set size, or None where /proc does not tell (not Linux)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return None


def memory_give_back() -> bool:
    """Return the free pages of the C heap to the system; False where the C library cannot."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


@task_prerun.connect
def _rss_remember(task_id=None, **_kwargs) -> None:
    _rss_at_start[task_id] = rss_bytes()


@task_postrun.connect
def _memory_give_back_after_growth(task_id=None, **_kwargs) -> None:
    reset_queries()  # this thread's connections' query logs (Django does it when a request starts)
    before = _rss_at_start.pop(task_id, None)
    after = rss_bytes() if before is not None else None
    if after is not None and after - before >= GROWTH_MB * 2**20:
        memory_give_back()
