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
    # How long each web process trusts its own copy of a host → site answer (instances.hosts).
    "FARM_HOST_LOCAL_CACHE_SECONDS": 2,
    # Seconds a portal -> site single sign-on link stays valid.
    "FARM_SSO_MAX_AGE": 60,
    # Seconds an emailed invitation to join a site stays valid (7 days).
    "FARM_INVITATION_MAX_AGE": 7 * 86400,
    # farm.cron: wake-up messages per queued runs, and their cap per tick
    "FARM_CRON_RUNS_PER_WAKEUP": 25,
    "FARM_CRON_MAX_WAKEUPS": 500,
    # farm.cron: days of run history kept; seconds before a queued run gets a new wake-up
    "FARM_CRON_HISTORY_DAYS": 30,
    "FARM_CRON_STALE_QUEUED": 60,
    # farm.cron: a claim's lease without heartbeat; retry backoff base and cap (seconds)
    "FARM_CRON_LEASE_SECONDS": 60,
    "FARM_CRON_RETRY_BASE_SECONDS": 5.0,
    "FARM_CRON_RETRY_CAP_SECONDS": 600.0,
    # farm.cron: run ids per message to a runner (farm.cron.batches); hours of history kept for the
    # runs of minute tasks (10,000 sites every minute is 14 million runs a day: their timetable rows
    # keep totals and the last run's summary, the history only its last hours)
    "FARM_CRON_RUNNER_BATCH": 500,
    "FARM_CRON_MINUTE_HISTORY_HOURS": 2,
    # farm.cron: days of the ticks' minute samples kept (the farm console charts the last 24 hours)
    "FARM_CRON_SAMPLE_DAYS": 7,
    # farm.cron's view of tenants: what makes one live, and where its timezone is
    "FARM_CRON_LIVE_TENANT": {"status": "publie", "schema_state": "ready"},
    "FARM_CRON_TENANT_TIMEZONE_FIELD": "timezone",
    # Sites' own cron URLs (instances.site_cron): the call's timeout (s), the calls at once in a
    # runner and per host, how much of an answer is read, failures in a row before the site's admins
    # hear of it, and the networks a cron URL may reach although they are not public (e.g.
    # ["127.0.0.0/8"] for sites on this machine; private, loopback, link-local, multicast and cloud
    # metadata addresses are refused otherwise).
    "FARM_CRON_URL_TIMEOUT": 10.0,
    "FARM_CRON_URL_CONCURRENCY": 500,
    "FARM_CRON_URL_PER_HOST": 6,
    "FARM_CRON_URL_MAX_BYTES": 64 * 1024,
    "FARM_CRON_URL_FAILURE_ALERT": 10,
    "FARM_CRON_URL_ALLOW": [],
    # Tracking: inactivity that ends a visit; the hit stream; when a dead worker's entries are reclaimed
    "FARM_VISIT_TIMEOUT_MINUTES": 30,
    "FARM_HITS_STREAM": "farm:hits",
    "FARM_METRICS_KEY": "farm:metrics",
    "FARM_INGEST_RECLAIM_MS": 60_000,
    # Days a parsed user agent stays in the farm's cache (analytics.tracking.agents); it is parsed
    # again when it comes back after that.
    "FARM_AGENT_CACHE_DAYS": 30,
    # Where the country lookup's compact table is kept between processes ("" = ~/.cache/farm)
    "FARM_COUNTRY_CACHE_DIR": "",
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
