"""device-detector's own test corpus, and how ingest's screened reading of it compares with the
library's plain one (analytics.tracking.detector must never change an answer).

Also the source of realistic traffic for the benchmarks: real agents, with their last version
number changed as after a browser release, so no cache has seen them.
"""
import multiprocessing
import os
import re
import time
from collections import Counter
from functools import cache
from pathlib import Path

Agent = tuple[str, tuple[tuple[str, str], ...]]  # as analytics.tracking.agents keys them


@cache
def fixture_agents() -> tuple[Agent, ...]:
    """(user agent, client hints) of every upstream fixture shipped with device-detector (~38,000), in file order."""
    import device_detector
    import yaml_rs

    agents, seen = [], set()
    for path in sorted((Path(device_detector.__file__).parent / "tests" / "fixtures" / "upstream").glob("*.yml")):
        for item in yaml_rs.loads(path.read_text(encoding="utf-8")) or ():
            if not isinstance(item, dict) or not isinstance(item.get("user_agent"), str):
                continue
            headers = item.get("headers") if isinstance(item.get("headers"), dict) else {}
            agent = (item["user_agent"], tuple(sorted((str(k), str(v)) for k, v in headers.items())))
            if agent not in seen:
                seen.add(agent)
                agents.append(agent)
    return tuple(agents)


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)", re.S)


def released(user_agent: str, release: int = 1) -> str:
    """The agent as its next release would send it: its last number raised by `release`."""
    return _LAST_NUMBER.sub(lambda m: str(int(m.group(1)) + release), user_agent, count=1)


def _plain_readings(agents: list[Agent]) -> tuple[list[dict], float]:
    """The library's own answers, in a process where nothing was screened (spawned)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from device_detector import DeviceDetector

    from analytics.tracking.enrich import reading

    started = time.perf_counter()
    readings = [reading(DeviceDetector(ua, headers=dict(hints) or None, check_cache=False).parse())
                for ua, hints in agents]
    return readings, time.perf_counter() - started


def _screened_readings(agents: list[Agent]) -> tuple[list[dict], float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from analytics.tracking.enrich import detect

    started = time.perf_counter()
    readings = [detect(ua, hints) for ua, hints in agents]
    return readings, time.perf_counter() - started


def agreement(agents: list[Agent], *, processes: int = 2) -> dict:
    """Each agent read by the library as published and by ingest's screened reader, each in fresh
    processes (`processes` of each, the agents split between them). Returns {agents, agreeing,
    fields: Counter of the fields that differed, examples: [(agent, plain, screened)], plain_ms,
    screened_ms: milliseconds per agent, first reading in a fresh process}."""
    chunks = [agents[i::processes] for i in range(processes)]
    with multiprocessing.get_context("spawn").Pool(2 * processes) as pool:
        plain_jobs = [pool.apply_async(_plain_readings, (chunk,)) for chunk in chunks]
        screened_jobs = [pool.apply_async(_screened_readings, (chunk,)) for chunk in chunks]
        plain = [job.get() for job in plain_jobs]
        screened = [job.get() for job in screened_jobs]
    result = {"agents": len(agents), "agreeing": 0, "fields": Counter(), "examples": [],
              "plain_ms": 1000 * sum(seconds for _r, seconds in plain) / max(1, len(agents)),
              "screened_ms": 1000 * sum(seconds for _r, seconds in screened) / max(1, len(agents))}
    for chunk, (plain_readings, _s), (screened_readings, _t) in zip(chunks, plain, screened, strict=True):
        for agent, expected, got in zip(chunk, plain_readings, screened_readings, strict=True):
            if expected == got:
                result["agreeing"] += 1
                continue
            result["fields"].update(name for name in expected if expected[name] != got.get(name))
            if len(result["examples"]) < 20:
                result["examples"].append((agent, expected, got))
    return result
