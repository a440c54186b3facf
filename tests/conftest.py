"""Shared fixtures: real PostgreSQL (pytest-django's test database), real Redis, real Celery workers."""
import os
import socket
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from farm.celery import app as celery_app
from instances import hosts
from tests import network_guard

network_guard.install()

# Each test run gets its own Celery queue so a `farm up` worker on the same Redis never takes its
# tasks. NB: pytest-django has loaded settings before this module, so the queue is set on the
# settings, on the Celery app and in the environment that subprocesses (workers, CLI) inherit.
TEST_QUEUE = f"farm-test-{uuid.uuid4().hex[:8]}"
os.environ["FARM_CELERY_QUEUE"] = TEST_QUEUE
settings.CELERY_TASK_DEFAULT_QUEUE = TEST_QUEUE
celery_app.conf.task_default_queue = TEST_QUEUE
TEST_INGEST_QUEUE = os.environ["FARM_INGEST_QUEUE"] = f"{TEST_QUEUE}-ingest"
TEST_SITE_CRON_QUEUE = os.environ["FARM_SITE_CRON_QUEUE"] = f"{TEST_QUEUE}-site-cron"
celery_app.conf.task_routes = settings.CELERY_TASK_ROUTES = {"analytics.ingest": {"queue": TEST_INGEST_QUEUE},
                                                             "instances.site_cron": {"queue": TEST_SITE_CRON_QUEUE}}
os.environ["FARM_HITS_STREAM"] = settings.FARM_HITS_STREAM = f"{TEST_QUEUE}:hits"
os.environ["FARM_METRICS_KEY"] = settings.FARM_METRICS_KEY = f"{TEST_QUEUE}:metrics"  # counters of this run only
settings.FARM_DOMAIN = "localhost"  # the tests name hosts like blog.localhost
os.environ["FARM_CRON_RETRY_BASE_SECONDS"] = "0.01"  # retries within milliseconds, not minutes
settings.FARM_CRON_RETRY_BASE_SECONDS = 0.01
# Sites' cron URLs in the tests are local servers: loopback is allowed (nothing else is).
os.environ["FARM_CRON_URL_ALLOW"] = "127.0.0.0/8"
settings.FARM_CRON_URL_ALLOW = ["127.0.0.0/8"]
os.environ["FARM_CRON_EXTRA_MODULES"] = "tests.cron_tasks"  # worker processes register the test tasks
import tests.cron_tasks  # noqa: E402,F401  (registers them here)

KEEP_SCHEMAS = {"public", "tenant_template", "information_schema"}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, plus the migrated template schema that provisioning clones."""
    from instances.provisioning import template_schema_migrate

    with django_db_blocker.unblock():
        template_schema_migrate()


@pytest.fixture(autouse=True)
def _stays_on_the_machine():
    """Fails a test that tried to reach off the machine, even if the code under test swallowed the error."""
    network_guard.take_attempts()
    yield
    attempts = network_guard.take_attempts()
    if attempts:
        pytest.fail("the test tried to reach off the machine: " + "; ".join(attempts), pytrace=False)


@pytest.fixture(autouse=True)
def _fresh_host_cache_and_language():
    from django.utils import translation

    hosts.clear_cache()
    cache.set(tests.cron_tasks.NAMESPACE, uuid.uuid4().hex, timeout=None)  # fresh counters per test
    translation.activate(settings.LANGUAGE_CODE)  # LocaleMiddleware leaves a request's language active
    yield


@pytest.fixture(autouse=True)
def _drop_site_schemas(request, django_db_blocker):
    """Transactional tests commit schemas that the table flush does not remove; drop them after."""
    yield
    if not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%%'")
        for (schema,) in cursor.fetchall():
            if schema not in KEEP_SCHEMAS:
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _test_database_url() -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/farm"))
    return urlunsplit(parts._replace(path="/" + settings.DATABASES["default"]["NAME"]))


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup):
    """A real `celery worker` process on this run's queue, against the test database."""
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    name = f"test-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "farm", "worker", "--pool", "solo", "--loglevel", "INFO",
         "-n", name, "-Q", f"{TEST_QUEUE},{TEST_INGEST_QUEUE},{TEST_SITE_CRON_QUEUE}", "--without-gossip", "--without-mingle"],
        env=env, cwd=settings.BASE_DIR,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if celery_app.control.inspect(destination=[name], timeout=0.5).ping():
            break
        if proc.poll() is not None:
            raise RuntimeError("the Celery worker exited at start; see its output above")
    else:
        proc.kill()
        raise RuntimeError("the Celery worker did not answer a ping within 30 s")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    """Poll until predicate() is truthy; returns its value or fails the test with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
