"""Segments on the real-time and visitor-level methods: a visitor's profile keeps the visits the
segment selects (and without visitorId shows the latest visitor it selects), real-time media counts
only the segment's plays and its most-played rows keep the k floor; with a segment these are
visitor-level answers, closed to viewers where the site keeps single visitors to its admins."""
from datetime import timedelta

import pytest
from django.utils import timezone as dj_timezone

from instances.models import Membership, Role
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import call_api, is_error
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
ANNA, BOB = "a" * 16, "b" * 16


@pytest.fixture
def site():
    instance = make_instance("livesegments", state="publie")
    instance.k_anonymity = 2
    instance.save(update_fields=["k_anonymity"])
    return instance


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


def _visit(site, at, visitor: str, page: str, *media):
    """One visit: a page view of `page`, then a play of each (title, seconds watched) on it."""
    store(site, [hit(site, at, _id=visitor, pv_id="pv", url=f"https://s.example{page}", action_name=page),
                 *(hit(site, at + timedelta(seconds=30), _id=visitor, pv_id="pv", url=f"https://s.example{page}",
                       ma_id=f"m{n}", ma_mt="video", ma_re=f"https://cdn.example/{title}.webm", ma_ti=title,
                       ma_st=seconds, ma_le=600) for n, (title, seconds) in enumerate(media))])


def test_a_profile_with_a_segment_keeps_the_visits_it_selects(client, site, token):
    now = dj_timezone.now()
    _visit(site, now - timedelta(hours=5), ANNA, "/shop")
    _visit(site, now - timedelta(hours=3), ANNA, "/home")
    _visit(site, now - timedelta(hours=2), ANNA, "/shop/cart")
    _visit(site, now - timedelta(hours=1), BOB, "/home")

    def profile(**params):
        return call_api(client, token_auth=token, idSite=site.pk, method="Live.getVisitorProfile", **params)
    status, whole = profile(visitorId=ANNA)
    assert status == 200 and whole["totalVisits"] == 3
    status, shop = profile(visitorId=ANNA, segment="pageUrl=@shop")
    assert status == 200 and shop["totalVisits"] == 2 and shop["totalPageViews"] == 2
    assert [v["actionDetails"][0]["url"] for v in shop["lastVisits"]] == ["https://s.example/shop/cart",
                                                                          "https://s.example/shop"]
    assert shop["firstVisit"]["timestamp"] == whole["firstVisit"]["timestamp"]  # both: the visit of /shop
    # no visitorId: the latest visitor the segment selects (Bob's visit is the latest of all)
    assert profile()[1]["visitorId"] == BOB
    assert profile(segment="pageUrl=@shop")[1]["visitorId"] == ANNA
    answer = profile(visitorId=BOB, segment="pageUrl=@shop")
    assert is_error(answer) and "matches the segment" in answer[1]["message"]
    answer = profile(visitorId=ANNA, segment="nosuchThing==1")
    assert is_error(answer) and "nosuchThing" in answer[1]["message"]


def test_real_time_media_with_a_segment_counts_its_plays_and_floors_its_rows(client, site, token):
    now = dj_timezone.now()
    for n in range(3):  # three visitors play "Popular" from the shop
        _visit(site, now - timedelta(minutes=10 + n), f"{n + 1:016x}", "/shop", ("Popular", 20))
    _visit(site, now - timedelta(minutes=8), "e" * 16, "/shop", ("Rare", 5))
    _visit(site, now - timedelta(minutes=7), "f" * 16, "/shop/cart", ("Rarer", 7))
    _visit(site, now - timedelta(minutes=6), "9" * 16, "/home", ("Popular", 100), ("Home only", 30))

    def get(method, **params):
        return call_api(client, token_auth=token, idSite=site.pk, method=f"MediaAnalytics.{method}", lastMinutes=30,
                        **params)
    assert get("getCurrentNumPlays") == (200, {"value": 7})
    assert get("getCurrentNumPlays", segment="pageUrl=@shop") == (200, {"value": 5})
    assert get("getCurrentSumTimeSpent", segment="pageUrl=@shop") == (200, {"value": 3 * 20 + 5 + 7})
    status, rows = get("getCurrentMostPlays", segment="pageUrl=@shop")
    # k = 2: Rare and Rarer have one viewer each, together two: folded into one row
    assert status == 200 and [(r["label"], r["nb_plays"], r["sum_total_time_watched"]) for r in rows] == [
        ("Popular", 3, 60), ("Other (fewer than 2 visitors each)", 2, 12)]
    assert rows[1]["resource"] == "" and set(rows[0]) == {"label", "resource", "media_type", "nb_plays",
                                                           "sum_total_time_watched"}
    status, rows = get("getCurrentMostPlays", segment="pageUrl=@cart")  # one viewer in all: nothing shown
    assert status == 200 and rows == []
    status, rows = get("getCurrentMostPlays")  # without a segment: unchanged, every row
    assert [r["label"] for r in rows][:1] == ["Popular"] and len(rows) == 4


def test_with_a_segment_real_time_methods_are_visitor_level(client, site):
    now = dj_timezone.now()
    _visit(site, now - timedelta(minutes=5), ANNA, "/shop", ("Popular", 20))
    viewer = make_user("vera")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    site.visitor_views_admins_only = True
    site.save(update_fields=["visitor_views_admins_only"])
    token = token_create(user=viewer)[1]
    for method in ("MediaAnalytics.getCurrentNumPlays", "MediaAnalytics.getCurrentMostPlays", "Live.getCounters"):
        status, body = call_api(client, token_auth=token, idSite=site.pk, method=method, segment="userId==anna")
        assert status == 401 and "admins only" in body["message"], method
        assert call_api(client, token_auth=token, idSite=site.pk, method=method)[0] == 200, method
