"""`manage.py tracking_dead_letters [list|replay|discard]`: the hits the ingest workers set aside.

A hit lands there when it cannot be stored (its site was deactivated after the hit was accepted,
or the ingester failed on it); it keeps the hit and the reason. Once the cause is fixed, `replay`
queues the hits again; `discard` drops them for good.
"""
import re
from datetime import datetime, timezone

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import track
from rich.table import Table

from analytics.tracking import queue

STREAM_ID = re.compile(r"[0-9]{1,19}-[0-9]{1,19}")  # a Redis stream entry id, as `list` shows them

class Command(BaseCommand):
    help = "List, replay or discard the tracking hits the ingest workers set aside (the dead-letter stream)."

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", default="list", choices=("list", "replay", "discard"))
        parser.add_argument("ids", nargs="*", help="dead-letter entry ids (as listed); none with --all")
        parser.add_argument("--all", action="store_true", help="every set-aside hit (replay/discard)")
        parser.add_argument("--site", type=int, help="only the hits of this idsite")
        parser.add_argument("--limit", type=int, default=100, help="how many to list (default 100)")

    def handle(self, *args, action, ids, all, site, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        if action == "list":
            return self._list(queue.dead_letters(limit=limit), site)
        if bool(ids) == bool(all):
            raise CommandError(f"{action}: give entry ids (see `tracking_dead_letters list`) or --all, not both.")
        malformed = [entry for entry in ids if not STREAM_ID.fullmatch(entry)]
        if malformed:
            raise CommandError("not entry ids (they look like 1764590400000-0; see `tracking_dead_letters list`): "
                               + ", ".join(malformed[:10]))
        if all:
            ids = [letter["id"] for letter in queue.dead_letters(limit=10_000_000)
                   if site is None or letter["site"] == site]
        if action == "discard":
            self.stdout.write(f"discarded {queue.dead_letters_discard(ids)} hit(s)")
            return
        replayed, refused = 0, []
        for chunk in track([ids[i:i + 500] for i in range(0, len(ids), 500)], description="replaying",
                           console=Console(file=self.stderr), disable=len(ids) <= 500):
            done, bad = queue.dead_letters_replay(chunk)
            replayed, refused = replayed + done, refused + bad
        self.stdout.write(f"replayed {replayed} hit(s); the ingest workers store them in a moment")
        if refused:
            raise CommandError(f"{len(refused)} entr(y/ies) could not be replayed (unknown id or unreadable hit): "
                               + ", ".join(refused[:10]))

    def _list(self, letters, site):
        letters = [letter for letter in letters if site is None or letter["site"] == site]
        if not letters:
            self.stdout.write("no hit is set aside")
            return
        table = Table("entry id", "set aside", "idsite", "hit id", "reason")
        for letter in letters:
            at = datetime.fromtimestamp(letter["at"], tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            table.add_row(letter["id"], at, str(letter["site"] or "?"),
                          (letter["hit"] or {}).get("id", "(unreadable)"), letter["error"][:120])
        Console(file=self.stdout, width=200).print(table)
