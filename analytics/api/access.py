"""Who is calling and which sites they may read: tokens, sessions, idSite lists, per-site roles.

A site the caller may not view and a site that does not exist get the same message, Matomo's
generic one, so the API never tells whether another site exists. On a site's own domain the
API answers about that site only: idSite defaults to it and any other id is refused.
"""
import re

from analytics.api.errors import ApiError, NoAccess
from analytics.api.params import Params
from instances.models import Instance, Role, SchemaState, Status
from instances.selectors import instance_allows, instances_for_user
from instances.tokens import token_user

MUST_LOG_IN = ("You must be logged in to access this functionality: send your personal token as token_auth "
               "(POST body preferred) or log in.")
_ID_LIST = re.compile(r"^\d{1,9}(,\d{1,9}){0,99}$")


def api_user(request, params: Params):
    """The caller: the token's owner when token_auth is sent (an unknown or revoked token is refused,
    never silently downgraded to the session), else the logged-in session's user."""
    if params.token is not None:
        user = token_user(params.token)
        if user is None:
            raise NoAccess("token_auth is not valid (unknown, malformed or revoked): create a new token on the "
                           "portal's tokens page.")
        return user
    if request.user.is_authenticated:
        return request.user
    raise NoAccess(MUST_LOG_IN)


def no_access(id_site) -> NoAccess:
    return NoAccess(f"You can't access this resource as it requires 'view' access for the website id = {id_site}.")


def readable_sites(user, host: Instance | None) -> list[Instance]:
    """The live sites the person may view, by id; on a site's domain only that site."""
    return list(readable_queryset(user, host))


def readable_queryset(user, host: Instance | None):
    """readable_sites as a QuerySet, for callers that need only a few columns of many sites."""
    sites = instances_for_user(user).filter(status=Status.PUBLIE, schema_state=SchemaState.READY)
    if host is not None:
        sites = sites.filter(pk=host.pk)
    return sites.order_by("pk")


def requested_sites(user, params: Params, host: Instance | None) -> tuple[list[Instance], bool]:
    """The sites named by idSite (`N`, `N,M` or `all`), each checked for the view role.

    Returns the sites and whether the answer is keyed by idsite (a list or `all`, as Matomo does).
    """
    raw = params.id_site or (str(host.pk) if host is not None else None)
    if raw is None:
        raise ApiError("The parameter 'idSite' is missing: pass idSite=N, a list idSite=1,2, or idSite=all.")
    if raw.lower() == "all":
        return readable_sites(user, host), True
    if not _ID_LIST.match(raw):
        raise ApiError(f"idSite must be a site id, a comma-separated list of ids, or all, not “{raw[:50]}”")
    ids = list(dict.fromkeys(int(part) for part in raw.split(",")))
    return [site_for(user, id_site, host) for id_site in ids], "," in raw


def site_for(user, id_site: int, host: Instance | None, role: str = Role.VIEW) -> Instance:
    """One site the person holds `role` on, or the generic refusal (unknown, other host, not live, no role)."""
    if host is not None and id_site != host.pk:
        raise no_access(id_site)
    site = Instance.objects.filter(pk=id_site).first()
    if site is None or not site.is_live or not instance_allows(user=user, instance=site, role=role):
        raise no_access(id_site)
    return site


def require_superuser(user) -> None:
    if not user.is_superuser:
        raise NoAccess("You can't access this resource as it requires 'superuser' access.")
