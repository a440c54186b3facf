"""The GDPR page of a site (site admins only): a search by visitor id, user id or segment, exports as
JSON and CSV, a deletion, the audit trail; viewers get neither the page nor its link."""
import csv
import io
import json

import pytest

from analytics.dashboard.privacy import as_segment
from analytics.models import Visit
from analytics.segments import grammar
from farm.tenancy import in_tenant
from instances.models import DataSubjectAudit, Membership, Role
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, DAY, make_traffic

pytestmark = pytest.mark.django_db
HOST = "rights.localhost"


@pytest.fixture
def site():
    instance = make_instance("rights", state="publie")
    make_traffic(instance)
    return instance


def _alice(site) -> list[int]:
    with in_tenant(site):
        return list(Visit.objects.filter(visitor_id=ALICE).values_list("id", flat=True))


def test_what_a_person_types_is_read_as_a_segment():
    assert as_segment(" AAAAAAAAAAAAAAAA ") == f"visitorId=={'a' * 16},userId==AAAAAAAAAAAAAAAA"
    assert as_segment("userId==x;visitCount>1") == "userId==x;visitCount>1"
    for user_id in ("alice,bob;x@example.org", "alice+tag@example.org", "100%"):  # encoded twice, read back whole
        (condition,), = grammar.parse(as_segment(user_id))
        assert (condition.name, condition.value) == ("userId", user_id)


def test_an_admin_finds_exports_and_deletes_and_reads_the_trail(client, site):
    client.force_login(site.owner)
    page = client.get("/privacy/", {"q": ALICE}, HTTP_HOST=HOST).content.decode()
    assert page.count('class="subject"') == 2 and 'id="privacy-link"' in page
    ids = _alice(site)
    response = client.post("/privacy/", {"visit": ids, "action": "json", "q": ALICE}, HTTP_HOST=HOST)
    export = json.loads(response.content)
    assert response["Content-Disposition"].endswith('.json"') and sorted(r["id"] for r in export["log_visit"]) == \
        sorted(ids)
    response = client.post("/privacy/", {"visit": ids, "action": "csv", "q": ALICE}, HTTP_HOST=HOST)
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["table"] for row in table} == {"log_visit", "log_link_visit_action", "log_conversion", "log_media"}
    assert {row["visitor_id"] for row in table if row["table"] == "log_visit"} == {ALICE}
    response = client.post("/privacy/", {"visit": [], "action": "delete", "q": ALICE}, HTTP_HOST=HOST, follow=True)
    assert "Tick the visits first." in response.content.decode() and _alice(site)
    response = client.post("/privacy/", {"visit": ids, "action": "delete", "q": ALICE}, HTTP_HOST=HOST, follow=True)
    page = response.content.decode()
    assert "Deleted 2 visits" in page and "0 visits found" in page and not _alice(site)
    assert page.count('class="audit-line"') == 6  # each page shown with the search searches again
    assert list(DataSubjectAudit.objects.values_list("action", flat=True).order_by("id")) == [
        "find", "export", "export", "find", "delete", "find"]


def test_a_bad_segment_is_said_on_the_page(client, site):
    client.force_login(site.owner)
    response = client.get("/privacy/", {"q": "nosuchThing==1"}, HTTP_HOST=HOST)
    assert response.status_code == 200 and "nosuchThing" in response.content.decode()


def test_viewers_get_neither_the_page_nor_its_link(client, site):
    viewer = make_user("vic")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    client.force_login(viewer)
    assert 'id="privacy-link"' not in client.get("/", HTTP_HOST=HOST).content.decode()
    assert client.get("/privacy/", {"q": ALICE}, HTTP_HOST=HOST).status_code == 403
    assert client.post("/privacy/", {"visit": _alice(site), "action": "delete"}, HTTP_HOST=HOST).status_code == 403
    assert _alice(site) and not DataSubjectAudit.objects.exists()


def test_a_pseudonymised_user_is_found_by_the_id_the_person_gives(client, site):
    from instances.privacy import user_pseudonym
    from tests.integration.analytics.test_ingest import hit, store

    site.pseudonymise_user_ids = True
    site.save()
    pseudonym = user_pseudonym("erin@example.org", site_id=site.pk)
    store(site, [hit(site, DAY, url="https://s.example/x", action_name="X", uid=pseudonym)])  # as the door stores it
    assert pseudonym in as_segment("erin@example.org", site)
    client.force_login(site.owner)
    page = client.get("/privacy/", {"q": "erin@example.org"}, HTTP_HOST=HOST).content.decode()
    assert page.count('class="subject"') == 1 and pseudonym in page
