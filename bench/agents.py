"""Agreement: what ingest stores of a user agent (device type, brand, model, OS and version, browser
and version, bot or not), read by its screened device-detector (analytics.tracking.detector), against
a plain `DeviceDetector(ua).parse()` — over every upstream fixture shipped with device-detector
(about 38,000 agents, with their client hints). Prints the agreement, the fields that differed with
examples, and the milliseconds per agent of each reader in the same run (both kinds run at once,
sharing the cores). Exit code 1 below 99 %.

    .venv/bin/python bench/agents.py [--sample N] [--processes 1]
"""
import argparse
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=0, help="a seeded sample of this many agents (0: all)")
    parser.add_argument("--processes", type=int, default=1, help="processes of each kind")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farm.settings")
    import django

    django.setup()
    from rich.console import Console
    from rich.progress import Progress

    from analytics.tracking.agent_corpus import agreement, fixture_agents

    agents = list(fixture_agents())
    if args.sample:
        agents = random.Random(20261130).sample(agents, min(args.sample, len(agents)))
    with Progress() as progress:
        task = progress.add_task(f"{len(agents)} agents, read twice", total=1)
        result = agreement(agents, processes=args.processes,
                           progress=lambda done, total: progress.update(task, completed=done, total=total))
    console = Console(width=200)
    share = result["agreeing"] / result["agents"]
    console.print(f"agreement: {result['agreeing']} of {result['agents']} agents ({share:.3%}) read alike")
    console.print(f"milliseconds per agent: plain device-detector {result['plain_ms']:.2f}, "
                  f"screened {result['screened_ms']:.2f} ({result['plain_ms'] / result['screened_ms']:.1f}×)")
    console.print(f"largest process at the end (peak RSS): plain {result['plain_mb']:.0f} MB, "
                  f"screened {result['screened_mb']:.0f} MB")
    if result["fields"]:
        console.print(f"fields that differed: {dict(result['fields'])}")
        for agent, plain, screened in result["examples"][:10]:
            console.print(f"  {agent[0][:150]!r}\n    plain    {plain}\n    screened {screened}")
    return 0 if share >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
