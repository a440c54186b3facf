"""Settings, read from the environment (12-factor).

DATABASE_URL and REDIS_URL name the services; `farm up` and `farm with-services` set them
to embedded PostgreSQL and Redis when they are not given.
"""
import os
import secrets
from pathlib import Path

from datetime import timedelta

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("FARM_STATE_DIR", BASE_DIR / ".state"))


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the state folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = STATE_DIR / "secret_key"
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
FARM_DOMAIN = os.environ.get("FARM_DOMAIN", "localhost").lower()
# Host validation is done by the routing middleware against the Domain table, which is a
# stricter allow-list than a static list (custom domains are added at run time).
ALLOWED_HOSTS = ["*"]

SHARED_APPS = [
    "django_tenants",
    "instances",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    "csp",
    "farm",
    "farm.cron",
]
TENANT_APPS = [
    "analytics",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "instances.Instance"
TENANT_DOMAIN_MODEL = "instances.Domain"
PUBLIC_SCHEMA_URLCONF = "farm.urls_public"
ROOT_URLCONF = "farm.urls_tenant"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

MIDDLEWARE = [
    "instances.middleware.InstanceRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out login attempt
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "farm.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/farm"),
        engine="django_tenants.postgresql_backend",
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Short timeouts everywhere Redis is called from a request: while Redis restarts (refused) or hangs,
# a request falls back (host cache → database, hit queue → write-through) within a second.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "farm",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

CELERY_BROKER_URL = REDIS_URL
# A worker, Beat and the web ride out a Redis restart (farm/celery.py: RedisTransport, and the README,
# "Restarts"): reconnect forever, notice a dead connection (keepalive, health checks) instead of
# waiting on it, and never block a request on a Redis that hangs.
CELERY_BROKER_TRANSPORT = "farm.celery:RedisTransport"
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1, "socket_timeout": 5, "socket_keepalive": True, "health_check_interval": 10,
    "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5,  # publishing
}
# A task running when the connection drops finishes its work (an ingest batch is stored, then the
# hits are acknowledged on the stream once Redis answers again) instead of being killed half-way;
# its message, which cannot be acknowledged any more, is delivered again after the visibility
# timeout, and tasks are idempotent.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Hits are ingested by workers of their own queue (`celery worker -Q ingest`).
FARM_INGEST_QUEUE = os.environ.get("FARM_INGEST_QUEUE", "ingest")
FARM_HITS_STREAM = os.environ.get("FARM_HITS_STREAM", "farm:hits")
FARM_METRICS_KEY = os.environ.get("FARM_METRICS_KEY", "farm:metrics")  # farm.metrics' Redis hash
# Sites' cron URLs are called by a worker of their own queue (`celery worker -Q site_cron --pool threads`).
FARM_SITE_CRON_QUEUE = os.environ.get("FARM_SITE_CRON_QUEUE", "site_cron")
CELERY_TASK_ROUTES = {"analytics.ingest": {"queue": FARM_INGEST_QUEUE},
                      "instances.site_cron": {"queue": FARM_SITE_CRON_QUEUE}}
# Tests give each run its own queue so a running `farm up` worker never takes their tasks.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("FARM_CELERY_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# farm.cron tuning (defaults in the code; see farm/cron/__init__.py for the semantics)
FARM_CRON_RETRY_BASE_SECONDS = float(os.environ.get("FARM_CRON_RETRY_BASE_SECONDS", "5"))
FARM_CRON_HISTORY_DAYS = int(os.environ.get("FARM_CRON_HISTORY_DAYS", "30"))
FARM_CRON_LEASE_SECONDS = int(os.environ.get("FARM_CRON_LEASE_SECONDS", "60"))
FARM_CRON_URL_ALLOW = [n.strip() for n in os.environ.get("FARM_CRON_URL_ALLOW", "").split(",") if n.strip()]
FARM_CRON_URL_TIMEOUT = float(os.environ.get("FARM_CRON_URL_TIMEOUT", "10"))
FARM_VISIT_TIMEOUT_MINUTES = int(os.environ.get("FARM_VISIT_TIMEOUT_MINUTES", "30"))
FARM_HOST_LOCAL_CACHE_SECONDS = float(os.environ.get("FARM_HOST_LOCAL_CACHE_SECONDS", "2"))
FARM_COUNTRY_CACHE_DIR = os.environ.get("FARM_COUNTRY_CACHE_DIR", "")

