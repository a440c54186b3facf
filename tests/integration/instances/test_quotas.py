"""Quotas: sites per person (the request form says so), hits a month and storage per site (past
them hits are not stored; the owner and the farm's admins are emailed once at 80 % and once at
100 %), farm defaults overridden per person and per site, shown on "My sites" and the Settings."""
from datetime import datetime, timedelta, timezone

import pytest
from django.core import mail

from analytics.models import Action
from analytics.tracking import queue
from farm.tenancy import in_tenant
from instances import quotas, services
from instances.models import Instance, OwnerQuota, SiteMonthHits
from instances.quotas import QuotaReached
from tests.factories import make_instance, make_user
from tests.integration.analytics.test_ingest import hit

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


def request(owner, slug):
    return services.instance_request(owner=owner, name=slug.title(), slug=slug, purpose="testing")


def test_a_person_past_their_quota_of_sites_is_told_and_refused(client, settings):
    settings.FARM_QUOTA_SITES_PER_USER = 2
    owner = make_user("collector")
    request(owner, "first-site"), request(owner, "second-site")
    with pytest.raises(QuotaReached, match="You already have 2 sites"):
        request(owner, "third-site")
    client.force_login(owner)
    page = client.get("/sites/request/", **PORTAL).content.decode()
    assert "Sites: 2 of 2" in page and 'id="sites-quota-reached"' in page
    refused = client.post("/sites/request/", {"name": "Third", "slug": "third-site", "timezone": "UTC"}, **PORTAL)
    assert refused.status_code == 400 and "You already have 2 sites" in refused.content.decode()
    assert not Instance.objects.filter(slug="third-site").exists()
    OwnerQuota.objects.create(user=owner, sites=3)  # a farm admin gives this person one more
    assert request(owner, "third-site").slug == "third-site"
    services.instance_deactivate(instance=services.instance_validate(instance=Instance.objects.get(
        slug="first-site"), by=None), by=None, reason="no longer needed")  # a deactivated site frees its place
    assert request(owner, "fourth-site").slug == "fourth-site"


def test_hits_past_the_months_quota_are_not_stored_and_the_owner_and_admins_hear_once(
        client, settings, django_capture_on_commit_callbacks, monkeypatch):
    from farm.celery import app as celery_app
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)  # NB: the warning is a worker's task
    make_user("farmer", superuser=True, email="farmer@example.org")
    site = make_instance("busy-bee", state="publie")
    Instance.objects.filter(pk=site.pk).update(quota_hits_per_month=10)
    now = datetime.now(timezone.utc)
    with django_capture_on_commit_callbacks(execute=True):
        assert queue.hits_store_now([hit(site, now - timedelta(seconds=n), url=f"https://s.example/{n}")
                                     for n in range(7)]) == []
    assert len(mail.outbox) == 0  # 7 of 10: under 80 %
    with django_capture_on_commit_callbacks(execute=True):
        queue.hits_store_now([hit(site, now, url=f"https://s.example/more{n}") for n in range(5)])
    month = quotas.month_of(quotas.site_today(site))
    assert SiteMonthHits.objects.get(instance=site, month=month).hits == 10
    with in_tenant(site):
        assert Action.objects.count() == 10  # the last 2 were answered as usual, not stored
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["[farm] busy-bee used 100% of its hits this month", "[farm] busy-bee used 80% of its hits this month"]
    assert set(mail.outbox[0].to) == {site.owner.email, "farmer@example.org"}
    with django_capture_on_commit_callbacks(execute=True):
        queue.hits_store_now([hit(site, now, url="https://s.example/late")])
    with in_tenant(site):
        assert Action.objects.count() == 10
    assert len(mail.outbox) == 2  # told once each

    client.force_login(site.owner)
    board = client.get("/sites/", **PORTAL).content.decode()
    assert "10 of 10 hits this month" in board and "quota reached: hits are not stored" in board
    settings_page = client.get("/settings/", HTTP_HOST="busy-bee.localhost").content.decode()
    assert 'id="quota"' in settings_page and "10 of 10 hits this month" in settings_page


def test_storage_past_its_quota_stops_storing(settings):
    site = make_instance("full-jar", state="publie")
    Instance.objects.filter(pk=site.pk).update(schema_size_bytes=3 * 1024 * 1024)
    OwnerQuota.objects.create(user=site.owner, storage_mb=2)
    queue.hits_store_now([hit(site, datetime.now(timezone.utc))])
    with in_tenant(site):
        assert Action.objects.count() == 0
    OwnerQuota.objects.filter(user=site.owner).update(storage_mb=0)  # 0: no limit for this person
    queue.hits_store_now([hit(site, datetime.now(timezone.utc))])
    with in_tenant(site):
        assert Action.objects.count() == 1


def test_a_sites_own_quota_comes_before_its_owners_which_comes_before_the_farms(settings):
    settings.FARM_QUOTA_HITS_PER_MONTH, settings.FARM_QUOTA_STORAGE_MB = 1000, 50
    site = make_instance("layered", state="publie")
    assert quotas.site_limits(site) == quotas.SiteLimits(hits_per_month=1000, storage_bytes=50 * 1024 * 1024)
    OwnerQuota.objects.create(user=site.owner, hits_per_month=500)
    assert quotas.site_limits(site).hits_per_month == 500
    site.quota_hits_per_month = 0  # this site: no limit at all
    assert quotas.site_limits(site) == quotas.SiteLimits(hits_per_month=0, storage_bytes=50 * 1024 * 1024)
