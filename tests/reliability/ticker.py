"""A racing "Beat" for the exactly-once test: a process of its own that ticks the given hours in
order (filtered to one task), as the super cron would each minute, waking workers each time, and
then sending every wake-up a second time (a message delivered twice).

Two Beats tick the same minute, each on its own clock: after each hour, a ticker waits until all
`BEATS` tickers have ticked it (a counter in Redis), as two Beat processes both fire at 14:01, then
both at 15:01. Without that, one would run hours ahead of the other, which no Beat does.

    python -m tests.reliability.ticker START_ISO HOURS TASK_NAME BEATS RUN_KEY
"""
import os
import sys
import time
from datetime import datetime, timedelta


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from django.core.cache import cache

    from farm.cron import dispatch

    start, hours, name = datetime.fromisoformat(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    beats, key = int(sys.argv[4]), sys.argv[5]
    for hour in range(hours):
        result = dispatch.tick(now=start + timedelta(hours=hour, minutes=1), filters={"name": name})
        dispatch.wake_workers(result.queued)  # every wake-up delivered twice
        cache.add(f"{key}:{hour}", 0, timeout=3600)
        cache.incr(f"{key}:{hour}")
        deadline = time.monotonic() + 120
        while (cache.get(f"{key}:{hour}") or 0) < beats and time.monotonic() < deadline:
            time.sleep(0.01)


if __name__ == "__main__":
    main()
