"""Benchmark: reports over one site with 1 M visits / 5 M actions over 90 days, and All websites over 1,000 sites.

Generates the traffic straight into the site's log tables (bench/reports_data.py), then times:
archiving the heavy day (about 1 M actions) from raw logs; archiving the whole 90 days (days, then
weeks, months, year from days); the overview page (month) and `VisitsSummary.get` for a month from
archives, p50/p95 over repeated calls; `Live.getLastVisitsDetails`. Then 1,000 more sites of one
owner (Instance rows made in bulk, no schema provisioned) with 90 days of daily summary rows each
(written straight into the public table archiving fills): `MultiSites.getAll` for a month over all
of them (filter_limit=-1: every site in the answer) and the portal's "My sites" page for that month
(totals over every site, the first page of 100 rows drawn).
Media Analytics on the same site: about 30 % of visits play a video or an audio, and one media-heavy
day (two days before the heavy one) holds `--media-heavy` media sessions on visits of its own;
times the media reports of that day alone (analytics.reports.media.day_reports) and its whole
`archive_day`, `MediaAnalytics.get` for a month, and the media page for a month.
Pages and API calls go through Django's full request cycle in-process (routing, session,
permissions, rendering) — the network is left out. Runs in its own database (`<db>_reportbench`,
recreated).

    .venv/bin/python bench/reports.py [--visits 1000000] [--repeat 30] [--media-heavy 200000] [--sites 1000]
                                      [--all-websites-only]
"""
import argparse
import os
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
    """(p50, p95) in ms of `repeat` calls after one warm-up."""
    from common import timed
    return timed(call, repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--actions-per-visit", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--media-heavy", type=int, default=200_000, help="media sessions on the media-heavy day")
    parser.add_argument("--sites", type=int, default=1000, help="sites for the All websites measure")
    parser.add_argument("--all-websites-only", action="store_true", help="skip the one-site traffic measures")
    args = parser.parse_args()

    from common import django_in_own_database

    django_in_own_database("reportbench", DEBUG="0")
    from django.core.management import call_command
    from rich.console import Console

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    if not args.all_websites_only:
        one_site(args, console)
    all_websites(args, console)
    return 0


def one_site(args, console) -> None:
    """Archiving and reading one site's 1 M visits."""
    from django.test import Client

    from analytics.reports import archive
    from analytics.reports.definitions import day_bounds
    from common import live_site
    from farm.tenancy import in_tenant
    from instances.tokens import token_create
    from reports_data import generate

    site = live_site("reportbench", name="Reports", slug="reports", timezone_name="Europe/Paris")
    _token, token = token_create(user=site.owner, description="bench")

    today = datetime.now(dt_timezone.utc).date()
    start = today - timedelta(days=DAYS)
    heavy_day = today - timedelta(days=1)
    media_day = heavy_day - timedelta(days=2)
    with in_tenant(site):
        media_bounds = day_bounds(media_day, archive.site_timezone())
        started = time.perf_counter()
        counts = generate(visits=args.visits, actions_per_visit=args.actions_per_visit, days=DAYS,
                          start=datetime(start.year, start.month, start.day, tzinfo=dt_timezone.utc),
                          heavy_offset=DAYS - 1, media_day=media_bounds, media_heavy=args.media_heavy)
        generation = time.perf_counter() - started
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM analytics_action WHERE at >= %s AND at < %s",
                           [datetime(heavy_day.year, heavy_day.month, heavy_day.day, tzinfo=dt_timezone.utc),
                            datetime(today.year, today.month, today.day, tzinfo=dt_timezone.utc)])
            heavy_actions = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM analytics_mediaplay WHERE first_at >= %s AND first_at < %s",
                           list(media_bounds))
            media_day_sessions = cursor.fetchone()[0]
        site_today = archive.site_today()
        started = time.perf_counter()
        archive.archive_day(heavy_day, today=site_today)
        heavy_seconds = time.perf_counter() - started
        media_alone = media_reports_seconds(media_day)
        started = time.perf_counter()
        archive.archive_day(media_day, today=site_today)
        media_day_seconds = time.perf_counter() - started
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
    media_api = _timed(lambda: call_api("MediaAnalytics.get", period="month", date=month.isoformat()), args.repeat)

    def media_page():
        response = page.get("/media/", {"period": "month", "date": month.isoformat()}, **host)
        assert response.status_code == 200, response.status_code

    media_page_p50, media_page_p95 = _timed(media_page, args.repeat)

    console.print(f"generated {counts['visits']:,} visits / {counts['actions']:,} actions over {DAYS} days "
                  f"in {generation:.1f} s")
    console.print(f"archive the heavy day ({heavy_actions:,} actions): {heavy_seconds:6.2f} s   (goal ≤ 15 s)")
    console.print(f"archive all {len(summary.days)} days, then {len(summary.periods)} weeks/months/years from them: "
                  f"{all_seconds:6.1f} s")
    console.print(f"VisitsSummary.get, month {month:%Y-%m}: p50 {summary_p50:6.1f} ms  p95 {summary_p95:6.1f} ms")
    console.print(f"overview page, month {month:%Y-%m}:     p50 {overview_p50:6.1f} ms  p95 {overview_p95:6.1f} ms"
                  f"   (goal p95 ≤ 100 ms)")
    console.print(f"Live.getLastVisitsDetails (100 visits): p50 {live_p50:6.1f} ms  p95 {live_p95:6.1f} ms")
    console.print(f"media sessions: {counts['media']:,} ({counts['media_video']:,} video), "
                  f"{media_day_sessions:,} of them on the media-heavy day {media_day} "
                  f"({counts['media_day_visits']:,} visits of its own)")
    console.print(f"media reports of the media-heavy day alone: {media_alone:6.2f} s   (goal ≤ 5 s)")
    console.print(f"archive the media-heavy day (whole archive_day): {media_day_seconds:6.2f} s")
    console.print(f"MediaAnalytics.get, month {month:%Y-%m}: p50 {media_api[0]:6.1f} ms  p95 {media_api[1]:6.1f} ms"
                  f"   (goal p95 ≤ 100 ms)")
    console.print(f"media page, month {month:%Y-%m}:        p50 {media_page_p50:6.1f} ms  p95 {media_page_p95:6.1f} ms"
                  f"   (goal p95 ≤ 100 ms)")


