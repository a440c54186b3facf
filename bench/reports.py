"""Benchmark: reports over one site with 1 M visits / 5 M actions over 90 days.

Generates the traffic straight into the site's log tables (bench/reports_data.py), then times:
archiving the heavy day (about 1 M actions) from raw logs; archiving the whole 90 days (days, then
weeks, months, year from days); the overview page (month) and `VisitsSummary.get` for a month from
archives, p50/p95 over repeated calls; `Live.getLastVisitsDetails`. Pages and API calls go through
Django's full request cycle in-process (routing, session, permissions, rendering) — the network is
left out. Runs in its own database (`<db>_reportbench`, recreated).

    .venv/bin/python bench/reports.py [--visits 1000000] [--repeat 30]
"""
import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DAYS = 90


def _timed(call, repeat: int) -> tuple[float, float]:
    """(p50, p95) in ms of `repeat` calls after one warm-up; each call must succeed."""
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--actions-per-visit", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    from common import django_in_own_database, live_site

    django_in_own_database("reportbench", DEBUG="0")
    from django.core.management import call_command
    from django.test import Client
    from rich.console import Console

    from analytics.reports import archive
    from farm.tenancy import in_tenant
    from instances.tokens import token_create
    from reports_data import generate

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    site = live_site("reportbench", name="Reports", slug="reports", timezone_name="Europe/Paris")
    _token, token = token_create(user=site.owner, description="bench")

    today = datetime.now(dt_timezone.utc).date()
    start = today - timedelta(days=DAYS)
    heavy_day = today - timedelta(days=1)
    with in_tenant(site):
        started = time.perf_counter()
        counts = generate(visits=args.visits, actions_per_visit=args.actions_per_visit, days=DAYS,
                          start=datetime(start.year, start.month, start.day, tzinfo=dt_timezone.utc),
                          heavy_offset=DAYS - 1)
        generation = time.perf_counter() - started
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM analytics_action WHERE at >= %s AND at < %s",
                           [datetime(heavy_day.year, heavy_day.month, heavy_day.day, tzinfo=dt_timezone.utc),
                            datetime(today.year, today.month, today.day, tzinfo=dt_timezone.utc)])
            heavy_actions = cursor.fetchone()[0]
        site_today = archive.site_today()
        started = time.perf_counter()
        archive.archive_day(heavy_day, today=site_today)
        heavy_seconds = time.perf_counter() - started
        started = time.perf_counter()
        summary = archive.archive_range(start, site_today)
        all_seconds = time.perf_counter() - started

    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last complete month
    host = {"HTTP_HOST": f"reports.{os.environ.get('FARM_DOMAIN', 'localhost')}"}
    api = Client()

    def call_api(method, **params):
        response = api.get("/index.php", {"module": "API", "method": method, "idSite": site.pk, "format": "json",
                                          "token_auth": token, **params}, **host)
        body = b"".join(response.streaming_content) if response.streaming else response.content  # Live streams
        assert response.status_code == 200 and b'"result": "error"' not in body, body[:300]

    summary_p50, summary_p95 = _timed(lambda: call_api("VisitsSummary.get", period="month", date=month.isoformat()),
                                      args.repeat)
    live_p50, live_p95 = _timed(lambda: call_api("Live.getLastVisitsDetails", period="day", date="yesterday",
                                                 filter_limit=100), max(5, args.repeat // 3))
    page = Client()
    page.force_login(site.owner)

    def overview():
        response = page.get("/", {"period": "month", "date": month.isoformat()}, **host)
        assert response.status_code == 200, response.status_code

    overview_p50, overview_p95 = _timed(overview, args.repeat)

    console.print(f"generated {counts['visits']:,} visits / {counts['actions']:,} actions over {DAYS} days "
                  f"in {generation:.1f} s")
    console.print(f"archive the heavy day ({heavy_actions:,} actions): {heavy_seconds:6.2f} s   (goal ≤ 15 s)")
    console.print(f"archive all {len(summary.days)} days, then {len(summary.periods)} weeks/months/years from them: "
                  f"{all_seconds:6.1f} s")
    console.print(f"VisitsSummary.get, month {month:%Y-%m}: p50 {summary_p50:6.1f} ms  p95 {summary_p95:6.1f} ms")
    console.print(f"overview page, month {month:%Y-%m}:     p50 {overview_p50:6.1f} ms  p95 {overview_p95:6.1f} ms"
                  f"   (goal p95 ≤ 100 ms)")
    console.print(f"Live.getLastVisitsDetails (100 visits): p50 {live_p50:6.1f} ms  p95 {live_p95:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
