"""Reads about instances: who may see what, and where a site lives."""
from django.db.models import Count, Q, QuerySet

from farm.conf import farm_setting
from instances.models import ROLE_RANK, Anonymisation, Instance, Membership, Role, Status


def instances_for_user(user) -> QuerySet:
    """Sites the person owns or is a member of (every site for a farm superuser)."""
    if user.is_superuser:
        return Instance.objects.all()
    return Instance.objects.filter(Q(owner=user) | Q(memberships__user=user)).distinct()


def instance_role(*, user, instance: Instance) -> str | None:
    """The person's role on the site: admin for superusers and the owner, else their membership."""
    if not user.is_authenticated:
        return None
    if user.is_superuser or instance.owner_id == user.pk:
        return Role.ADMIN
    return Membership.objects.filter(instance=instance, user=user).values_list("role", flat=True).first()


def instance_allows(*, user, instance: Instance, role: str) -> bool:
    """Whether the person holds at least `role` (view < write < admin) on the site."""
    held = instance_role(user=user, instance=instance)
    return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def instance_members(instance: Instance) -> QuerySet:
    return Membership.objects.filter(instance=instance).select_related("user").order_by("user__username")


def sites_by_state() -> list[dict]:
    """How many sites have each (status, schema_state): for /metrics and the farm console."""
    return list(Instance.objects.values("status", "schema_state").annotate(n=Count("id")).order_by())


def pending_requests_count() -> int:
    return Instance.objects.filter(status=Status.PREPA).count()


def instance_host(instance: Instance) -> str:
    return f"{instance.slug}.{farm_setting('FARM_DOMAIN')}"


def _scheme_and_port(request) -> tuple[str, str]:
    scheme = request.scheme
    port = request.get_port()
    default = {"http": "80", "https": "443"}[scheme]
    return scheme, "" if port in ("", default) else f":{port}"


def instance_site_url(instance: Instance, request, path: str = "/") -> str:
    """The site's own address, on the same scheme and port the request came through."""
    scheme, port = _scheme_and_port(request)
    return f"{scheme}://{instance_host(instance)}{port}{path}"


def portal_url(request, path: str = "/") -> str:
    """The portal's address, on the same scheme and port the request came through."""
    scheme, port = _scheme_and_port(request)
    return f"{scheme}://{farm_setting('FARM_DOMAIN')}{port}{path}"


def anonymisations_recent(*, instance: Instance, limit: int = 5) -> dict:
    """The site's latest anonymisations of stored data, and whether one is still to finish."""
    jobs = list(Anonymisation.objects.filter(instance=instance).select_related("requested_by")[:limit])
    return {"anonymisations": jobs,
            "anonymisations_pending": any(job.state in ("scheduled", "running") for job in jobs)}
