"""Ingest into each site's schema: sessionization by Matomo's rules, replay, poison hits, isolation,
Redis outages, and a real ingest worker."""
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.conf import settings

from analytics.models import Action, Conversion, MediaPlay, Visit
from analytics.tracking import queue
from analytics.tracking.ingest import hit_prepare, ingest_site_hits
from farm.tenancy import in_tenant
from tests.conftest import wait_for
from tests.factories import make_instance

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def hit(site, at: datetime, **params) -> dict:
    raw = {"idsite": str(site.pk), "rec": "1", "url": "https://s.example/", **{k: str(v) for k, v in params.items()}}
    return {"id": str(uuid.uuid4()), "t": site.pk, "at": at.timestamp(), "p": raw, "ip": "192.0.0.0",
            "ua": "Mozilla/5.0", "lang": "en"}


def store(site, entries):
    with in_tenant(site):
        return ingest_site_hits(site, [hit for entry in entries if (hit := hit_prepare(entry))])


def visits(site):
    with in_tenant(site):
        return list(Visit.objects.order_by("first_action_at").values_list("visitor_id", "actions", "first_action_at",
                                                                           "last_action_at"))


@pytest.fixture
def site():
    return make_instance("paris", state="publie")


def test_thirty_minutes_of_inactivity_starts_a_new_visit(site):
    me = {"_id": "aaaaaaaaaaaaaaaa"}
    store(site, [hit(site, T0, **me), hit(site, T0 + timedelta(minutes=29), **me),
                 hit(site, T0 + timedelta(minutes=60), **me)])
    assert [v[1] for v in visits(site)] == [2, 1]


def test_midnight_in_the_sites_timezone_starts_a_new_visit(site):
    site.timezone = "Europe/Paris"
    site.save()
    me = {"_id": "bbbbbbbbbbbbbbbb"}
    before = datetime(2026, 6, 1, 21, 50, tzinfo=timezone.utc)  # 23:50 in Paris
    store(site, [hit(site, before, **me), hit(site, before + timedelta(minutes=15), **me)])  # 00:05 in Paris
    assert len(visits(site)) == 2
    other = make_instance("utc-site", state="publie")
    store(other, [hit(other, before, **me), hit(other, before + timedelta(minutes=15), **me)])  # same UTC day
    assert len(visits(other)) == 1


def test_uid_wins_over_the_tracker_id_and_new_visit_forces_a_visit(site):
    store(site, [hit(site, T0, uid="alice", _id="cccccccccccccccc"),
                 hit(site, T0 + timedelta(minutes=1), uid="alice", _id="dddddddddddddddd"),
                 hit(site, T0 + timedelta(minutes=2), uid="alice", new_visit=1)])
    rows = visits(site)
    assert len({r[0] for r in rows}) == 1 and [r[1] for r in rows] == [2, 1]


def test_a_campaign_change_starts_a_new_visit(site):
    me = {"_id": "eeeeeeeeeeeeeeee"}
    store(site, [hit(site, T0, url="https://s.example/?mtm_campaign=spring", **me),
                 hit(site, T0 + timedelta(minutes=1), url="https://s.example/next", **me),
                 hit(site, T0 + timedelta(minutes=2), url="https://s.example/?utm_campaign=summer", **me)])
    with in_tenant(site):
        assert list(Visit.objects.order_by("id").values_list("campaign_name", "actions")) == [("spring", 2),
                                                                                               ("summer", 1)]


def test_heartbeats_extend_the_visit_without_adding_actions(site):
    me = {"_id": "ffffffffffffffff"}
    store(site, [hit(site, T0, **me), hit(site, T0 + timedelta(minutes=3), ping=1, **me)])
    (_vid, actions, first, last), = visits(site)
    assert actions == 1 and last - first == timedelta(minutes=3)


