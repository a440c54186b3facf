"""A small, known site traffic for the Reporting API and Live tests (three visitors on one past day, one now),
and a helper calling the API the way Matomo clients do."""
import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from django.utils import timezone as dj_timezone

from tests.integration.analytics.test_ingest import ANDROID, hit, store

DAY = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)  # a Monday, long past: archived on demand
ALICE, BOB, CAROL, DAN = "a" * 16, "b" * 16, "c" * 16, "d" * 16


def _at(minutes: int) -> datetime:
    return DAY + timedelta(minutes=minutes)


def make_traffic(site) -> None:
    """Alice reads the blog and converts, Bob searches and downloads, Carol (Spain) bounces; Dan is on the site now.

    Alice comes back the same afternoon (a second visit), so her profile has two visits.
    """
    alice = {"_id": ALICE, "urlref": "https://www.google.com/search?q=honey"}
    bob = {"_id": BOB, "urlref": "https://blog.example.org/post", "res": "390x844"}
    entries = [
        hit(site, _at(0), url="https://s.example/blog/a", action_name="Post A", **alice),
        hit(site, _at(1), url="https://s.example/blog/b", action_name="Post B", **alice),
        hit(site, _at(2), url="https://s.example/blog/b", e_c="Video", e_a="Play", e_n="intro", e_v=3, **alice),
        hit(site, _at(3), url="https://s.example/blog/b", ma_id="m1", ma_mt="video", ma_ti="Intro", ma_re="https://s.example/v.mp4",
            ma_st=20, ma_le=60, **alice),
        hit(site, _at(4), url="https://s.example/blog/b", idgoal=1, revenue=5, **alice),
        hit(site, _at(300), url="https://s.example/shop", action_name="Shop", _id=ALICE),
        hit(site, _at(301), url="https://s.example/shop", idgoal=0, ec_id="order-1", revenue=30,
            ec_items='[["sku1", "Jar", "Food", 10, 3]]', _id=ALICE),
        hit(site, _at(10), url="https://s.example/", action_name="Home", **bob),
        hit(site, _at(11), url="https://s.example/", search="wax", search_count=0, **bob),
        hit(site, _at(12), url="https://s.example/", download="https://s.example/f.pdf", **bob),
        hit(site, _at(13), url="https://s.example/", link="https://out.example/", **bob),
        hit(site, _at(20), url="https://s.example/?mtm_campaign=spring&mtm_kwd=k1", action_name="Home", _id=CAROL),
    ]
    entries[-1].update(ua=ANDROID, ip="81.0.0.0", lang="es-ES,es;q=0.9")  # Carol browses from Spain, in Spanish
    now = dj_timezone.now()
    entries += [hit(site, now - timedelta(minutes=3), url="https://s.example/now", action_name="Now", _id=DAN),
                hit(site, now - timedelta(minutes=2), url="https://s.example/now2", action_name="Now 2", _id=DAN)]
    store(site, entries)


def call_api(client, host: str = "localhost", *, post: dict | None = None, path: str = "/index.php", **params):
    """GET (or POST `post` as the body) an API call; returns (status, decoded JSON or text)."""
    query = {"module": "API", **params}
    if post is None:
        response = client.get(path, query, HTTP_HOST=host)
    else:
        response = client.post(f"{path}?{urlencode(query)}", post, HTTP_HOST=host)
    body = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
    is_json = response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(body) if is_json else body


def is_error(answer: tuple) -> bool:
    """Whether (status, body) is Matomo's answer to a bad request: HTTP 200 and result=error."""
    status, body = answer
    return status == 200 and isinstance(body, dict) and body.get("result") == "error" and bool(body.get("message"))
