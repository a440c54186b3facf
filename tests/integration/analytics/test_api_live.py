"""The Live service on raw logs: visits with their actions in order, a visitor's profile, real-time counters."""
import pytest

from analytics.reports import live
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import ALICE, BOB, DAN, DAY, make_traffic

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    instance = make_instance("livesite", state="publie")
    make_traffic(instance)
    return instance


def test_last_visits_are_newest_first_with_their_actions_in_order(site):
    with in_tenant(site):
        visits = live.last_visits(limit=10)
    assert [v["visitorId"] for v in visits][:2] == [DAN, ALICE]
    alice_morning = next(v for v in visits if v["visitorId"] == ALICE and v["actions"] == 3)
    assert [a["type"] for a in alice_morning["actionDetails"]] == ["action", "action", "event", "media", "goal"]
    assert alice_morning["referrerType"] == "search" and alice_morning["referrerName"]
    bob = next(v for v in visits if v["visitorId"] == BOB)
    assert [a["type"] for a in bob["actionDetails"]] == ["action", "search", "download", "outlink"]
    assert bob["visitDuration"] == 180 and bob["serverDate"] == DAY.date().isoformat()


def test_limit_offset_and_min_timestamp_page_through_visits(site):
    with in_tenant(site):
        everything = live.last_visits(limit=-1)
        assert len(everything) == 5
        assert live.last_visits(limit=2, offset=1) == everything[1:3]
        assert [v["visitorId"] for v in live.last_visits(min_timestamp=int(DAY.timestamp()) + 86400)] == [DAN]


def test_a_visitor_profile_sums_all_their_visits(site):
    with in_tenant(site):
        profile = live.visitor_profile(ALICE)
        assert live.visitor_profile("0" * 16) is None
    assert profile["totalVisits"] == 2 and len(profile["lastVisits"]) == 2
    assert profile["totalPageViews"] == 3 and profile["totalGoalConversions"] == 1
    assert profile["totalEcommerceConversions"] == 1 and profile["totalEcommerceRevenue"] == 30
    assert profile["firstVisit"]["referrerType"] == "search"


def test_counters_count_only_the_recent_window(site):
    with in_tenant(site):
        assert live.counters(30) == {"visits": 1, "actions": 2, "visitors": 1, "visitsConverted": 0}
        assert live.counters(1)["visits"] == 0
