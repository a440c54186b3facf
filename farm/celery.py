"""The Celery application shared by web, worker and beat processes, and the Redis transport they use.

The transport is kombu's, with one repair (RedisTransport below) so that a worker survives Redis
going away while it holds messages; settings.CELERY_BROKER_TRANSPORT names it.
"""
import logging
import os
import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import worker_ready
from kombu.transport import redis as kombu_redis

from farm import worker_memory  # noqa: F401  (connects its task signal handlers)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")

logger = logging.getLogger(__name__)


@worker_ready.connect
def _quiet_the_cancel_on_connection_loss_warning(**_kwargs) -> None:
    """worker_cancel_long_running_tasks_on_connection_loss stays off on purpose (settings.py says
    why); celery warns about it, in nine lines, at every loss of the broker connection, burying the
    line that says what happened. NB: on worker_ready, since celery's logging set-up shows every
    deprecation warning ("always") after our module is imported."""
    warnings.filterwarnings("ignore", message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
                            category=CPendingDeprecationWarning)


class _QoS(kombu_redis.QoS):
    """Unacknowledged messages of a channel whose connection is gone stay in Redis.

    NB: when Redis drops while the worker holds messages it has not acknowledged (a running task
    with acks_late, a prefetched one), the consumer closes the dead connection, which drops the
    transport's connection info, and then its channel, which tries to put those messages back in
    their queues; a task that was running finishes later and acknowledges its message on that
    same channel. Both build a new Redis pool from the dropped info and raise AttributeError
    ("'NoneType' object has no attribute 'hostname'" / "... 'client'"), which celery reports as an
    unrecoverable error: the worker exits (kombu 5.7). Nothing is lost by not touching Redis
    there: kombu keeps a copy of every unacknowledged message in Redis (its "unacked" hash) and
    consumers put it back in its queue after the visibility timeout. Our tasks are idempotent (hit
    ids, run claims), so a message delivered again stores nothing twice.
    """

    def _detached(self) -> bool:
        connection = self.channel.connection
        return connection is None or connection.client is None

    def restore_unacked(self, client=None):
        if client is None and self._detached():
            if self._delivered:
                logger.warning("broker connection lost with %d unacknowledged message(s); Redis keeps them "
                               "and they are delivered again after the visibility timeout", len(self._delivered))
            self._delivered.clear()
            return None
        return super().restore_unacked(client)

    def ack(self, delivery_tag):
        if self._detached():
            logger.warning("a task finished after the broker connection was lost; its message is delivered "
                           "again after the visibility timeout (tasks are idempotent)")
            self._delivered.pop(delivery_tag, None)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self._detached():
            self._delivered.pop(delivery_tag, None)
            return
        super().reject(delivery_tag, requeue=requeue)


class _Channel(kombu_redis.Channel):
    QoS = _QoS


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport whose channels survive closing after the connection was lost."""

    Channel = _Channel


app = Celery("farm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
