"""SitesManager.*: the sites themselves as Matomo describes them (no reports, so no schema is read).

Only live sites the caller may view are ever listed or matched; a site's own domain lists only
that site. The farm keeps no currency per site: every site reports "EUR".
"""
from urllib.parse import urlsplit

from analytics.api import access
from analytics.api.errors import ApiError
from instances.models import Instance

CURRENCY = "EUR"


def origin(site: Instance) -> str:
    """The scheme and host of the site's main URL ("" without one): page-URL reports' `url` column."""
    parts = urlsplit(site.main_url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def site_row(site: Instance) -> dict:
    """A site with Matomo's SitesManager fields."""
    return {
        "idsite": site.pk, "name": site.name, "main_url": site.main_url,
        "ts_created": site.created_at.strftime("%Y-%m-%d %H:%M:%S"), "timezone": site.timezone,
        "currency": CURRENCY, "excluded_ips": _joined(site.excluded_ips),
        "excluded_user_agents": _joined(site.excluded_user_agents), "sitesearch": 1, "type": "website", "group": "",
    }


def _joined(lines: str) -> str:
    return ",".join(line.strip() for line in (lines or "").replace(",", "\n").splitlines() if line.strip())


def _host(url: str) -> str:
    """The URL's host without "www." (Matomo matches a site with or without it)."""
    try:
        host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    except ValueError:
        raise ApiError(f"url=“{url[:100]}” is not a URL") from None
    return host.removeprefix("www.")


def _hosts(site: Instance) -> set[str]:
    urls = [site.main_url, *(site.alias_urls or [])]
    return {_host(url) for url in urls if url} | {d.domain.removeprefix("www.") for d in site.domains.all()}


def get_site_from_id(call) -> dict:
    return site_row(call.site)


def get_sites_id_from_site_url(call) -> list[dict]:
    wanted = _host(call.params.required("url", "the site URL to look up, e.g. url=https://example.org"))
    return [{"idsite": site.pk} for site in access.readable_sites(call.user, call.host)
            if wanted and wanted in _hosts(site)]


def get_all_sites(call) -> list[dict]:
    access.require_superuser(call.user)
    return [site_row(site) for site in access.readable_sites(call.user, call.host)]


def get_sites_with_view_access(call) -> list[dict]:
    return [site_row(site) for site in access.readable_sites(call.user, call.host)]


def get_sites_id_with_view_access(call) -> list[int]:
    return [site.pk for site in access.readable_sites(call.user, call.host)]


METHODS = {
    "SitesManager.getSiteFromId": (get_site_from_id, "site"),
    "SitesManager.getSitesIdFromSiteUrl": (get_sites_id_from_site_url, "farm"),
    "SitesManager.getAllSites": (get_all_sites, "farm"),
    "SitesManager.getSitesWithAtLeastViewAccess": (get_sites_with_view_access, "farm"),
    "SitesManager.getSitesIdWithAtLeastViewAccess": (get_sites_id_with_view_access, "farm"),
}
