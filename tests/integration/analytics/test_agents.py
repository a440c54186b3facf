"""User agents at ingest: the screened reading agrees with device-detector's own, and each agent is
parsed once per farm (the shared table), by a restarted worker or by two workers at once."""
import json
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from analytics.models import Visit
from analytics.tracking import agents, queue
from analytics.tracking.agent_corpus import agreement, fixture_agents, released
from analytics.tracking.enrich import detect
from farm.models import ParsedAgent
from farm.tenancy import in_tenant
from tests.conftest import _test_database_url
from tests.factories import make_instance

# A process of its own, as a worker restarted (or a second worker) is: nothing in its memory.
_PROCESS = """
import json, os, sys, time
import django
django.setup()
from analytics.tracking import agents, enrich, queue
if sys.argv[1] == "drain":
    stored = queue.ingest_drain()
    print(json.dumps({"stored": stored, **agents.counts}))
else:  # race AGENT START: parse the same agent as another process, at the same moment
    plain = enrich.detect
    def marked(user_agent, hints=()):
        time.sleep(0.3)  # both processes are parsing before either stores
        return {**plain(user_agent, hints), "device_model": f"read by {os.getpid()}"}
    enrich.detect = marked
    time.sleep(max(0.0, float(sys.argv[3]) - time.time()))
    print(json.dumps(agents.devices([(sys.argv[2], ())])[(sys.argv[2], ())]))
"""


def _new_process(*args: str, stream: str = "") -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "DJANGO_SETTINGS_MODULE": "farm.settings"}
    if stream:
        env["FARM_HITS_STREAM"] = stream
    return subprocess.Popen([sys.executable, "-c", _PROCESS, *args], env=env, cwd=settings.BASE_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _queue(stream: str, site, user_agents: list[str]) -> None:
    """Hits on a stream of the test's own: the session's real worker (woken by other tests) must not
    drain them before the process under test does."""
    for n, ua in enumerate(user_agents):
        queue.client().xadd(stream, {"h": json.dumps({
            "id": str(uuid.uuid4()), "t": site.pk, "at": time.time(), "ip": "192.0.0.0", "ua": ua, "lang": "en",
            "p": {"idsite": str(site.pk), "rec": "1", "_id": f"{n:016x}", "url": "https://s.example/"}})})


def test_screened_readings_agree_with_device_detector_on_a_fixed_sample_of_its_fixtures():
    sample = random.Random(20261130).sample(list(fixture_agents()), 2000)
    result = agreement(sample, processes=1)
    assert result["agreeing"] >= 0.99 * len(sample), (result["fields"], result["examples"][:5])
    # What it is measured against: the whole set (bench/agents.py) agreed on every agent.
    assert result["agreeing"] == len(sample), result["examples"][:5]


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_parses_no_agent_the_farm_already_read():
    site = make_instance("agents", state="publie")
    tag = uuid.uuid4().hex[:8]
    browsers = [ua for ua, hints in fixture_agents() if not hints and "Firefox/" in ua and not detect(ua)["bot"]]
    first = [released(ua, 7) + f" t/{tag}" for ua in browsers[:20]]  # 20 agents never seen
    later = [released(ua, 7) + f" t/{tag}" for ua in browsers[20:30]]  # 10 more
    stream = f"{settings.FARM_HITS_STREAM}:agents-{tag}"
    _queue(stream, site, first)
    before = _result(_new_process("drain", stream=stream))
    assert before["stored"] == len(first) and before["parsed"] == len(set(first)), before
    assert ParsedAgent.objects.filter(user_agent__in=first).count() == len(set(first))

    # The worker is restarted mid-traffic: a new process, nothing in memory; old and new agents come.
    _queue(stream, site, first + later)
    after = _result(_new_process("drain", stream=stream))
    assert after["parsed"] == len(set(later)), f"agents already read were parsed again: {after}"
    assert after["table"] == len(set(first))
    assert ParsedAgent.objects.filter(user_agent__in=first + later).count() == len(set(first + later))
    with in_tenant(site):
        stored = set(Visit.objects.values_list("user_agent", "browser_name"))
    expected = {(ua, agents.devices([(ua, ())])[(ua, ())]["browser_name"]) for ua in first + later}
    assert expected <= stored
    queue.client().delete(stream)


@pytest.mark.django_db(transaction=True)
def test_two_workers_reading_the_same_new_agent_keep_one_entry_and_the_same_reading():
    user_agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:999.0) Gecko/20100101 Firefox/999.{uuid.uuid4().int % 10**6}"
    start = time.time() + 4  # both processes are up and have set Django up by then
    racers = [_new_process("race", user_agent, str(start)) for _ in range(2)]
    readings = [_result(racer) for racer in racers]
    stored = ParsedAgent.objects.get(user_agent=user_agent)  # one entry (get() fails on two)
    assert readings[0] == readings[1] == stored.device
    assert stored.device["browser_name"] == "Firefox" and stored.device["device_model"].startswith("read by ")


@pytest.mark.django_db
def test_old_readings_and_other_parser_versions_are_forgotten():
    agents.devices([("Mozilla/5.0 (expiry test) Firefox/1.0", ())])
    ParsedAgent.objects.create(key="0" * 32, user_agent="x", device={}, detector="device-detector 0.1 / 1")
    assert agents.parsed_agents_expire() == 1
    assert agents.parsed_agents_expire(now=timezone.now() + timedelta(days=31)) >= 1
    assert not ParsedAgent.objects.filter(user_agent__contains="expiry test").exists()
