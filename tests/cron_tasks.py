"""Scheduled tasks used by the cron tests (registered in test processes and their worker processes).

Each task leaves a trace in Redis (through Django's cache) so tests can count real executions.
"""
import time

from django.core.cache import cache
from django.db import connection

from farm.cron import FARM, HIGH, RetryableError, hourly

CALLS = "calls"
NAMESPACE = "crontest:namespace"  # set afresh by each test (tests/conftest.py) so counts start at zero


def _key(key: str) -> str:
    return f"crontest:{cache.get(NAMESPACE, '')}:{key}"


def _bump(key: str) -> int:
    cache.add(_key(key), 0, timeout=3600)
    return cache.incr(_key(key))


def record(param=""):
    """Count one execution per schema (and param)."""
    _bump(f"{CALLS}:{connection.schema_name}:{param}")


def flaky(param="2"):
    """Fail with a retryable error `param` times per schema, then succeed."""
    if _bump(f"flaky:{connection.schema_name}") <= int(param):
        raise RetryableError("the upstream is busy")
    record("flaky")


def broken():
    raise ValueError("this task is broken")


def sleep_first_time(param="30"):
    """Hang for `param` seconds on the first call per schema (a worker to kill), return at once after."""
    if _bump(f"sleeper:{connection.schema_name}") == 1:
        time.sleep(float(param))
    record("sleeper")


def farm_record():
    record("farm")


hourly(record)
hourly(flaky, param="2", priority=HIGH, max_retries=3)
hourly(broken, max_retries=0)
hourly(sleep_first_time, param="60", time_limit=120)
hourly(farm_record, scope=FARM)


def calls(schema: str, param: str = "") -> int:
    return cache.get(_key(f"{CALLS}:{schema}:{param}"), 0)
