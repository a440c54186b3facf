"""A real Celery worker survives its Redis restarting while it runs a task (the crash users saw:
"Unrecoverable error: AttributeError('NoneType' object has no attribute 'hostname')"), finishes
that task and takes new ones once Redis is back, without being restarted.

NB: two pool processes, so that while one runs the task the worker waits on Redis for more (a
BRPOP in flight): the state in which kombu's own Redis transport crashed on the reconnection
(this test fails with CELERY_BROKER_TRANSPORT = "redis")."""
import os
import subprocess
import sys
import uuid

import pytest
from celery import Celery

from farm.embedded import EmbeddedRedis, _free_port
from farm.settings import BASE_DIR
from tests.conftest import wait_for

pytestmark = pytest.mark.worker


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis", _free_port())
    server.start()
    yield server
    server.stop()


def test_a_worker_running_a_task_when_redis_restarts_reconnects_and_keeps_working(own_redis, tmp_path):
    queue = f"outage-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "REDIS_URL": own_redis.url}
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "farm", "worker", "--concurrency", "2", "--loglevel", "INFO",
             "--include", "tests.integration.broker_tasks", "-Q", queue, "--without-gossip", "--without-mingle",
             "-n", f"{queue}@%h"], env=env, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
    sender = Celery("sender", broker=own_redis.url)
    sender.conf.broker_transport = "farm.celery:RedisTransport"
    try:
        wait_for(lambda: " ready." in log.read_text() or worker.poll() is not None, timeout=60)
        first, second = str(tmp_path / "first"), str(tmp_path / "second")
        sender.send_task("tests.nap", args=[4, first], queue=queue)
        wait_for(lambda: os.path.exists(first + ".started"), timeout=30)
        own_redis.stop()  # the worker holds the running task's message, unacknowledged
        wait_for(lambda: "Connection to broker lost" in log.read_text(), timeout=15)
        own_redis.start()  # same port, same data folder
        wait_for(lambda: os.path.exists(first + ".done") or worker.poll() is not None, timeout=30)
        sender.send_task("tests.nap", args=[0, second], queue=queue)
        wait_for(lambda: os.path.exists(second + ".done") or worker.poll() is not None, timeout=60)
        output = log.read_text()
        assert "Unrecoverable error" not in output, output[-3000:]
        assert "Connection to broker lost" in output and "CPendingDeprecationWarning" not in output, \
            "the loss is said in one line, not buried under celery's nine-line warning"
        assert worker.poll() is None and os.path.exists(second + ".done"), output[-3000:]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
