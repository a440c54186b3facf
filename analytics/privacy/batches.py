"""One small transaction of a privacy task's batch work (retention, anonymisation): a short
lock_timeout so ingest and reads never queue behind it, and a lock waited for too long turned into
RetryableError (the farm's cron tries again later; the batches already committed stay done)."""
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

from farm.cron import RetryableError

LOCK_TIMEOUT = "2s"


@contextmanager
def batch_transaction():
    """A transaction and its cursor, under LOCK_TIMEOUT."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            yield cursor
    except OperationalError as error:  # NB: lock_timeout
        raise RetryableError(f"a batch waited over {LOCK_TIMEOUT} for a lock ({error})") from None