def test_actions_of_each_kind_conversions_and_media_are_stored(site):
    me = {"_id": "1111111111111111", "pv_id": "abc123"}
    store(site, [
        hit(site, T0, action_name="Home", **me),
        hit(site, T0 + timedelta(seconds=5), link="https://elsewhere.example/", **me),
        hit(site, T0 + timedelta(seconds=6), download="https://s.example/a.pdf", **me),
        hit(site, T0 + timedelta(seconds=7), search="honey", search_count=4, **me),
        hit(site, T0 + timedelta(seconds=8), e_c="Video", e_a="Play", e_n="intro", e_v=2, **me),
        hit(site, T0 + timedelta(seconds=9), c_n="banner", c_p="b.png", c_i="click", **me),
        hit(site, T0 + timedelta(seconds=10), idgoal=0, ec_id="A-1", ec_st=20, ec_items='[["s1", "Jar", "Food", 10, 2]]',
            revenue=20, **me),
        hit(site, T0 + timedelta(seconds=11), ma_id="v1", ma_mt="video", ma_st=5, ma_ps=5, ma_le=60, ma_ttp=2, **me),
        hit(site, T0 + timedelta(seconds=21), ma_id="v1", ma_mt="video", ma_st=15, ma_ps=12, ma_le=60, ma_ttp=9, **me),
        hit(site, T0 + timedelta(seconds=22), ma_id="v1", ma_mt="video", ma_st=3, ma_ps=1, ma_le=60, **me),
    ])
    with in_tenant(site):
        kinds = list(Action.objects.order_by("at").values_list("kind", flat=True))
        assert kinds == ["pageview", "outlink", "download", "search", "event", "content"]
        order = Conversion.objects.get()
        assert (order.goal_id, order.order_id, order.revenue, order.items[0][1]) == (0, "A-1", 20.0, "Jar")
        play = MediaPlay.objects.get()
        assert (play.watched_seconds, play.progress_seconds, play.time_to_play_seconds) == (15, 12, 2)
        visit = Visit.objects.get()
        assert visit.actions == 6 and visit.entry_url == "https://s.example/"


def test_media_pings_out_of_order_keep_every_position_played_and_only_grow(site):
    me = {"_id": "3333333333333333"}
    pings = [  # sent in this order, stored in another: the last one stored has the fewest positions
        (T0 + timedelta(seconds=20), {"ma_st": 20, "ma_ps": 50, "ma_se": "0,5,10,15,45,50", "ma_fs": 1}),
        (T0 + timedelta(seconds=5), {"ma_st": 5, "ma_ps": 5, "ma_se": "0,5", "ma_ttp": 1}),
        (T0 + timedelta(seconds=10), {"ma_st": 10, "ma_ps": 10, "ma_se": "0,5,10", "ma_ttp": 4}),
    ]
    for at, params in pings:
        store(site, [hit(site, at, ma_id="v9", ma_mt="video", ma_le=120, **params, **me)])
    with in_tenant(site):
        play = MediaPlay.objects.get()
        assert play.segments == "0,5,10,15,45,50"
        assert (play.watched_seconds, play.progress_seconds, play.fullscreen) == (20, 50, True)
        assert play.time_to_play_seconds == 1  # from the first ping stored that carried one, then kept


def test_a_replayed_batch_adds_nothing(site):
    entries = [hit(site, T0 + timedelta(seconds=i), _id="2222222222222222") for i in range(5)]
    assert store(site, entries) == 5
    assert store(site, entries) == 0
    with in_tenant(site):
        assert Action.objects.count() == 5 and Visit.objects.get().actions == 5


def test_hits_for_two_sites_land_in_their_own_schemas_only(site):
    other = make_instance("berlin", state="publie")
    entries = [hit(instance, T0, action_name=f"for {instance.slug}") for _ in range(20) for instance in (site, other)]
    queue.hits_enqueue(entries)
    assert queue.ingest_drain() == 40
    for instance, title in ((site, "for paris"), (other, "for berlin")):
        with in_tenant(instance):
            assert set(Action.objects.values_list("title", flat=True)) == {title}
            assert Action.objects.count() == 20


