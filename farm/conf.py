"""All FARM_* settings with their defaults, read through one accessor: `farm_setting(name)`."""
from django.conf import settings

DEFAULTS = {
    # The portal's host name; each instance answers on <slug>.<FARM_DOMAIN>.
    "FARM_DOMAIN": "localhost",
    # Extra host names that also reach the portal (health checks by IP, local development).
    "FARM_PORTAL_ALIASES": ["127.0.0.1", "[::1]"],
    # The migrated schema that new tenants are cloned from.
    "FARM_TEMPLATE_SCHEMA": "tenant_template",
    # Days between scheduling a deletion and the purge that drops the schema.
    "FARM_DELETION_GRACE_DAYS": 30,
    # Seconds a host -> instance lookup stays cached (it is also evicted on every change).
    "FARM_HOST_CACHE_SECONDS": 300,
    # Seconds a portal -> site single sign-on link stays valid.
    "FARM_SSO_MAX_AGE": 60,
    # Slugs nobody may request: they collide with infrastructure names or our own schemas.
    "FARM_RESERVED_SLUGS": [
        "admin", "api", "app", "assets", "auth", "cdn", "dashboard", "dev", "docs", "farm",
        "ftp", "help", "imap", "info", "localhost", "login", "mail", "matomo", "mx", "ns",
        "ns1", "ns2", "piwik", "pop", "portal", "public", "root", "smtp", "static", "status",
        "support", "staging", "test", "tenant-template", "www", "information-schema",
    ],
}


def farm_setting(name: str):
    """Return the project setting `name`, falling back to its default above."""
    if name not in DEFAULTS:
        raise KeyError(f"{name} is not a farm setting; known: {', '.join(sorted(DEFAULTS))}")
    return getattr(settings, name, DEFAULTS[name])