# Reporting API: archives one request may build on demand (the rest waits for the hourly run), and Live caps
FARM_API_MAX_ARCHIVES = int(os.environ.get("FARM_API_MAX_ARCHIVES", "100"))
FARM_API_LIVE_MAX_VISITS = int(os.environ.get("FARM_API_LIVE_MAX_VISITS", "1000"))  # one Live.getLastVisitsDetails
FARM_LIVE_PROFILE_MAX_VISITS = int(os.environ.get("FARM_LIVE_PROFILE_MAX_VISITS", "100"))  # as Matomo's profile
# How long a segment computed on request (not pre-processed) is kept, in seconds.
FARM_SEGMENT_CACHE_SECONDS = int(os.environ.get("FARM_SEGMENT_CACHE_SECONDS", "300"))
# Pre-processed segments: how many a site may have, and the seconds an hourly run gives them (then next run).
FARM_MAX_PREPROCESSED_SEGMENTS = int(os.environ.get("FARM_MAX_PREPROCESSED_SEGMENTS", "20"))
FARM_SEGMENT_ARCHIVE_SECONDS = int(os.environ.get("FARM_SEGMENT_ARCHIVE_SECONDS", "600"))
FARM_LIVE_MAX_ACTIONS_PER_VISIT = int(os.environ.get("FARM_LIVE_MAX_ACTIONS_PER_VISIT", "500"))  # as Matomo

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "my-sites"
LOGOUT_REDIRECT_URL = "home"

# Login throttling (django-axes), on the portal's login and the admin's: after FARM_LOGIN_FAILURE_LIMIT
# failed attempts for one username from one address, that pair is locked out (429, a page saying so)
# for FARM_LOGIN_LOCKOUT_MINUTES, or until a farm admin deletes its "access attempt" in the admin
# (`farm axes_reset` unlocks everyone). A success forgets the failures.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = int(os.environ.get("FARM_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("FARM_LOGIN_LOCKOUT_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "farm.addresses.client_ip"
AXES_VERBOSE = False  # NB: its start-up banner would land in every command's output

LANGUAGE_CODE = os.environ.get("FARM_LANGUAGE", "en")  # the default UI language and that of emails
LANGUAGES = [("en", _("English")), ("fr", _("French"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
# A mail server that stops answering must not hold a worker: the send is then recorded as "unknown"
# (analytics.email_reports.delivery), never retried blindly.
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "60"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"farm@{FARM_DOMAIN}")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto so links and SSO stay on https.
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# FARM_HTTPS=1: the farm is served over https (production). Cookies are then sent over https only,
# plain http is redirected (except the probes: /healthz and /metrics answer a load balancer as
# they are), and browsers are told to use https for a year (HSTS), subdomains — the sites — too.
# `manage.py check --deploy` is clean with it (a test runs it).
HTTPS = env_bool("FARM_HTTPS")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS or env_bool("SECURE_COOKIES")
SECURE_SSL_REDIRECT = HTTPS
# NB: nor the tracking door: a tracker's POST redirected would come back a GET without its hits
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$", r"^(matomo|piwik)\.(php|js)$"]
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preloading commits the domain to browsers' built-in lists (hard to undo): the operator's choice.
SECURE_HSTS_PRELOAD = env_bool("FARM_HSTS_PRELOAD")
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]  # NB: preload left to the operator

# Content-Security-Policy (django-csp) on every page: scripts only from the farm's own files (no
# inline script or handler anywhere: farm/static/farm/page.js wires behaviours from data-
# attributes); inline styles allowed (style attributes and <style> blocks, which cannot run code:
# see the README); no page may be framed, except the opt-out page sites embed and the email
# report's preview, framed by its own page (their views say so).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    },
}

# Quotas, the farm's defaults (instances.quotas; a person's and a site's own are set in the admin): sites a
# person may have requested or live, and per site hits a month and storage in MB; 0 is no limit.
FARM_QUOTA_SITES_PER_USER = int(os.environ.get("FARM_QUOTA_SITES_PER_USER", "0"))
FARM_QUOTA_HITS_PER_MONTH = int(os.environ.get("FARM_QUOTA_HITS_PER_MONTH", "0"))
FARM_QUOTA_STORAGE_MB = int(os.environ.get("FARM_QUOTA_STORAGE_MB", "0"))

# /metrics (Prometheus text): answered only with `Authorization: Bearer <FARM_METRICS_TOKEN>`; not at all without it.
FARM_METRICS_TOKEN = os.environ.get("FARM_METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
