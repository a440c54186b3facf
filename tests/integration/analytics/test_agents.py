"""User agents at ingest: the screened reading agrees with device-detector's own, and each agent is
parsed once per farm (the shared table), by a restarted worker or by two workers at once."""
import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import Visit
from analytics.tracking import agents, queue
from analytics.tracking.agent_corpus import agreement, fixture_agents, released
from analytics.tracking.enrich import detect
from farm.models import ParsedAgent
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics import processes

def test_screened_readings_agree_with_device_detector_on_a_fixed_sample_of_its_fixtures():
    sample = random.Random(20261130).sample(list(fixture_agents()), 2000)
    result = agreement(sample, processes=1)
    assert result["agreeing"] >= 0.99 * len(sample), (result["fields"], result["examples"][:5])
    # What it is measured against: the whole set (bench/agents.py) agreed on every agent.
    assert result["agreeing"] == len(sample), result["examples"][:5]


def test_screened_readings_agree_on_agents_the_fixtures_do_not_have():
    """Where RE2 and Aho-Corasick read text otherwise than `regex`: non-ASCII digits and letters,
    the long s that `regex` folds to s, control characters, a final newline."""
    agents_ = [(ua, ()) for ua in (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/١٢٠.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadleſsChrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64)\tAppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        "MobileSafari/8613.3.9.0.16 CFNetwork/1335.0.3 Darwin/21.6.0\n",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1\xa0Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android ۱۳; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Mobile Safari/537.36",
    )]
    result = agreement(agents_, processes=1)
    assert result["agreeing"] == len(agents_), result["examples"]


def test_compiled_patterns_are_kept_for_the_last_used_only_and_readings_stay_the_same(monkeypatch):
    """A worker meeting a long tail of devices keeps a bounded number of compiled patterns (it grew
    without end when every one was kept); a pattern forgotten and needed again reads as before."""
    from analytics.tracking import detector

    drawn = random.Random(7).sample(list(fixture_agents()), 600)
    sample, others = drawn[:300], drawn[300:]
    before = [detect(ua, hints) for ua, hints in sample]
    monkeypatch.setattr(detector, "RE2_KEPT", 40)
    monkeypatch.setattr(detector, "REGEX_KEPT", 20)
    for ua, hints in others:  # patterns not met yet push the ones kept out
        detect(ua, hints)
    for _ in range(2):
        assert [detect(ua, hints) for ua, hints in sample] == before
        assert len(detector._re2_kept) <= 40 and len(detector._regex_kept) <= 20
    compiled = [stand_in for stand_in in detector._re2_kept if stand_in._re2 is not None]
    assert len(compiled) == len(detector._re2_kept), "the forgotten ones let go of their RE2 form"


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_parses_no_agent_the_farm_already_read():
    site = make_instance("agents", state="publie")
    tag = uuid.uuid4().hex[:8]
    browsers = [ua for ua, hints in fixture_agents() if not hints and "Firefox/" in ua and not detect(ua)["bot"]]
    first = [released(ua, 7) + f" t/{tag}" for ua in browsers[:20]]  # 20 agents never seen
    later = [released(ua, 7) + f" t/{tag}" for ua in browsers[20:30]]  # 10 more
    stream = processes.own_stream("agents")
    processes.queue_hits(stream, [(site, f"{n:016x}", ua) for n, ua in enumerate(first)])
    before = processes.result(processes.start("drain", "5000", stream=stream))
    assert before["stored"] == len(first) and before["parsed"] == len(set(first)), before
    assert ParsedAgent.objects.filter(user_agent__in=first).count() == len(set(first))

    # The worker is restarted mid-traffic: a new process, nothing in memory; old and new agents come.
    processes.queue_hits(stream, [(site, f"{n:016x}", ua) for n, ua in enumerate(first + later)])
    after = processes.result(processes.start("drain", "5000", stream=stream))
    assert after["parsed"] == len(set(later)), f"agents already read were parsed again: {after}"
    assert after["table"] == len(set(first))
    assert ParsedAgent.objects.filter(user_agent__in=first + later).count() == len(set(first + later))
    with in_tenant(site):
        stored = set(Visit.objects.values_list("user_agent", "browser_name"))
    assert {(ua, detect(ua)["browser_name"]) for ua in first + later} <= stored
    queue.client().delete(stream)


@pytest.mark.django_db(transaction=True)
def test_two_workers_reading_the_same_new_agent_keep_one_entry_and_the_same_reading():
    user_agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:999.0) Gecko/20100101 Firefox/999.{uuid.uuid4().int % 10**6}"
    barrier = processes.own_stream("race")
    racers = [processes.start("race", user_agent, barrier) for _ in range(2)]
    processes.release(barrier, 2)
    results = [processes.result(racer) for racer in racers]
    assert [result["parsed"] for result in results] == [1, 1], "both processes parsed the agent (a real race)"
    stored = ParsedAgent.objects.get(user_agent=user_agent)  # one entry (get() fails on two)
    assert results[0]["reading"] == results[1]["reading"] == stored.device
    assert stored.device["browser_name"] == "Firefox" and stored.device["device_model"].startswith("read by ")


@pytest.mark.django_db
def test_old_readings_and_other_parser_versions_are_forgotten():
    agents.forget_local()
    user_agent = f"Mozilla/5.0 (expiry test {uuid.uuid4().hex}) Firefox/1.0"
    agents.devices([(user_agent, ())])
    assert ParsedAgent.objects.filter(user_agent=user_agent).exists()
    ParsedAgent.objects.create(key="0" * 32, user_agent="x", device={}, detector="device-detector 0.1 / 1")
    assert agents.parsed_agents_expire() == 1
    assert agents.parsed_agents_expire(now=timezone.now() + timedelta(days=31)) >= 1
    assert not ParsedAgent.objects.filter(user_agent=user_agent).exists()
