"""Ingest in processes of their own, as a worker restarted or a second worker is: nothing in memory,
their own database connection, this run's test database."""
import json
import os
import subprocess
import sys
import time
import uuid

from django.conf import settings

from analytics.tracking import queue
from tests.conftest import _test_database_url

_SCRIPT = """
import json, os, sys, time
import django
django.setup()
from analytics.tracking import agents, enrich, queue
if sys.argv[1] == "drain":  # drain BATCH [BARRIER]: drain the stream (all at once: see `release`)
    enrich.warm_up()  # as a running worker has: rules loaded before the first hit
    if len(sys.argv) > 3:
        queue.client().incr(sys.argv[3] + ":ready")
        while not queue.client().exists(sys.argv[3] + ":go"):
            time.sleep(0.01)
    stored = queue.ingest_drain(batch=int(sys.argv[2]), max_batches=10_000)
    print(json.dumps({"stored": stored, **agents.counts}))
else:  # race AGENT BARRIER: parse the same agent as another process, at the same moment
    plain = agents.detect
    def marked(user_agent, hints=()):
        time.sleep(0.3)  # both processes are parsing before either stores
        return {**plain(user_agent, hints), "device_model": f"read by {os.getpid()}"}
    agents.detect = marked
    enrich.warm_up()
    queue.client().incr(sys.argv[3] + ":ready")
    while not queue.client().exists(sys.argv[3] + ":go"):
        time.sleep(0.01)
    reading = agents.devices([(sys.argv[2], ())])[(sys.argv[2], ())]
    print(json.dumps({"reading": reading, **agents.counts}))
"""


def start(*args: str, stream: str = "") -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "farm.settings"}
    if stream:
        env["FARM_HITS_STREAM"] = stream
    return subprocess.Popen([sys.executable, "-c", _SCRIPT, *args], env=env, cwd=settings.BASE_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def release(barrier: str, count: int, timeout: float = 120) -> None:
    """Start `count` processes started with `barrier` together, once all have set Django up and
    loaded their rules (a loaded machine can take seconds for that)."""
    deadline = time.monotonic() + timeout
    while int(queue.client().get(barrier + ":ready") or 0) < count:
        assert time.monotonic() < deadline, "the processes did not get ready"
        time.sleep(0.02)
    queue.client().set(barrier + ":go", 1, ex=600)


def own_stream(tag: str) -> str:
    """A stream of the test's own: the session's real worker (woken by other tests) must not drain
    its hits before the processes under test do."""
    return f"{settings.FARM_HITS_STREAM}:{tag}-{uuid.uuid4().hex[:6]}"


def queue_hits(stream: str, hits: list[tuple[object, str, str]]) -> list[str]:
    """Queue (site, visitor id, user agent) hits on `stream`, in this order; returns their ids."""
    ids, pipe = [], queue.client().pipeline(transaction=False)
    for site, visitor, user_agent in hits:
        ids.append(str(uuid.uuid4()))
        pipe.xadd(stream, {"h": json.dumps({
            "id": ids[-1], "t": site.pk, "at": time.time(), "ip": "192.0.0.0", "ua": user_agent, "lang": "en",
            "p": {"idsite": str(site.pk), "rec": "1", "_id": visitor, "url": "https://s.example/"}})})
    pipe.execute()
    return ids
