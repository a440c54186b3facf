"""Media sessions at ingest: the positions played (`ma_se`) kept as the union of every ping's.

A player's pings carry `ma_se`, the positions (in seconds) played so far as a comma-separated list.
Pings can arrive in any order (a bulk import, a retried request, two tabs), and a later one may
carry fewer positions than an earlier one (a player that restarted, a seek back): keeping only the
last would lose where people watched, which the drop-off report is made of. So each ping's
positions are added to those already stored. The column holds 4,096 characters: past that, the
latest positions are dropped (about 800 positions, over an hour of a 5 s grid).
"""
LIMIT = 4096


def _positions(text: str) -> set[int]:
    found = set()
    for part in (text or "").split(","):
        part = part.strip()
        try:
            value = int(float(part)) if part else -1
        except ValueError:  # a position that is no number adds nothing
            continue
        if 0 <= value <= 86_400 * 30:
            found.add(value)
    return found


def positions_union(stored: str, sent: str, *, limit: int = LIMIT) -> str:
    """The positions of `stored` and `sent`, each once, ascending, as "0,5,10"; at most `limit` characters."""
    text = ",".join(map(str, sorted(_positions(stored) | _positions(sent))))
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(",", 1)[0]
