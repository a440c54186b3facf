"""Memory of an ingest process meeting a long tail of devices: one process reads device-detector's
fixture agents (each a device of its own: the worst case) with ingest's reader, in a seeded order,
and prints its RSS every 2,000 agents and the milliseconds per agent. `--re2-kept` and
`--regex-kept` override how many compiled patterns the reader keeps (analytics.tracking.detector).

    .venv/bin/python bench/agents_memory.py [--agents 38258] [--re2-kept N] [--regex-kept N]
"""
import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=0, help="how many agents (0: all)")
    parser.add_argument("--re2-kept", type=int, help="RE2 forms kept (default: the reader's)")
    parser.add_argument("--regex-kept", type=int, help="regex forms kept (default: the reader's)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from analytics.tracking import detector
    from analytics.tracking.agent_corpus import fixture_agents
    from analytics.tracking.enrich import detect, warm_up

    detector.RE2_KEPT = args.re2_kept or detector.RE2_KEPT
    detector.REGEX_KEPT = args.regex_kept or detector.REGEX_KEPT
    print(f"before the rules: {_rss_mb():.0f} MB; rules loaded in {warm_up():.1f} s: {_rss_mb():.0f} MB; "
          f"kept: {detector.RE2_KEPT} RE2, {detector.REGEX_KEPT} regex")
    agents = list(fixture_agents())
    random.Random(3).shuffle(agents)
    agents = agents[:args.agents or len(agents)]
    started = time.perf_counter()
    for n, (user_agent, hints) in enumerate(agents, 1):
        detect(user_agent, hints)
        if n % 2000 == 0 or n == len(agents):
            print(f"{n:6} agents: {_rss_mb():5.0f} MB", flush=True)
    print(f"{1000 * (time.perf_counter() - started) / len(agents):.2f} ms an agent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
