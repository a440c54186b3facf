"""Celery tasks for instances: thin wrappers that take ids and call one service."""
from celery import shared_task

from instances import provisioning, services


@shared_task(name="instances.provision")
def instance_provision_task(instance_id: int) -> str:
    """Provision one validated instance; safe to run twice (see instances.provisioning)."""
    return provisioning.instance_provision(instance_id=instance_id).schema_state


@shared_task(name="instances.purge_due")
def instances_purge_due_task() -> list[str]:
    """Purge the sites whose deletion grace period has ended (scheduled hourly)."""
    return services.instances_purge_due()
