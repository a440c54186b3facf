"""The web server's access log, as `farm up` runs it (granian with --access-log and the farm's
format), never shows a visitor's full address: neither the connection's nor a `cip`."""
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

from analytics.tracking import queue
from farm.cli import ACCESS_LOG_FORMAT
from instances.tokens import token_create
from tests.conftest import _test_database_url
from tests.factories import make_instance

VISITOR = "127.0.0.23"  # a loopback address of its own, so the server sees a visitor's address
IMPORTED = "81.2.69.160"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def web_server(transactional_db, tmp_path: Path):
    """granian serving the farm against the test database, its output (access log included) in a file."""
    port, log = _free_port(), tmp_path / "web.log"
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "granian"), "--interface", "wsgi", "farm.wsgi:application",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--access-log",
             "--access-log-fmt", ACCESS_LOG_FORMAT], env=env, cwd=settings.BASE_DIR, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
        else:
            pytest.fail("granian did not listen within 60 s")
        yield port, log, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_access_log_shows_requests_but_no_visitor_address(transactional_db, web_server):
    port, log, proc = web_server
    site = make_instance("logged", state="publie")
    _t, token = token_create(user=site.owner)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=(VISITOR, 0))
    for params in ({"idsite": site.pk, "rec": 1, "send_image": 0, "url": "https://logged.example/"},
                   {"idsite": site.pk, "rec": 1, "send_image": 0, "cip": IMPORTED, "token_auth": token}):
        conn.request("GET", "/matomo.php?" + urlencode(params), headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        assert response.status == 204
    conn.close()
    # NB: granian writes an access line after the response is sent: give it the time to (a loaded
    # machine once stopped the server between the second answer and its line).
    deadline = time.monotonic() + 10
    while log.read_text().count('"GET /matomo.php') < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.terminate()
    proc.wait(timeout=15)

    written = log.read_text()
    assert written.count('"GET /matomo.php HTTP/1.1" 204') == 2, written
    assert VISITOR not in written and IMPORTED not in written
    queued = [fields[b"h"] for _id, fields in queue.client().xrange(settings.FARM_HITS_STREAM)]
    assert len(queued) == 2 and not any(VISITOR.encode() in h or IMPORTED.encode() in h for h in queued)