def test_a_poison_hit_is_set_aside_and_does_not_block_its_batch(site):
    good = [hit(site, T0 + timedelta(seconds=i), _id="3333333333333333") for i in range(3)]
    poison = hit(site, T0, _id="not-hex-at-all!")  # passes the queue, fails re-validation at ingest
    queue.hits_enqueue([good[0], poison, *good[1:]])
    assert queue.ingest_drain() == 3
    assert queue.queue_depth() == {"queued": 0, "dead": 1}
    dead = queue.client().xrange(settings.FARM_HITS_STREAM + ":dead")
    assert "_id" in dead[0][1][b"error"].decode()


def test_entries_whose_site_id_is_not_a_number_are_set_aside_without_stalling_the_queue(site):
    import orjson

    for odd in ([site.pk], True, str(site.pk)):
        queue.client().xadd(settings.FARM_HITS_STREAM, {"h": orjson.dumps({**hit(site, T0), "t": odd})})
    queue.hits_enqueue([hit(site, T0)])
    assert queue.ingest_drain() == 1
    assert queue.queue_depth() == {"queued": 0, "dead": 3}
    assert queue.ingest_drain() == 0


def test_entries_whose_user_agent_is_not_text_are_set_aside_without_stalling_the_queue(site):
    # NB: a batch's agents are looked up together: one unhashable agent must not stop the batch.
    import orjson

    for odd in (["Mozilla/5.0"], {"ua": 1}, True):
        queue.client().xadd(settings.FARM_HITS_STREAM, {"h": orjson.dumps({**hit(site, T0), "ua": odd})})
    queue.hits_enqueue([hit(site, T0)])
    assert queue.ingest_drain() == 1
    assert queue.queue_depth() == {"queued": 0, "dead": 3}
    assert queue.ingest_drain() == 0


def test_hits_for_a_site_deactivated_after_acceptance_are_kept_aside_not_lost(site):
    from instances import services

    queue.hits_enqueue([hit(site, T0)])
    services.instance_deactivate(instance=site, by=None, reason="closed")
    assert queue.ingest_drain() == 0
    assert queue.queue_depth()["dead"] == 1


def test_when_redis_is_down_hits_are_written_through_to_postgres(client, site, monkeypatch, settings):
    dead = "redis://127.0.0.1:1/0"  # nothing listens there: both the queue and the host cache are down
    monkeypatch.setattr(queue, "_client", queue.make_client(dead))
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": dead}}
    for i in range(10):
        response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "4444444444444444",
                                              "action_name": f"page {i}"}, HTTP_HOST="localhost")
        assert response.status_code == 200
    with in_tenant(site):
        assert Action.objects.count() == 10  # count in = count stored


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_ingest_worker_stores_what_the_endpoint_accepted(client, celery_worker_process):
    site = make_instance("live-hits", state="publie")
    for i in range(25):
        assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "action_name": f"p{i}",
                                          "_id": "5555555555555555"}, HTTP_HOST="localhost").status_code == 200

    def stored():
        with in_tenant(site):
            return Action.objects.count() == 25

    wait_for(stored, timeout=30)
    assert queue.queue_depth()["queued"] == 0


ANDROID = ("Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 "
           "Mobile Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_visits_get_device_browser_and_country_from_masked_data(site):
    entry = hit(site, T0, ua=ANDROID)
    entry["ip"] = "193.51.0.0"  # already masked at the door
    store(site, [entry])
    with in_tenant(site):
        visit = Visit.objects.get()
    assert (visit.device_type, visit.device_brand, visit.os_name, visit.browser_name, visit.country) == (
        "smartphone", "Google", "Android", "Chrome Mobile", "FR")


def test_bots_are_not_stored_unless_the_tracker_asks(site):
    assert store(site, [hit(site, T0, ua=GOOGLEBOT)]) == 0
    assert store(site, [hit(site, T0, ua=GOOGLEBOT, bots=1)]) == 1


def test_when_redis_fails_mid_run_every_accepted_hit_is_stored_once(client, site, monkeypatch):
    def send(i):
        response = client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "_id": "6666666666666666",
                                              "action_name": f"page {i}"}, HTTP_HOST="localhost")
        assert response.status_code == 200

    for i in range(5):
        send(i)  # queued in Redis
    healthy = queue._client
    monkeypatch.setattr(queue, "_client", queue.make_client("redis://127.0.0.1:1/0"))
    for i in range(5, 10):
        send(i)  # Redis "down": written through
    monkeypatch.setattr(queue, "_client", healthy)
    for i in range(10, 15):
        send(i)  # Redis back
    queue.ingest_drain()
    with in_tenant(site):
        titles = sorted(Action.objects.values_list("title", flat=True))
    assert titles == sorted(f"page {i}" for i in range(15))


