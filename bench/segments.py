"""Benchmark: segments on the 1 M-visit site of bench/reports.py (1 M visits / 5 M actions over 90 days).

Generates the same traffic (bench/reports_data.py) and archives it, then times, through the Reporting
API in-process (Django's full request cycle; the segment cache off, so each call reads the raw logs):
- real-time segments over the last 30 days (period=range): one with a visit condition
  (deviceType==smartphone, a third of the visits) and one with an action condition (pageUrl=@/p42,
  visits that viewed one of 11 pages of 500), for VisitsSummary.get and Actions.getPageUrls, each
  beside the same call without a segment (read from archives);
- a brand-new segment over all 90 days (period=range), real-time, for both methods;
- the dashboard's overview page with the real-time visit segment, for an ordinary day and for the
  last complete month (evolution, cards and tables: each page reads the segment over its period and
  the evolution's periods), one cold load each;
- a pre-processed segment: archiving one ordinary day (the day of median traffic) and the heavy day
  for it, then its reads for a month and for the 30-day range from its archives, p50/p95.
Each real-time figure includes the k-anonymity floor. Runs in its own database (`<db>_segmentbench`).

    .venv/bin/python bench/segments.py [--visits 1000000] [--repeat 20] [--cold 3] [--reuse]
"""
import argparse
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DAYS = 90
VISIT_SEGMENT = "deviceType==smartphone"
ACTION_SEGMENT = "pageUrl=@%2Fp42"
NEW_SEGMENT = "referrerType==search;browserName!=Edge"
PREPROCESSED = "visitCount>1;deviceType==desktop"
METHODS = ("VisitsSummary.get", "Actions.getPageUrls")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="calls timed for reads from archives")
    parser.add_argument("--cold", type=int, default=3, help="calls timed for real-time segments (no cache)")
    parser.add_argument("--reuse", action="store_true", help="measure again on the traffic of the last run "
                        "(its database kept; the dates are that run's)")
    args = parser.parse_args()

    from common import django_in_own_database
    from common import timed as _ms

    django_in_own_database("segmentbench", reuse=args.reuse, DEBUG="0", FARM_SEGMENT_CACHE_SECONDS="0")
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from rich.console import Console

    from analytics.models import SavedSegment
    from analytics.reports import archive
    from analytics.segments.restricted import Selection
    from common import live_site
    from farm.tenancy import in_tenant
    from instances.models import Instance
    from instances.tokens import token_create
    from reports_data import generate

    console = Console(width=200)
    call_command("farm_init", verbosity=0)  # NB: with --reuse, the database follows the code's migrations
    if args.reuse:
        from django.db.models import Max

        from analytics.models import Visit
        site = Instance.objects.get(slug="segments")
        with in_tenant(site):  # the heavy day is the run's last day of traffic, the day before its "today"
            last = Visit.objects.aggregate(last=Max("first_action_at"))["last"]
        today = last.astimezone(dt_timezone.utc).date() + timedelta(days=1)
        start = today - timedelta(days=DAYS)
        console.print(f"the traffic of the last run ({start} to {today}), kept in its database")
    else:
        site = live_site("segmentbench", name="Segments", slug="segments", timezone_name="Europe/Paris")
        today = datetime.now(dt_timezone.utc).date()
        start = today - timedelta(days=DAYS)
        with in_tenant(site):
            started = time.perf_counter()
            counts = generate(visits=args.visits, actions_per_visit=5, days=DAYS,
                              start=datetime(start.year, start.month, start.day, tzinfo=dt_timezone.utc),
                              heavy_offset=DAYS - 1, media_day=None, media_heavy=0)
            generation = time.perf_counter() - started
            started = time.perf_counter()
            archive.archive_range(start, archive.site_today())
            archiving = time.perf_counter() - started
        console.print(f"generated {counts['visits']:,} visits / {counts['actions']:,} actions over {DAYS} days in "
                      f"{generation:.0f} s, archived (all visits) in {archiving:.0f} s")
    _token, token = token_create(user=site.owner, description="bench")
    heavy_day = today - timedelta(days=1)
    with in_tenant(site), connection.cursor() as cursor:  # the day of median traffic (a few days are thin)
        cursor.execute("SELECT day FROM (SELECT (first_action_at AT TIME ZONE %s)::date AS day, count(*) AS n "
                       "FROM analytics_visit GROUP BY 1) d ORDER BY n, day LIMIT 1 OFFSET %s",
                       [site.timezone, DAYS // 2])
        ordinary_day = cursor.fetchone()[0]

    import farm.wsgi  # noqa: F401 — the web process as granian loads it (its settling: gc.freeze)
    api = Client()
    host = {"HTTP_HOST": "segments.localhost"}

    def call(method: str, date: str, period: str = "range", segment: str = ""):
        def run():
            response = api.get("/index.php", {"module": "API", "method": method, "idSite": site.pk, "format": "json",
                                              "period": period, "date": date, "token_auth": token,
                                              "segment": segment}, **host)
            assert response.status_code == 200 and b'"result": "error"' not in response.content, response.content[:400]
        return run

    last30 = f"{today - timedelta(days=29)},{today}"
    all90 = f"{start},{today}"
    console.print(f"\nreal-time segments, last 30 days ({last30}), median of {args.cold} cold calls "
                  "(beside: the same call without a segment, from archives):")
    for label, segment in (("visit condition  " + VISIT_SEGMENT, VISIT_SEGMENT),
                           ("action condition " + ACTION_SEGMENT, ACTION_SEGMENT)):
        for method in METHODS:
            segmented = _ms(call(method, last30, segment=segment), args.cold, warm=False)[0]
            plain = _ms(call(method, last30), args.repeat, warm=True)[0]
            console.print(f"  {label:<42} {method:<22} {segmented:8.0f} ms   without segment {plain:6.1f} ms"
                          "   (goal ≤ 2,000 ms)")
    console.print(f"\nnew segment {NEW_SEGMENT} over all {DAYS + 1} days ({all90}), real-time, one cold call:")
    for method in METHODS:
        segmented = _ms(call(method, all90, segment=NEW_SEGMENT), 1, warm=False)[0]
        plain = _ms(call(method, all90), args.repeat, warm=True)[0]
        console.print(f"  {method:<22} {segmented / 1000:6.2f} s   without segment {plain:6.1f} ms   (goal ≤ 10 s)")

    page = Client()
    page.force_login(site.owner)
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    console.print(f"\noverview page with the real-time segment {VISIT_SEGMENT}, one cold load "
                  "(beside: without a segment, p50 of warm loads):")
    for period, date in (("day", ordinary_day.isoformat()), ("month", month.isoformat())):
        def overview(segment=""):
            def run():
                response = page.get("/", {"period": period, "date": date, "segment": segment}, **host)
                assert response.status_code == 200, response.content[:2000]
            return run
        segmented = _ms(overview(VISIT_SEGMENT), 1, warm=False)[0]
        plain = _ms(overview(), args.repeat, warm=True)[0]
        console.print(f"  {period} {date}: {segmented / 1000:6.2f} s   without segment {plain:6.1f} ms")

    with in_tenant(site):
        SavedSegment.objects.create(name="Returning desktop", definition=PREPROCESSED, owner_id=site.owner.pk,
                                    owner_login=site.owner.get_username(), auto_archive=True)
        selection = Selection.of(PREPROCESSED, k=site.k_anonymity, timezone=site.timezone)
        day_seconds = {}
        for day in (ordinary_day, heavy_day):
            started = time.perf_counter()
            archive.archive_day(day, today=archive.site_today(), segment=selection)
            day_seconds[day] = time.perf_counter() - started
        started = time.perf_counter()
        for day in archive.Period.span(start, today).days():
            archive.archive_day(day, today=archive.site_today(), segment=selection)
        for period in archive.containing(set(archive.Period.span(start, today).days())):
            archive.archive_period(period, today=archive.site_today(), segment=selection)
        whole = time.perf_counter() - started
    console.print(f"\npre-processed segment {PREPROCESSED}:")
    console.print(f"  archive one ordinary day ({ordinary_day}) for it: {day_seconds[ordinary_day]:6.2f} s   (goal ≤ 2 s)")
    console.print(f"  archive the heavy day ({heavy_day}, a fifth of all visits) for it: {day_seconds[heavy_day]:6.2f} s")
    console.print(f"  archive all {DAYS + 1} days and their weeks, months, year for it: {whole:6.1f} s")
    for method in METHODS:
        for period, date in (("month", month.isoformat()), ("range", last30)):
            p50, p95 = _ms(call(method, date, period=period, segment=PREPROCESSED), args.repeat, warm=True)
            plain = _ms(call(method, date, period=period), args.repeat, warm=True)
            console.print(f"  {method:<22} {period:<5} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms   without segment p95 "
                          f"{plain[1]:6.1f} ms   (goal p95 ≤ 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
