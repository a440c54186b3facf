"""What every benchmark does first: a database of its own (recreated), Django set up against it.

Benchmarks run against DATABASE_URL's server but never in its database: each one recreates
`<name>_<suffix>` so its numbers start from nothing and its data never mixes with the farm's.
"""
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def database_url(suffix: str) -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/farm"))
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{suffix}"))


def recreate_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_in_own_database(suffix: str, *, reuse: bool = False, **environ: str) -> None:
    """Point Django at a freshly recreated `<db>_<suffix>` (with `environ` set first), emails kept in
    memory, and set it up. The caller runs farm_init (some register tasks before it). `reuse`: keep
    the database of an earlier run as it is (to measure again without generating again)."""
    os.environ["DATABASE_URL"] = database_url(suffix)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    os.environ.update(environ)
    if not reuse:
        recreate_database(os.environ["DATABASE_URL"])

    import django

    django.setup()


def live_site(username: str, **request):
    """A site requested by a new user, validated and provisioned: ready for traffic."""
    from instances import provisioning, services
    from tests.factories import make_user

    site = services.instance_request(owner=make_user(username), **request)
    return provisioning.instance_provision(instance_id=services.instance_validate(instance=site, by=None).pk)


def timed(call, repeat: int, *, warm: bool = True) -> tuple[float, float]:
    """(p50, p95) in ms of `repeat` calls (after one warm-up call when `warm`); each call must succeed."""
    import statistics
    import time

    if warm:
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]
