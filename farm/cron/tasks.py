"""Celery tasks of the cron: the tick (sent by Beat every minute) and the worker wake-up."""
from celery import shared_task

from farm.cron import dispatch, execution, sweeper, timetable


@shared_task(name="cron.tick", ignore_result=True)
def super_cron_tick_task() -> dict:
    """Sync the timetable after a deploy, recover stuck runs, then dispatch what is due."""
    timetable.timetable_sync_if_registry_changed()
    swept = sweeper.runs_sweep()
    result = dispatch.tick()
    return {"due": result.due, "queued": result.queued, "skipped": result.skipped, "missed": result.missed,
            "requeued": swept.requeued, "seconds": round(result.seconds, 3)}


@shared_task(name="cron.work", ignore_result=True, acks_late=True)
def work_task() -> int:
    """Claim and run queued runs; duplicated wake-ups are harmless (they find nothing to claim)."""
    return execution.work()
