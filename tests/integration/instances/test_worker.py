"""Provisioning through a real Celery worker process on real Redis and PostgreSQL."""
import os
import subprocess
import sys

import pytest
from django_tenants.utils import schema_exists

from instances import services
from instances.models import Instance, SchemaState
from instances.tasks import instance_provision_task
from tests.conftest import _test_database_url, wait_for
from tests.factories import make_instance

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def state_of(pk):
    return Instance.objects.get(pk=pk).schema_state


def test_validating_a_site_gets_it_provisioned_by_the_worker(celery_worker_process):
    instance = make_instance("via-worker")
    services.instance_validate(instance=instance, by=None)  # commits, so the task is sent at once
    wait_for(lambda: state_of(instance.pk) == SchemaState.READY)
    assert schema_exists("via_worker")
    assert Instance.objects.get(pk=instance.pk).domains.filter(domain="via-worker.localhost").exists()


def test_a_duplicated_provisioning_message_is_harmless(celery_worker_process):
    instance = make_instance("dup-msg")
    services.instance_validate(instance=instance, by=None)
    instance_provision_task.delay(instance.pk)
    instance_provision_task.delay(instance.pk)
    wait_for(lambda: state_of(instance.pk) == SchemaState.READY)
    # the extra messages run after "ready" and must leave it so
    instance_provision_task.delay(instance.pk)
    wait_for(lambda: celery_worker_process.poll() is None and state_of(instance.pk) == SchemaState.READY)
    assert Instance.objects.get(pk=instance.pk).domains.count() == 1


def test_the_validate_command_waits_until_the_schema_is_ready(celery_worker_process):
    make_instance("cli-wait")
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    result = subprocess.run([sys.executable, "-m", "farm.cli", "instance", "validate", "cli-wait", "--wait"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "schema ready" in result.stdout
