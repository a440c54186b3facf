"""device-detector's own test corpus, and how ingest's screened reading of it compares with the
library's plain one (analytics.tracking.detector must never change an answer).

Also the source of realistic traffic for the benchmarks and the soak (agent_pool): real agents,
with their last version number changed as after a browser release, so no cache has seen them.
"""
import multiprocessing
import os
import random
import re
import resource
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


def agent_pool(size: int, *, seed: int, release: int = 0) -> list[Agent]:
    """`size` distinct fixture agents (no bots), in a seeded order (rank 1 first), each as its next
    release would send it: `release` is added to its last number (0: as the fixture has it)."""
    agents = list(fixture_agents())
    random.Random(seed).shuffle(agents)
    pool = []
    for user_agent, hints in agents:
        if "bot" in user_agent.lower() or "spider" in user_agent.lower() or "crawl" in user_agent.lower():
            continue
        pool.append((released(user_agent, release) if release else user_agent, hints))
        if len(pool) == size:
            break
    return pool


def _readings(agents: list[Agent], screened: bool) -> tuple[list[dict], float, float]:
    """The readings of `agents`, the seconds they took and the process's peak RSS (MB) after them,
    in a spawned process: screened, as ingest reads them (enrich.detect), or the library's own
    answers, in a process where nothing was screened."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from device_detector import DeviceDetector

    from analytics.tracking.enrich import detect, reading

    def plain(ua, hints):
        return reading(DeviceDetector(ua, headers=dict(hints) or None, check_cache=False).parse())

    read = detect if screened else plain
    started = time.perf_counter()
    readings = [read(ua, hints) for ua, hints in agents]
    return readings, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def agreement(agents: list[Agent], *, processes: int = 2, progress=None) -> dict:
    """Each agent read by the library as published and by ingest's screened reader, in separate
    spawned processes (`processes` of each kind; nothing screened in the first kind), in chunks of
    500 (`progress(done)` after each). Returns {agents, agreeing, fields: Counter of the fields that
    differed, examples: [(agent, plain, screened)], plain_ms, screened_ms: CPU-wall milliseconds
    per agent in those processes, rule compilation included as met; plain_mb, screened_mb: the
    largest peak RSS of a process of each kind}."""
    chunks = [agents[i:i + 500] for i in range(0, len(agents), 500)]
    result = {"agents": len(agents), "agreeing": 0, "fields": Counter(), "examples": [], "plain_ms": 0.0,
              "screened_ms": 0.0, "plain_mb": 0.0, "screened_mb": 0.0}
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as plain_pool, context.Pool(processes) as screened_pool:
        plain_jobs = [plain_pool.apply_async(_readings, (chunk, False)) for chunk in chunks]
        screened_jobs = [screened_pool.apply_async(_readings, (chunk, True)) for chunk in chunks]
        for done, (chunk, plain_job, screened_job) in enumerate(zip(chunks, plain_jobs, screened_jobs, strict=True)):
            (plain, plain_seconds, plain_mb), (screened, screened_seconds, screened_mb) = (plain_job.get(),
                                                                                          screened_job.get())
            result["plain_mb"] = max(result["plain_mb"], plain_mb)
            result["screened_mb"] = max(result["screened_mb"], screened_mb)
            result["plain_ms"] += 1000 * plain_seconds / len(agents)
            result["screened_ms"] += 1000 * screened_seconds / len(agents)
            for agent, expected, got in zip(chunk, plain, screened, strict=True):
                if expected == got:
                    result["agreeing"] += 1
                    continue
                result["fields"].update(name for name in expected if expected[name] != got.get(name))
                if len(result["examples"]) < 20:
                    result["examples"].append((agent, expected, got))
            if progress is not None:
                progress(done + 1, len(chunks))
    return result
