"""The farm's queues as they stand, in one place for /metrics, /healthz, the farm console and each
tick's sample: hits waiting for ingest and set aside, how long the oldest has waited, and the
super cron's last tick. All of it lives in Redis: None when Redis does not answer."""
import redis


def queues_now() -> dict | None:
    """{hits_queued, hits_dead, ingest_lag_seconds, tick_age_seconds (None: never ticked)}, or None."""
    from analytics.tracking import queue
    from farm.cron.dispatch import last_tick_age

    try:
        depth = queue.queue_depth()
        return {"hits_queued": depth["queued"], "hits_dead": depth["dead"],
                "ingest_lag_seconds": queue.ingest_lag_seconds(), "tick_age_seconds": last_tick_age()}
    except redis.RedisError:
        return None
