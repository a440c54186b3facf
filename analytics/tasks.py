"""Celery tasks of the analytics app (the ingest worker)."""
import logging

from celery import shared_task
from celery.signals import worker_init
from django.conf import settings

from analytics.tracking import enrich
from analytics.tracking.queue import ingest_drain

logger = logging.getLogger(__name__)


@shared_task(name="analytics.ingest", ignore_result=True)
def ingest_drain_task() -> int:
    """Store every queued hit; woken by the endpoint (once per second of traffic) and every 10 s by Beat."""
    return ingest_drain()


@worker_init.connect
def ingest_worker_warm_up(sender=None, **_kwargs) -> None:
    """A worker consuming the hit queue loads the device and country rule sets (~200 MB, ~4 s with
    device-detector's first-walked rules compiled) in its main process, before the pool forks: its
    children share them (frozen out of the garbage collector's sight, their pages stay shared)
    instead of each loading its own on its first drain."""
    queues = sender.app.amqp.queues if sender is not None else {}
    if settings.FARM_INGEST_QUEUE in (getattr(queues, "consume_from", None) or queues):
        logger.info("ingest: device and country rule sets loaded in %.1f s", enrich.warm_up())