def test_pings_and_cart_updates_never_start_a_visit(site):
    me = {"_id": "7777777777777777"}
    store(site, [hit(site, T0, **me), hit(site, T0 + timedelta(hours=2), ping=1, **me),
                 hit(site, T0 + timedelta(hours=3), idgoal=0, ec_st=10, **me)])
    assert len(visits(site)) == 1
    with in_tenant(site):
        assert Conversion.objects.count() == 0  # a cart update is not an order


def test_when_the_database_fails_the_batch_stays_queued_for_a_retry(site, monkeypatch):
    from django.db import OperationalError

    queue.hits_enqueue([hit(site, T0)])

    def down(*args, **kwargs):
        raise OperationalError("the database restarted")

    monkeypatch.setattr(queue, "_store", down)
    with pytest.raises(OperationalError):
        queue.ingest_drain()
    monkeypatch.undo()
    assert queue.queue_depth()["dead"] == 0
    monkeypatch.setattr(settings, "FARM_INGEST_RECLAIM_MS", 0, raising=False)
    assert queue.ingest_drain() == 1  # reclaimed from the pending list and stored


def test_a_hit_that_cannot_be_stored_while_redis_is_down_is_refused_not_lost_silently(client, site, monkeypatch):
    monkeypatch.setattr(queue, "_client", queue.make_client("redis://127.0.0.1:1/0"))

    def broken_store(tenant_id, entries):
        raise ValueError("disk full")

    monkeypatch.setattr(queue, "_store", broken_store)
    single = client.get("/matomo.php", {"idsite": site.pk, "rec": 1}, HTTP_HOST="localhost")
    assert single.status_code == 503 and b"send it again" in single.content
    body = {"requests": [f"?idsite={site.pk}&rec=1", f"?idsite={site.pk}&rec=1&_id=bad"]}
    bulk = client.post("/matomo.php", json.dumps(body), content_type="application/json", HTTP_HOST="localhost")
    assert bulk.json() == {"status": "success", "tracked": 0, "invalid": 2}


def test_the_visitors_local_time_is_kept_from_the_first_action(site):
    me = {"_id": "cccccccccccccccc"}
    store(site, [hit(site, T0, h=9, m=5, s=7, **me), hit(site, T0 + timedelta(minutes=1), h=9, m=6, s=7, **me)])
    with in_tenant(site):
        assert Visit.objects.get().local_time.isoformat() == "09:05:07"


REDUCED_ANDROID = ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
                   "Mobile Safari/537.36")  # Chrome's reduced user agent: no model, frozen OS and browser versions
PIXEL_HINTS = {"mobile": True, "model": "Pixel 7", "platform": "Android", "platformVersion": "14.0.0",
               "fullVersionList": [{"brand": "Not_A Brand", "version": "8.0.0.0"},
                                   {"brand": "Chromium", "version": "120.0.6099.144"},
                                   {"brand": "Google Chrome", "version": "120.0.6099.144"}],
               "formFactors": ["Mobile"]}


