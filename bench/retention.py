"""Benchmark: deleting old raw logs (analytics.privacy.retention), or anonymising stored rows
(analytics.privacy.anonymise, `--work anonymise`), while ingest goes on.

Generates a site's traffic (bench/reports_data.py: `--visits` visits of 5 actions over `--days`
days) in a database of its own (`<db>_retentionbench`), archives every day, then ingests today's
realistic hits (one site, agents from a long tail, 60 % returning visitors: bench/traffic.py) in
batches of 500, as the ingest worker stores them (prepare: parse, enrich; then store): alone for
`--seconds`, then while another process deletes the raw logs older than `--keep` days (what
the daily task does) — or, with `--work anonymise`, while it applies an anonymisation to every
stored visit (3 bytes of the address masked, user ids pseudonymised, resolution and language
emptied: each batch holds the ingest's lock of the site) —, then alone again for `--seconds`
(after a warm-up: the agent cache and the returning visitors settle first). Prints ingest hits/s
before, during and after the work (each batch's rate: median and slowest), and the work's rows and time.

    .venv/bin/python bench/retention.py [--visits 300000] [--days 60] [--keep 30] [--seconds 15]
                                        [--work purge|anonymise]
"""
import argparse
import multiprocessing
import statistics
import sys
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
BATCH = 500


def _work(site_pk: int, keep: int, work: str, out) -> None:
    """The daily task's work, in a process of its own (its own connection), timed."""
    from django.db import connection

    from analytics.privacy.anonymise import anonymisations_run
    from analytics.privacy.retention import raw_logs_purge
    from farm.tenancy import in_tenant
    from instances.models import Anonymisation, Instance

    connection.close()  # NB: the parent's socket, inherited by fork: never used here
    site = Instance.objects.get(pk=site_pk)
    with in_tenant(site):
        started = time.perf_counter()
        if work == "anonymise":
            Anonymisation.objects.create(instance=site, ip_mask_bytes=3, pseudonymise_user_ids=True,
                                         unset_visit_columns=["language", "resolution"])
            counts = anonymisations_run(site=site)[0]
        else:
            counts = raw_logs_purge(days=keep)
    out.send((counts, time.perf_counter() - started))


def _ingest(site, entries, until) -> list[float]:
    """Prepare and store `entries` BATCH at a time until `until()` says stop (or they run out);
    each batch's hits/s."""
    from analytics.tracking.ingest import hits_prepare, ingest_site_hits
    from farm.tenancy import in_tenant

    rates = []
    with in_tenant(site):
        for at in range(0, len(entries), BATCH):
            started = time.perf_counter()
            hits, _invalid = hits_prepare(entries[at:at + BATCH])
            ingest_site_hits(site, hits)
            rates.append(BATCH / (time.perf_counter() - started))
            if until():
                break
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=300_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--keep", type=int, default=30, help="retention in days: older raw logs are deleted")
    parser.add_argument("--seconds", type=float, default=15, help="ingest alone, before the purge")
    parser.add_argument("--work", choices=("purge", "anonymise"), default="purge")
    args = parser.parse_args()

    from common import django_in_own_database, live_site

    django_in_own_database("retentionbench", DEBUG="0")
    from django.core.management import call_command
    from django.db import connection
    from rich.console import Console

    from analytics.models import Action, Visit
    from analytics.reports import archive
    from analytics.tracking import enrich
    from farm.tenancy import in_tenant
    from reports_data import generate
    from traffic import Traffic

    from analytics.tracking.agent_corpus import agent_pool

    console = Console(width=200)
    call_command("farm_init", verbosity=0)
    site = live_site("retentionbench", name="Retention", slug="retention", timezone_name="UTC")
    today = datetime.now(dt_timezone.utc).date()
    start = today - timedelta(days=args.days)
    with in_tenant(site):
        started = time.perf_counter()
        counts = generate(visits=args.visits, actions_per_visit=5, days=args.days,
                          start=datetime(start.year, start.month, start.day, tzinfo=dt_timezone.utc),
                          heavy_offset=args.days - 1)
        generation = time.perf_counter() - started
        started = time.perf_counter()
        archive.archive_run()  # as the hourly task: every day, and its watermarks (a day's rows must be seen)
        archiving = time.perf_counter() - started
    console.print(f"generated {counts['visits']:,} visits / {counts['actions']:,} actions over {args.days} days "
                  f"in {generation:.0f} s, archived in {archiving:.0f} s")

    traffic = Traffic([site.pk], agent_pool(3000, seed=5, release=1), returning=0.6, seed=11)
    now = time.time()
    traffic.day(20_000, start=now - 7200, seconds=3600)  # yesterday's visitors, who come back
    entries = traffic.day(400_000, start=now - 3600, seconds=3000)
    warm = enrich.warm_up()
    console.print(f"ingest: realistic hits of today, {BATCH} a batch (rule sets loaded before, in {warm:.1f} s)")

    def for_seconds(part):
        deadline = time.perf_counter() + args.seconds
        return _ingest(site, part, lambda: time.perf_counter() > deadline)
    quarter = len(entries) // 4
    _ingest(site, entries[:20_000], lambda: False)  # warm-up: the agents' cache, the visitors coming back
    before = for_seconds(entries[20_000:quarter])
    connection.close()  # NB: no open socket across the fork
    receive, send = multiprocessing.Pipe(duplex=False)
    purge = multiprocessing.get_context("fork").Process(target=_work, args=(site.pk, args.keep, args.work, send))
    purge.start()
    during = _ingest(site, entries[quarter:3 * quarter], lambda: not purge.is_alive())
    purge.join()
    after = for_seconds(entries[3 * quarter:])
    counts, seconds = receive.recv()
    deleted = sum(v for k, v in counts.items() if k != "before" and isinstance(v, int))
    with in_tenant(site):
        left = Visit.objects.count(), Action.objects.count()

    def line(name, rates):
        return (f"  {name:<22} {statistics.median(rates):8.0f} hits/s median batch, slowest batch "
                f"{min(rates):6.0f} hits/s ({len(rates)} batches of {BATCH})")
    alone = statistics.median(before + after)
    console.print(line("alone, before", before))
    console.print(line(f"during the {args.work}", during) + f"   = {statistics.median(during) / alone:.2f} × alone "
                  "(median of before and after)")
    console.print(line("alone, after", after))
    if args.work == "anonymise":
        console.print(f"anonymisation of the stored visits: {counts} in {seconds:.1f} s "
                      f"({counts.get('visit', 0) / seconds:,.0f} visits/s)")
        return 0
    console.print(f"purge of the raw logs before {counts['before']} (keep {args.keep} days): {deleted:,} rows in "
                  f"{seconds:.1f} s ({deleted / seconds:,.0f} rows/s): {counts}; left {left[0]:,} visits, "
                  f"{left[1]:,} actions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