def media_reports_seconds(day) -> float:
    """Seconds analytics.reports.media.day_reports takes on `day` (call inside the site's schema),
    run as compute_day runs it: in its transaction, after its `SET LOCAL`s."""
    from django.db import connection, transaction

    from analytics.reports import media
    from analytics.reports.archive import site_timezone
    from analytics.reports.definitions import day_bounds

    timezone = site_timezone()
    start, end = day_bounds(day, timezone)
    params = {"start": start, "end": end, "tz": timezone}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
        started = time.perf_counter()
        media.day_reports(cursor, params, {}, nb_visits=0)  # nb_visits is only copied into the overview row
        return time.perf_counter() - started


def all_websites(args, console) -> None:
    """MultiSites.getAll and "My sites" for one month over `args.sites` sites of one owner."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from instances.models import Instance, SchemaState, Status
    from instances.board import PER_PAGE
    from instances.tokens import token_create
    from tests.factories import make_user

    owner = make_user("allwebsites")
    started = time.perf_counter()
    Instance.objects.bulk_create([
        Instance(name=f"Site {n:04d}", slug=f"ms-{n:04d}", schema_name=f"ms_{n:04d}", owner=owner,
                 status=Status.PUBLIE, schema_state=SchemaState.READY, main_url=f"https://ms-{n:04d}.example")
        for n in range(args.sites)], batch_size=1000)
    today = datetime.now(dt_timezone.utc).date()
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO instances_siteday (instance_id, day, nb_visits, nb_actions, nb_pageviews, revenue,
                                           nb_conversions, orders, ecommerce_revenue, archived_at)
            SELECT i.id, d::date, v, v * 3, v * 2, round((random() * 100)::numeric, 2), v / 20, v / 50, 0, now()
            FROM instances_instance i
            CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') AS d
            CROSS JOIN LATERAL (SELECT 1 + (random() * 500 + 0 * i.id + 0 * extract(day FROM d))::int AS v) AS r
            WHERE i.owner_id = %s""", [today - timedelta(days=DAYS), today, owner.pk])
        rows = cursor.rowcount
        cursor.execute("ANALYZE instances_siteday")
    setup = time.perf_counter() - started

    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last complete month
    _token, token = token_create(user=owner, description="bench")
    host = {"HTTP_HOST": settings.FARM_DOMAIN}
    api = Client()

    def get_all():
        response = api.get("/index.php", {"module": "API", "method": "MultiSites.getAll", "period": "month",
                                          "date": month.isoformat(), "format": "json", "filter_limit": "-1",
                                          "token_auth": token}, **host)
        assert response.status_code == 200 and response.content.count(b'"idsite"') == args.sites, \
            response.content[:300]

    page = Client()
    page.force_login(owner)

    def my_sites():
        response = page.get("/sites/", {"period": "month", "date": month.isoformat()}, **host)
        shown = response.content.count(b"<tr data-slug=")
        assert response.status_code == 200 and shown == min(args.sites, PER_PAGE), shown

    api_p50, api_p95 = _timed(get_all, args.repeat)
    page_p50, page_p95 = _timed(my_sites, max(5, args.repeat // 3))
    console.print(f"{args.sites:,} sites × {DAYS + 1} days: {rows:,} summary rows written in {setup:.1f} s")
    console.print(f"MultiSites.getAll, month {month:%Y-%m}, {args.sites:,} sites: p50 {api_p50:6.1f} ms  "
                  f"p95 {api_p95:6.1f} ms   (goal ≤ 300 ms)")
    console.print(f"My sites page, month {month:%Y-%m}, {args.sites:,} sites ({PER_PAGE} a page): p50 {page_p50:6.1f} ms  "
                  f"p95 {page_p95:6.1f} ms")


if __name__ == "__main__":
    sys.exit(main())