def test_client_hints_give_the_model_and_versions_a_reduced_user_agent_hides(site):
    store(site, [hit(site, T0, ua=REDUCED_ANDROID, uadata=json.dumps(PIXEL_HINTS), _id="8888888888888888"),
                 hit(site, T0, ua=REDUCED_ANDROID, _id="9999999999999999"),
                 hit(site, T0, ua=REDUCED_ANDROID, uadata=json.dumps({"model": ["not", "text"], "mobile": "yes"}),
                     _id="aaaaaaaaaaaaaaa1")])
    with in_tenant(site):
        hinted, plain, malformed = (Visit.objects.get(visitor_id=vid) for vid in
                                    ("8888888888888888", "9999999999999999", "aaaaaaaaaaaaaaa1"))
    assert (hinted.device_brand, hinted.device_model, hinted.os_version, hinted.browser_version) == (
        "Google", "Pixel 7", "14.0.0", "120.0.6099.144")
    assert (plain.device_model, plain.os_version, plain.browser_version) == ("", "10", "120.0.0.0")
    assert (malformed.device_model, malformed.os_version) == ("", "10")  # bad hints are ignored, the hit kept


def test_an_order_is_recorded_once_and_a_repeated_hit_once(site):
    me = {"_id": "bbbbbbbbbbbbbbb1"}
    first = hit(site, T0, idgoal=0, ec_id="B-7", revenue=30, **me)
    again = hit(site, T0 + timedelta(seconds=5), idgoal=0, ec_id="B-7", revenue=30, **me)  # the shop sent it twice
    page = hit(site, T0 + timedelta(seconds=6), dimension1="gold", **me)
    assert store(site, [first, again, page, dict(page)]) == 3  # the repeated entry counts once
    assert store(site, [hit(site, T0 + timedelta(seconds=9), idgoal=0, ec_id="B-7", **me)]) == 1
    with in_tenant(site):
        assert list(Conversion.objects.values_list("order_id", "revenue")) == [("B-7", 30.0)]
        assert list(Action.objects.values_list("dimensions", flat=True)) == [{"1": "gold"}]
        assert Visit.objects.get().actions == 1


def test_a_later_batch_extends_the_visit_an_earlier_one_opened(site):
    me = {"_id": "ccccccccccccccc1"}
    store(site, [hit(site, T0, url="https://s.example/a", **me)])
    store(site, [hit(site, T0 + timedelta(minutes=5), url="https://s.example/b", **me),
                 hit(site, T0 + timedelta(minutes=6), ping=1, **me)])
    with in_tenant(site):
        visit = Visit.objects.get()
    assert (visit.actions, visit.entry_url, visit.exit_url, visit.last_action_at) == (
        2, "https://s.example/a", "https://s.example/b", T0 + timedelta(minutes=6))


def test_a_worker_loads_the_rule_sets_once_and_hides_them_from_the_garbage_collector(site):
    import gc

    from analytics.tracking import detector, enrich

    queue.hits_enqueue([hit(site, T0)])
    assert queue.ingest_drain() == 1  # the first drain of a process warms it up
    frozen = gc.get_freeze_count()
    assert frozen > 100_000  # device-detector's rules, among the rest of the process's lasting state
    assert enrich.warm_up() == 0.0 and gc.get_freeze_count() == frozen
    # device-detector's first-walked rules were compiled then, not by the first new agents' hits
    assert detector.compile_rules() == 0


def test_write_through_stores_the_valid_hits_and_names_the_invalid_one(site):
    good, bad = hit(site, T0), hit(site, T0, _id="not-hex-at-all!")
    assert queue.hits_store_now([good, bad]) == [bad["id"]]
    with in_tenant(site):
        assert list(Action.objects.values_list("hit_id", flat=True)) == [uuid.UUID(good["id"])]


