"""Routing by host: each status and schema state answers as a person expects, from a cache."""
import pytest

from instances import hosts, services
from instances.models import Domain, Instance, SchemaState
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db


def get(client, host, path="/"):
    return client.get(path, HTTP_HOST=host)


def test_the_portal_answers_on_the_farm_domain_and_its_aliases(client):
    assert get(client, "localhost").status_code == 200
    assert get(client, "127.0.0.1:8000", "/healthz").status_code == 200


def test_an_unknown_host_gets_a_clear_404(client):
    response = get(client, "nowhere.localhost")
    assert response.status_code == 404
    assert b"No site of this farm answers at" in response.content


def test_a_requested_site_says_it_is_not_available_yet(client):
    make_instance("waiting")
    Domain.objects.create(domain="waiting.localhost", tenant=Instance.objects.get(slug="waiting"))
    response = get(client, "waiting.localhost")
    assert response.status_code == 503
    assert b"waiting for an administrator" in response.content


@pytest.mark.parametrize("state, text", [
    (SchemaState.PROVISIONING, b"being set up"),
    (SchemaState.FAILED, b"setup failed"),
])
def test_a_validated_site_whose_schema_is_not_ready_is_not_served(client, state, text):
    instance = make_instance("building", state="publie")
    Instance.objects.filter(pk=instance.pk).update(schema_state=state)
    hosts.clear_cache()
    response = get(client, "building.localhost")
    assert response.status_code == 503
    assert text.lower() in response.content.lower()


def test_a_live_site_sends_a_visitor_to_sign_in_and_shows_its_owner_the_dashboard(client):
    instance = make_instance("live", state="publie")
    response = get(client, "live.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("http://localhost/sso/start/?next=http%3A%2F%2Flive.localhost%2F")
    client.force_login(instance.owner)
    response = get(client, "live.localhost")
    assert response.status_code == 200
    assert b'id="dashboard-title"' in response.content


def test_deactivating_an_instance_clears_the_host_cache(client):
    instance = make_instance("soon-off", state="publie")
    assert get(client, "soon-off.localhost").status_code == 302  # cached as live
    services.instance_deactivate(instance=instance, by=None, reason="unpaid")
    response = get(client, "soon-off.localhost")
    assert response.status_code == 403
    assert "ce site est désactivé".encode() in response.content.lower()
    assert b"this site is deactivated" in response.content.lower()


def test_a_cache_hit_costs_no_database_query(client, django_assert_num_queries):
    make_instance("quiet", state="desactive")
    assert get(client, "quiet.localhost").status_code == 403  # fills the cache
    with django_assert_num_queries(0):
        assert hosts.instance_for_host("quiet.localhost").slug == "quiet"
        assert get(client, "quiet.localhost").status_code == 403


def test_a_custom_domain_answers_once_added_and_stops_once_removed(client):
    instance = make_instance("custom", state="publie")
    assert get(client, "www.custom.example").status_code == 404  # unknown hosts are not cached
    domain = Domain.objects.create(domain="www.custom.example", tenant=instance, is_primary=False)
    assert get(client, "www.custom.example").status_code == 302
    domain.delete()
    assert get(client, "www.custom.example").status_code == 404


def test_a_host_with_port_case_and_trailing_dot_is_normalised(client):
    make_instance("norm", state="desactive")
    assert get(client, "NORM.localhost.:8000").status_code == 403


def test_a_member_without_a_role_is_refused_on_the_site(client):
    make_instance("private", state="publie")
    client.force_login(make_user("stranger"))
    response = get(client, "private.localhost")
    assert response.status_code == 403


def test_a_change_made_by_another_process_is_seen_once_the_local_cache_expires(client, settings):
    import time

    from django.core.cache import cache

    settings.FARM_HOST_LOCAL_CACHE_SECONDS = 0.3
    instance = make_instance("elsewhere", state="publie")
    assert get(client, "elsewhere.localhost").status_code == 302  # to sign in: served, now cached here
    # Another process deactivates it: the row changes and that process empties the shared cache,
    # but this process's receivers never ran.
    Instance.objects.filter(pk=instance.pk).update(status="desactive")
    cache.incr(hosts._GENERATION_KEY)
    assert get(client, "elsewhere.localhost").status_code == 302  # still the local answer…
    time.sleep(0.35)
    assert get(client, "elsewhere.localhost").status_code == 403  # …for a fraction of a second only
