"""Benchmark: `migrate_farm --check` (instances.fleet_migrations.schemas_pending) over N real site
schemas, and migrating the sites behind.

Creates `--sites` provisioned sites (cloned schemas) in a database of its own (`<db>_fleetcheck`,
dropped and made again), closing the connection every 25 sites (a connection that has walked many
schemas gets slower: issue #16). Then times the check with nothing pending (the one query), takes
one migration back in `--behind` sites (its column dropped and its record deleted, as a deploy
before it), times the check again and the run that migrates only those (`--jobs` processes).

    .venv/bin/python bench/fleet_check.py [--sites 1000] [--behind 100] [--jobs 2]
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
MIGRATION = ("analytics", "0013_reports_purged_before")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--behind", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from common import django_in_own_database, live_site

    django_in_own_database("fleetcheck", DEBUG="0")
    from django.core.management import call_command
    from django.db import connection
    from rich.progress import track

    from instances.fleet_migrations import fleet_migrate, schemas_pending

    call_command("farm_init", verbosity=0)
    started = time.perf_counter()
    schemas = []
    for n in track(range(args.sites), description="provisioning sites"):
        schemas.append(live_site(f"owner{n}", name=f"Site {n}", slug=f"site{n}", timezone_name="UTC").schema_name)
        if n % 25 == 24:
            connection.close()
    print(f"{args.sites} sites provisioned in {time.perf_counter() - started:.0f} s")

    def check():
        connection.close()  # NB: a fresh connection, as the command has
        begun = time.perf_counter()
        pending = schemas_pending()
        return pending, time.perf_counter() - begun
    pending, seconds = check()
    print(f"check, nothing pending: {len(pending)} schema(s) behind, {seconds:.2f} s over {args.sites + 2} schemas")
    with connection.cursor() as cursor:
        for schema in schemas[:args.behind]:
            cursor.execute(f'ALTER TABLE "{schema}".analytics_archivestate DROP COLUMN reports_purged_before')
            cursor.execute(f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s', MIGRATION)
    pending, seconds = check()
    print(f"check, {args.behind} behind: {len(pending)} schema(s) found, {seconds:.2f} s")
    begun = time.perf_counter()
    run = fleet_migrate(list(pending), jobs=args.jobs)
    took = time.perf_counter() - begun
    print(f"migrated {len(run.migrated)} site(s), {len(run.failed)} failed, in {took:.1f} s "
          f"({took / max(1, len(run.migrated)) * 1000:.0f} ms a site with {args.jobs} processes)")
    pending, seconds = check()
    print(f"check after: {len(pending)} schema(s) behind, {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