def test_a_visit_extended_by_a_later_batch_keeps_every_character_of_its_urls(site):
    """Later batches update visits through one JSON parameter: quotes, backslashes, braces, commas and
    control characters survive."""
    me = {"_id": "dddddddddddddddd"}
    odd = 'https://s.example/a"b\\c{d},e NULL/é?q="x"\t\u2028'
    store(site, [hit(site, T0, url="https://s.example/first", **me)])
    store(site, [hit(site, T0 + timedelta(minutes=1), url=odd, **me)])
    store(site, [hit(site, T0 + timedelta(minutes=2), url="NULL", **me)])
    with in_tenant(site):
        visit = Visit.objects.get()
        assert (visit.entry_url, visit.exit_url, visit.actions) == ("https://s.example/first", "NULL", 3)
        assert visit.last_action_at == T0 + timedelta(minutes=2)
        assert list(Action.objects.order_by("at").values_list("url", flat=True))[1] == odd
    store(site, [hit(site, T0 + timedelta(minutes=3), url=odd, **me)])
    with in_tenant(site):
        assert Visit.objects.get().exit_url == odd


def test_healthz_reports_the_hit_backlog_and_says_when_ingest_lags(client, site, monkeypatch):
    queue.hits_enqueue([hit(site, T0), hit(site, T0)])
    body = client.get("/healthz", HTTP_HOST="localhost").json()
    assert (body["hits_queued"], body["hits_dead"], body["ingest"]) == (2, 0, "ok") and body["ingest_lag_seconds"] < 60
    assert 599 < queue.ingest_lag_seconds(now=time.time() + 600) < 660  # ten minutes later, nobody drained
    monkeypatch.setattr("farm.health.STALE_INGEST_SECONDS", 0)
    body = client.get("/healthz", HTTP_HOST="localhost").json()
    assert body["ingest"].startswith("stale: the oldest queued hit has waited") and body["status"] == "ok"
    monkeypatch.undo()
    assert queue.ingest_drain() == 2
    body = client.get("/healthz", HTTP_HOST="localhost").json()
    assert (body["hits_queued"], body["ingest_lag_seconds"], body["ingest"]) == (0, 0, "ok")


def test_a_worker_consuming_the_hit_queue_loads_the_rule_sets_before_its_pool_forks(monkeypatch, settings):
    from types import SimpleNamespace

    from analytics import tasks

    loaded = []
    monkeypatch.setattr(tasks.enrich, "warm_up", lambda: loaded.append(1) or 0.0)
    settings.FARM_INGEST_QUEUE = "hits-here"

    def worker(*queues):
        consumed = {name: object() for name in queues}
        return SimpleNamespace(app=SimpleNamespace(amqp=SimpleNamespace(queues=SimpleNamespace(consume_from=consumed))))

    tasks.ingest_worker_warm_up(sender=worker("celery"))
    assert loaded == []  # a worker for the scheduled tasks only does not carry the rule sets
    tasks.ingest_worker_warm_up(sender=worker("celery", "hits-here"))
    assert loaded == [1]


def test_deleting_a_visit_deletes_its_actions_and_conversions_without_a_database_constraint(site):
    """The log tables have no FK constraint (ingest speed): the ORM's on_delete keeps them consistent."""
    me = {"_id": "eeeeeeeeeeeeeeee"}
    store(site, [hit(site, T0, **me), hit(site, T0 + timedelta(seconds=5), idgoal=1, revenue=2, **me),
                 hit(site, T0, _id="ffffffffffffffff")])
    with in_tenant(site):
        Visit.objects.filter(visitor_id=me["_id"]).delete()
        assert (Action.objects.count(), Conversion.objects.count(), Visit.objects.count()) == (1, 0, 1)


@pytest.mark.parametrize("forged", [{"ipd": "81.2.69.160"}, {"ipd": 7}, {"cc": "France"}, {"cc": None}])
def test_a_queued_entry_with_a_forged_address_digest_or_country_is_refused(site, forged):
    with pytest.raises(ValueError):
        hit_prepare({**hit(site, T0), **forged})


def test_the_country_found_at_the_door_is_the_one_stored(site):
    store(site, [{**hit(site, T0, _id="3333333333333333"), "cc": "JP", "ipd": "0" * 32}])
    with in_tenant(site):
        assert Visit.objects.get().country == "JP"
