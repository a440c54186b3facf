"""Receivers that keep the host cache honest; cache eviction is all they do.

Each eviction happens at once and again after commit: a request that read the old row between
the two (inside the writing transaction's window) cannot leave a stale entry behind.
"""
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from instances import hosts
from instances.models import Domain, Instance


def _now_and_after_commit(evict, *args):
    evict(*args)
    transaction.on_commit(lambda: evict(*args), robust=True)


@receiver(post_save, sender=Instance, dispatch_uid="instances_evict_instance_hosts")
def _evict_instance_hosts(sender, instance, **kwargs):
    _now_and_after_commit(hosts.evict_instance, instance.pk)


@receiver(pre_save, sender=Domain, dispatch_uid="instances_evict_renamed_domain")
def _evict_renamed_domain(sender, instance, **kwargs):
    if instance.pk:
        old = Domain.objects.filter(pk=instance.pk).values_list("domain", flat=True).first()
        if old and old != instance.domain:
            _now_and_after_commit(hosts.evict_hosts, [old])


@receiver(post_save, sender=Domain, dispatch_uid="instances_evict_saved_domain")
@receiver(post_delete, sender=Domain, dispatch_uid="instances_evict_deleted_domain")
def _evict_domain(sender, instance, **kwargs):
    _now_and_after_commit(hosts.evict_hosts, [instance.domain])
