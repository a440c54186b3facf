"""A site may keep single visitors (visitor log, profiles, latest visits, audience log, Live.*) to its
admins: viewers then see reports only. Off by default; set on the site's Settings page."""
import pytest

from instances.models import Membership, Role
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, DAY, call_api, make_traffic

pytestmark = pytest.mark.django_db
HOST = "closed.localhost"
ON_DAY = f"period=day&date={DAY.date()}"
VISITOR_PAGES = [f"/visitor-log/?{ON_DAY}", f"/visitors/{ALICE}/", f"/media/audience-log/?{ON_DAY}"]


@pytest.fixture
def site():
    instance = make_instance("closed", state="publie")
    make_traffic(instance)
    return instance


@pytest.fixture
def viewer(site):
    user = make_user("vince")
    Membership.objects.create(instance=site, user=user, role=Role.VIEW)
    return user


def _closed(site, value=True):
    site.visitor_views_admins_only = value
    site.save(update_fields=["visitor_views_admins_only"])


def test_by_default_every_member_sees_single_visitors(client, site, viewer):
    client.force_login(viewer)
    for path in VISITOR_PAGES:
        assert client.get(path, HTTP_HOST=HOST).status_code == 200, path
    assert 'id="recent-visits"' in client.get("/realtime/", HTTP_HOST=HOST).content.decode()


def test_closed_to_viewers_open_to_admins(client, site, viewer):
    _closed(site)
    client.force_login(viewer)
    for path in VISITOR_PAGES:
        assert client.get(path, HTTP_HOST=HOST).status_code == 403, path
    realtime = client.get("/realtime/", HTTP_HOST=HOST).content.decode()
    assert 'id="counters"' in realtime and 'id="recent-visits"' not in realtime
    assert 'id="recent-visits"' not in client.get("/realtime/panel/", HTTP_HOST=HOST).content.decode()
    overview = client.get(f"/?{ON_DAY}", HTTP_HOST=HOST).content.decode()
    assert 'id="visitor-log-link"' not in overview and 'id="evolution"' in overview  # reports stay open
    token = token_create(user=viewer)[1]
    for method in ("Live.getLastVisitsDetails", "Live.getVisitorProfile"):
        status, body = call_api(client, token_auth=token, idSite=site.pk, method=method)
        assert status == 401 and "admins only" in body["message"], method
    assert call_api(client, token_auth=token, idSite=site.pk, method="VisitsSummary.get", period="day",
                    date=str(DAY.date()))[0] == 200
    # nor through segments: suggested values (user ids…) and counters of one person
    status, body = call_api(client, token_auth=token, idSite=site.pk, method="API.getSuggestedValuesForSegment",
                            segmentName="userId")
    assert status == 401 and "admins only" in body["message"]
    status, body = call_api(client, token_auth=token, idSite=site.pk, method="Live.getCounters",
                            segment="userId==alice")
    assert status == 401
    assert call_api(client, token_auth=token, idSite=site.pk, method="Live.getCounters")[0] == 200
    assert client.get("/segments/suggest/?dimension=userId", HTTP_HOST=HOST).status_code == 403

    client.force_login(site.owner)
    for path in VISITOR_PAGES:
        assert client.get(path, HTTP_HOST=HOST).status_code == 200, path
    owner_token = token_create(user=site.owner)[1]
    assert call_api(client, token_auth=owner_token, idSite=site.pk, method="Live.getLastVisitsDetails")[0] == 200


def test_the_site_admin_sets_it_on_the_settings_page(client, site):
    client.force_login(site.owner)
    page = client.get("/settings/", HTTP_HOST=HOST).content.decode()
    assert 'name="visitor_views_admins_only"' in page
    form = {"timezone": site.timezone, "ip_mask_bytes": site.ip_mask_bytes, "honour_do_not_track": "on",
            "visitor_views_admins_only": "on", "cron_every": 1}
    response = client.post("/settings/", form, HTTP_HOST=HOST)
    assert response.status_code == 302, response.content.decode()[:2000]  # saved, back to the page
    site.refresh_from_db()
    assert site.visitor_views_admins_only and site.k_anonymity == 5  # left out of the form: kept
    response = client.post("/settings/", {**form, "k_anonymity": "1"}, HTTP_HOST=HOST)
    assert response.status_code == 200 and 'id="id_k_anonymity"' in response.content.decode()  # said on the form
    assert client.post("/settings/", {**form, "k_anonymity": "12"}, HTTP_HOST=HOST).status_code == 302
    site.refresh_from_db()
    assert site.k_anonymity == 12


def test_pages_that_do_not_apply_a_segment_say_so(client, site):
    client.force_login(site.owner)
    html = client.get(f"/realtime/?{ON_DAY}&segment=visitCount%3E1", HTTP_HOST=HOST).content.decode()
    assert "Segments do not apply to the real-time pages" in html
    assert 'name="segment"' not in html  # the picker does not carry it on
    html = client.get(f"/visitor-log/?{ON_DAY}&segment=visitCount%3E1", HTTP_HOST=HOST).content.decode()
    assert "Segments apply to the visitor log only" not in html and html.count('class="visit"') == 1
