"""Celery tasks for instances: thin wrappers that take ids and call one service."""
import smtplib

from celery import shared_task

from instances import provisioning, services, site_cron


@shared_task(name="instances.provision")
def instance_provision_task(instance_id: int) -> str:
    """Provision one validated instance; safe to run twice (see instances.provisioning)."""
    return provisioning.instance_provision(instance_id=instance_id).schema_state


@shared_task(name="instances.purge_due")
def instances_purge_due_task() -> list[str]:
    """Purge the sites whose deletion grace period has ended (scheduled hourly)."""
    return services.instances_purge_due()


@shared_task(name="instances.site_cron", ignore_result=True, acks_late=True)
def site_cron_task(run_ids: list[int]) -> int:
    """Call the sites' cron URLs of these runs (a batch handed over by the super cron's tick)."""
    return site_cron.site_crons_call(run_ids=run_ids)


@shared_task(name="instances.quota_warning", autoretry_for=(OSError, smtplib.SMTPException), retry_backoff=30,
             max_retries=5, acks_late=True, ignore_result=True)
def quota_warning_task(instance_id: int, percent: int, hits: int, limit: int) -> None:
    """A site reached 80 % or 100 % of its hits (instances.quotas): tell its owner and the farm's admins."""
    from instances.quotas import quota_warn

    quota_warn(instance_id, percent=percent, hits=hits, limit=limit)
