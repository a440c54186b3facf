"""Celery tasks of the analytics app (the ingest worker)."""
from celery import shared_task

from analytics.tracking.queue import ingest_drain


@shared_task(name="analytics.ingest", ignore_result=True)
def ingest_drain_task() -> int:
    """Store every queued hit; woken by the endpoint (once per second of traffic) and every 10 s by Beat."""
    return ingest_drain()
