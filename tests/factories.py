"""Factories for tests: people and sites in each lifecycle state, made through the real services."""
import itertools

from django.contrib.auth import get_user_model

from instances import provisioning, services
from instances.models import Instance

_seq = itertools.count(1)


def make_user(username: str | None = None, *, password: str = "a-long-Passw0rd", superuser: bool = False, **extra):
    username = username or f"user{next(_seq)}"
    User = get_user_model()
    extra.setdefault("email", f"{username}@example.org")
    if superuser:
        return User.objects.create_superuser(username=username, password=password, **extra)
    return User.objects.create_user(username=username, password=password, **extra)


def make_instance(slug: str | None = None, *, owner=None, state: str = "prepa", admin=None) -> Instance:
    """A site in `state`: prepa, publie (validated, schema ready), or desactive (after being live)."""
    slug = slug or f"site{next(_seq)}"
    owner = owner or make_user()
    instance = services.instance_request(owner=owner, name=slug.title(), slug=slug, purpose="testing")
    if state == "prepa":
        return instance
    instance = services.instance_validate(instance=instance, by=admin)
    instance = provisioning.instance_provision(instance_id=instance.pk)
    if state == "desactive":
        instance = services.instance_deactivate(instance=instance, by=admin, reason="test")
    return Instance.objects.get(pk=instance.pk)


def run_task_now(task):
    """Run one of a site's scheduled tasks at once in this process, as "run now" queues it; its result."""
    from farm.cron import execution
    from farm.cron.models import RunStatus

    started = execution.run_claim(run_id=execution.run_now(task=task).pk)
    assert execution.run_execute(started) == RunStatus.SUCCEEDED
    started.refresh_from_db()
    return started.result
