"""PostgreSQL out of disk during ingest, on a real size-limited filesystem: the site's log tables are
moved to a tablespace on a tmpfs of a few megabytes, which a file then fills. PostgreSQL refuses to
grow them ("could not extend file": SQLSTATE 53100, disk full); ingest must keep the batch pending
in the stream (none set aside, nothing acknowledged), and once space is freed store every hit, once.

Mounting needs root (CAP_SYS_ADMIN) and a PostgreSQL on this machine; the test says it is skipped
otherwise. The write-ahead log stays on the cluster's own disk: a cluster whose WAL cannot be
written stops altogether (PANIC), which is the outage tests/integration/test_resilience.py covers.
"""
import os
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.db import DatabaseError, connection

from analytics.models import Action
from analytics.tracking import queue
from tests.conftest import _test_database_url
from tests.factories import make_instance
from tests.integration.analytics.test_endpoint import count_in

pytestmark = pytest.mark.django_db(transaction=True)
PORTAL = {"HTTP_HOST": "localhost"}
TABLES = ("analytics_visit", "analytics_action")


def _admin(sql: str) -> list[tuple]:
    """The statement run on its own connection (a tablespace is made and dropped outside any
    transaction); its rows, if it gives any."""
    with psycopg.connect(_test_database_url(), autocommit=True) as db:
        cursor = db.execute(sql)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture
def small_disk():
    """A 16 MB tmpfs owned by the PostgreSQL server's user, as a tablespace; unmounted after."""
    data_directory = Path(_admin("SELECT current_setting('data_directory')")[0][0])
    if os.geteuid() != 0 or not data_directory.exists():
        pytest.skip("needs root (to mount a size-limited tmpfs) and the PostgreSQL cluster on this machine")
    folder = Path(tempfile.mkdtemp(prefix="farm-small-disk-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"this machine refuses to mount a tmpfs: {mounted.stderr.strip()}")
    owner = data_directory.stat()
    os.chown(folder, owner.st_uid, owner.st_gid)
    folder.chmod(0o700)
    try:
        _admin(f"CREATE TABLESPACE farm_small_disk LOCATION '{folder}'")
        yield folder
    finally:
        moved = _admin("SELECT schemaname, tablename FROM pg_tables WHERE tablespace = 'farm_small_disk'")
        for schema, table in moved:
            _admin(f'ALTER TABLE "{schema}"."{table}" SET TABLESPACE pg_default')
        _admin("DROP TABLESPACE IF EXISTS farm_small_disk")
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


def _fill(folder: Path) -> Path:
    """A file taking every byte left on the small disk."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_hits_wait_in_the_stream_while_the_disk_is_full(client, small_disk):
    site = make_instance("diskfull", state="publie")
    for table in TABLES:
        _admin(f'ALTER TABLE "{site.schema_name}"."{table}" SET TABLESPACE farm_small_disk')
    filler = _fill(small_disk)
    dead_before = queue.queue_depth()["dead"]
    hits = 300  # more than one 8 kB page of actions: the table must grow
    for n in range(hits):
        assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": f"{n % 7:016x}",
                                          "send_image": 0, "url": f"https://s.example/{n}/" + "long-path/" * 20},
                          **PORTAL).status_code == 204
    with pytest.raises(DatabaseError) as refused:
        queue.ingest_drain()
    assert getattr(refused.value.__cause__, "sqlstate", None) == "53100", refused.value
    assert queue.queue_depth() == {"queued": hits, "dead": dead_before}, "kept pending, none set aside"
    connection.close()
    assert count_in(site, Action) == 0, "nothing half stored"

    filler.unlink()
    assert queue.ingest_drain() == hits
    assert queue.queue_depth() == {"queued": 0, "dead": dead_before}
    assert count_in(site, Action) == hits
