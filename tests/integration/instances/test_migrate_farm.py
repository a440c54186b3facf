"""`farm migrate_farm`: one query says which schemas lack migrations (--check exits 1 and names
them, 0 when none); a run migrates only those, a line per site; a failing site is reported with a
non-zero exit; --canary N stops at the first failure among the first N and leaves the rest; the
next run carries on where the last stopped."""
import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from instances.fleet_migrations import code_migrations, schemas_pending
from tests.conftest import _test_database_url
from tests.factories import make_instance

pytestmark = pytest.mark.django_db(transaction=True)
MIGRATION = ("analytics", "0013_reports_purged_before")  # adds ArchiveState.reports_purged_before


def farm(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    return subprocess.run([sys.executable, "-m", "farm.cli", "migrate_farm", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def behind(schema: str, *, failing: bool = False) -> None:
    """Take the migration back in a schema (a site deployed before it); `failing`: only its record,
    so applying it again fails (its column is there already)."""
    with connection.cursor() as cursor:
        if not failing:
            cursor.execute(f'ALTER TABLE "{schema}".analytics_archivestate DROP COLUMN reports_purged_before')
        cursor.execute(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', MIGRATION)


def has_column(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND "
                       "table_name = 'analytics_archivestate' AND column_name = 'reports_purged_before'", [schema])
        return cursor.fetchone() is not None


@pytest.fixture
def sites():
    run = uuid.uuid4().hex[:6]  # NB: a flushed test leaves its schemas, whose names stay taken
    return [make_instance(f"herd{run}{n}", state="publie").schema_name for n in range(3)]


def test_check_names_the_schemas_behind_and_a_run_migrates_only_them(sites):
    assert schemas_pending() == {} and len(code_migrations()) > 50
    assert farm("--check").returncode == 0
    behind(sites[1])
    behind(sites[2], failing=True)
    check = farm("--check")
    assert check.returncode == 1
    assert f"{sites[1]}: 1 migration(s) pending" in check.stdout and f"{sites[2]}: 1 migration(s) pending" in check.stdout
    assert sites[0] not in check.stdout

    run = farm("--jobs", "2")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"{sites[1]}: migrated" in run.stdout and f"{sites[2]}: FAILED" in run.stdout
    assert "1 schema(s) migrated, 1 failed" in run.stdout
    assert has_column(sites[1]) and schemas_pending() == {sites[2]: 1}

    with connection.cursor() as cursor:  # an operator fixes the site: its column was there, record it
        cursor.execute(f'INSERT INTO "{sites[2]}".django_migrations (app, name, applied) VALUES (%s, %s, now())',
                       MIGRATION)
    assert farm("--check").returncode == 0
    assert "nothing to migrate" in farm().stdout


def test_a_failing_canary_stops_the_run_and_the_next_run_carries_on(sites, tmp_path):
    behind(sites[0], failing=True)
    behind(sites[1])
    behind(sites[2])
    log = tmp_path / "fleet.log"
    run = farm("--canary", "1", "--log", str(log))
    assert run.returncode == 1 and "The canary failed" in run.stderr
    assert schemas_pending() == {sites[0]: 1, sites[1]: 1, sites[2]: 1}  # nothing else was touched
    assert log.read_text().startswith(f"{sites[0]}: FAILED")

    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{sites[0]}".django_migrations (app, name, applied) VALUES (%s, %s, now())',
                       MIGRATION)
    run = farm("--canary", "1", "--log", str(log))
    assert run.returncode == 0 and "2 schema(s) migrated, 0 failed" in run.stdout
    assert schemas_pending() == {} and has_column(sites[1]) and has_column(sites[2])
    assert len(log.read_text().splitlines()) == 3


def test_a_run_killed_midway_is_carried_on_by_the_next(tmp_path):
    run = uuid.uuid4().hex[:6]
    schemas = [make_instance(f"kill{run}{n}", state="publie").schema_name for n in range(8)]
    for schema in schemas:
        behind(schema)
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "farm.cli", "migrate_farm", "--jobs", "1"], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        for line in proc.stdout:
            if line.endswith(": migrated\n"):  # the first site is done: kill the run there
                proc.kill()
                break
    finally:
        proc.kill()
        proc.wait(30)
    left = schemas_pending()
    assert 0 < len(left) < len(schemas) and set(left) <= set(schemas)  # stopped midway, at a migration boundary
    again = farm()
    assert again.returncode == 0 and f"{len(left)} schema(s) migrated, 0 failed" in again.stdout
    assert schemas_pending() == {} and all(has_column(schema) for schema in schemas)
