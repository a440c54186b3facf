"""House rule: only farm/tenancy.py (and the routing middleware) switch the connection's schema."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SWITCHES = re.compile(r"\b(schema_context|tenant_context|set_tenant|set_schema|set_schema_to_public)\b")
ALLOWED = {"farm/tenancy.py", "instances/middleware.py"}


def test_nobody_else_switches_schema():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/")) or relative in ALLOWED:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SWITCHES.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "enter a tenant only through farm.tenancy.in_tenant/in_schema:\n" + "\n".join(offenders)
