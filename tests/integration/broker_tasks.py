"""A task for the broker outage test, loaded by its worker (`celery worker --include`): it runs long
enough for Redis to go away while the worker holds its message unacknowledged."""
import time
from pathlib import Path

from celery import shared_task


@shared_task(name="tests.nap", acks_late=True)
def nap(seconds: float, marker: str) -> None:
    """Say it started, sleep, say it finished (in files: the broker may be away meanwhile)."""
    Path(marker + ".started").touch()
    time.sleep(seconds)
    Path(marker + ".done").touch()
