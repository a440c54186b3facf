"""SegmentEditor.* on real PostgreSQL: saved segments, personal or shared with the site's members, with
the farm's roles (viewers save their own, site admins share and manage shared ones), Matomo's answers,
and definitions checked before they are stored."""
import pytest

from instances.models import Membership, Role
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import call_api, is_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def site():
    return make_instance("segmentsite", state="publie")


@pytest.fixture
def people(site):
    """The owner (admin), two viewers, and someone with no role on the site: a token each."""
    viewers = [make_user("vera"), make_user("victor")]
    for viewer in viewers:
        Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    return {"owner": token_create(user=site.owner)[1], "vera": token_create(user=viewers[0])[1],
            "victor": token_create(user=viewers[1])[1], "stranger": token_create(user=make_user("sam"))[1]}


def editor(client, site, token, method, **params):
    return call_api(client, token_auth=token, idSite=site.pk, method=f"SegmentEditor.{method}", **params)


def names(client, site, token):
    status, rows = editor(client, site, token, "getAll")
    assert status == 200, rows
    return {row["name"] for row in rows}


def test_personal_and_shared_segments_and_who_may_do_what(client, site, people):
    status, added = editor(client, site, people["owner"], "add", name="Returning", definition="visitorType==returning",
                           enabledAllUsers=1, autoArchive=1)
    assert status == 200 and isinstance(added["value"], int)
    shared_id = added["value"]
    status, mine = editor(client, site, people["vera"], "add", name="Vera's blog readers", definition="pageUrl=@%2Fblog")
    assert status == 200
    assert names(client, site, people["vera"]) == {"Returning", "Vera's blog readers"}
    assert names(client, site, people["victor"]) == {"Returning"}  # a personal one only for its owner
    assert names(client, site, people["owner"]) == {"Returning"}

    status, row = editor(client, site, people["vera"], "get", idSegment=shared_id)
    assert status == 200 and {"idsegment": shared_id, "name": "Returning", "definition": "visitorType==returning",
                              "enable_all_users": 1, "auto_archive": 1, "enable_only_idsite": site.pk}.items() <= row.items()
    assert is_error(editor(client, site, people["victor"], "get", idSegment=mine["value"]))

    # viewers cannot share, nor change or delete what is not theirs
    answer = editor(client, site, people["vera"], "add", name="Shared?", definition="visitCount>1", enabledAllUsers=1)
    assert is_error(answer) and "admins" in answer[1]["message"]
    answer = editor(client, site, people["vera"], "update", idSegment=shared_id, name="Mine now",
                    definition="visitCount>1")
    assert is_error(answer) and "owner" in answer[1]["message"]
    assert is_error(editor(client, site, people["victor"], "delete", idSegment=mine["value"]))
    assert names(client, site, people["vera"]) == {"Returning", "Vera's blog readers"}

    # the owner changes hers; the site admin changes the shared one; deleting removes it for everyone
    assert editor(client, site, people["vera"], "update", idSegment=mine["value"], name="Blog readers",
                  definition="pageUrl=@%2Fblog;visitCount>1") == (200, {"result": "success", "message": "ok"})
    assert editor(client, site, people["owner"], "update", idSegment=shared_id, name="Returning visitors",
                  definition="visitorType==returning", enabledAllUsers=1)[0] == 200
    assert names(client, site, people["vera"]) == {"Returning visitors", "Blog readers"}
    assert editor(client, site, people["owner"], "delete", idSegment=shared_id) == (
        200, {"result": "success", "message": "ok"})
    assert names(client, site, people["victor"]) == set()


def test_a_definition_is_checked_before_it_is_stored(client, site, people):
    answer = editor(client, site, people["owner"], "add", name="Bad", definition="visitCount>1;pageUrl")
    assert is_error(answer) and "invalid" in answer[1]["message"] and "position 13" in answer[1]["message"]
    answer = editor(client, site, people["owner"], "add", name="Unknown", definition="shoeSize>40")
    assert is_error(answer) and "shoeSize" in answer[1]["message"]
    answer = editor(client, site, people["owner"], "add", name="", definition="visitCount>1")
    assert is_error(answer) and "name" in answer[1]["message"]
    answer = editor(client, site, people["owner"], "update", idSegment="x", name="A", definition="visitCount>1")
    assert is_error(answer) and "idSegment" in answer[1]["message"]
    assert names(client, site, people["owner"]) == set()


def test_no_role_no_segments(client, site, people):
    for method, params in (("getAll", {}), ("add", {"name": "A", "definition": "visitCount>1"})):
        status, body = editor(client, site, people["stranger"], method, **params)
        assert status == 401 and body["result"] == "error", method


def test_a_signed_in_browser_cannot_be_made_to_change_segments_by_a_link(site, people):
    """The API's write methods refuse a session-only GET (a link on another site would do it) and a
    session POST without the CSRF token; a token, or the dashboard's form, may write."""
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(site.owner)
    query = {"module": "API", "method": "SegmentEditor.add", "idSite": site.pk, "name": "Evil", "definition": "visitCount>1",
             "enabledAllUsers": 1, "format": "json"}
    response = browser.get("/index.php", query, HTTP_HOST="localhost")
    assert response.status_code == 403 and "POST" in response.json()["message"]
    bulk = {"module": "API", "method": "API.getBulkRequest", "format": "json",
            "urls[0]": f"method=SegmentEditor.delete&idSite={site.pk}&idSegment=1"}
    assert browser.get("/index.php", bulk, HTTP_HOST="localhost").status_code == 403
    assert browser.post("/index.php", query, HTTP_HOST="localhost").status_code == 403  # no CSRF token
    assert names(Client(), site, people["owner"]) == set()


def test_writes_name_one_site(client, site, people):
    answer = call_api(client, token_auth=people["owner"], idSite=f"{site.pk},{site.pk}", method="SegmentEditor.delete",
                      idSegment=1)
    assert is_error(answer) and "one idSite" in answer[1]["message"]


def test_a_site_admin_does_not_see_nor_change_a_members_personal_segment(client, site, people):
    _, mine = editor(client, site, people["vera"], "add", name="Vera's", definition="visitCount>1")
    answer = editor(client, site, people["owner"], "delete", idSegment=mine["value"])
    assert is_error(answer) and "not found" in answer[1]["message"]
    assert names(client, site, people["vera"]) == {"Vera's"}


def test_a_pre_processed_segment_starts_on_its_chosen_day(client, site, people):
    status, added = editor(client, site, people["owner"], "add", name="Since June", definition="visitCount>1",
                           autoArchive=1, archiveFrom="2026-06-01")
    assert status == 200
    status, row = editor(client, site, people["owner"], "get", idSegment=added["value"])
    assert row["archive_from"] == "2026-06-01" and row["auto_archive"] == 1
    status, _ok = editor(client, site, people["owner"], "update", idSegment=added["value"], name="Renamed",
                         definition="visitCount>1", autoArchive=1)  # as Matomo's clients: no archiveFrom
    assert status == 200 and editor(client, site, people["owner"], "get", idSegment=added["value"])[1][
        "archive_from"] == "2026-06-01"  # kept
    answer = editor(client, site, people["owner"], "add", name="Bad", definition="visitCount>1", archiveFrom="June")
    assert is_error(answer) and "YYYY-MM-DD" in answer[1]["message"]
