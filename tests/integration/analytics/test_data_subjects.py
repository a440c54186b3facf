"""The GDPR tools through the Reporting API (PrivacyManager.*): find a person's visits by a segment,
export everything of theirs and nothing of anyone else's, delete it (no raw row left, the reports of
their days, weeks and months archived again and equal to a recomputation), site admins only, each
call on the audit trail."""
from datetime import timedelta

import pytest
from django.test import Client

from analytics.models import Action, Conversion, MediaPlay, Visit
from analytics.reports import archive, definitions, service
from analytics.reports.periods import Period
from farm.tenancy import in_tenant
from instances.models import DataSubjectAudit, Membership, Role
from instances.tokens import token_create
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, BOB, DAY, call_api, is_error, make_traffic
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
TABLES = {"log_visit", "log_link_visit_action", "log_conversion", "log_media"}


@pytest.fixture
def site():
    instance = make_instance("gdpr", state="publie")
    make_traffic(instance)  # Alice: two visits with an event, a video, a goal and an order; Bob; Carol; Dan now
    store(instance, [hit(instance, DAY + timedelta(minutes=14), url="https://s.example/account", action_name="Account",
                         _id=BOB, uid="bob-42")])
    return instance


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


def _visits(site, visitor: str) -> list[int]:
    with in_tenant(site):
        return list(Visit.objects.filter(visitor_id=visitor).order_by("id").values_list("id", flat=True))


def _as_param(site, ids: list[int]) -> dict:
    params = {}
    for n, visit in enumerate(ids):
        params |= {f"visits[{n}][idsite]": site.pk, f"visits[{n}][idvisit]": visit}
    return params


def test_find_by_user_id_or_visitor_id_answers_matomo_columns(client, site, token):
    status, rows = call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk,
                            segment="userId==bob-42")
    assert status == 200 and [row["userId"] for row in rows] == ["bob-42"]  # NB: his visitor id then comes from it
    assert {"idVisit", "idSite", "siteName", "visitorId", "userId", "lastActionDateTime", "deviceType", "browser",
            "country"} <= set(rows[0]) and "actionDetails" not in rows[0]
    status, rows = call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk,
                            segment=f"visitorId=={ALICE}")
    assert status == 200 and sorted(row["idVisit"] for row in rows) == _visits(site, ALICE)
    answer = call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk)
    assert is_error(answer) and "segment" in answer[1]["message"]
    answer = call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk,
                      segment="nosuchThing==1")
    assert is_error(answer) and "nosuchThing" in answer[1]["message"]


def test_an_export_holds_every_row_of_the_person_and_nothing_of_others(client, site, token):
    alice = _visits(site, ALICE)
    status, export = call_api(client, token_auth=token, method="PrivacyManager.exportDataSubjects",
                              **_as_param(site, alice))
    assert status == 200 and set(export) == TABLES
    assert sorted(row["id"] for row in export["log_visit"]) == alice
    assert {row["visitor_id"] for row in export["log_visit"]} == {ALICE}
    with in_tenant(site):
        theirs = {"log_link_visit_action": Action, "log_conversion": Conversion, "log_media": MediaPlay}
        for table, model in theirs.items():
            expected = sorted(model.objects.filter(visit_id__in=alice).values_list("id", flat=True))
            assert sorted(row["id"] for row in export[table]) == expected and expected, table
            assert {row["visit_id"] for row in export[table]} <= set(alice), table
    assert all(row["idsite"] == site.pk for rows in export.values() for row in rows)
    assert "honey" in str(export["log_visit"])  # the search keyword of her referrer: hers, exported
    answer = call_api(client, token_auth=token, method="PrivacyManager.exportDataSubjects")
    assert is_error(answer) and "visits[0][idsite]" in answer[1]["message"]
    answer = call_api(client, token_auth=token, method="PrivacyManager.exportDataSubjects",
                      **{"visits[0][idsite]": site.pk})
    assert is_error(answer) and "idvisit" in answer[1]["message"]
    for bad in ("²", "1" * 19, "-1"):
        answer = call_api(client, token_auth=token, method="PrivacyManager.exportDataSubjects",
                          **{"visits[0][idsite]": site.pk, "visits[0][idvisit]": bad})
        assert is_error(answer) and "whole number" in answer[1]["message"], bad
    many = _as_param(site, list(range(1, 403)))
    answer = call_api(client, token_auth=token, post={}, method="PrivacyManager.deleteDataSubjects", **many)
    assert is_error(answer) and "At most 401 visits" in answer[1]["message"] and _visits(site, ALICE)


def test_a_deletion_leaves_no_row_and_archives_the_days_again(client, site, token):
    day = Period.of("day", DAY.date())
    with in_tenant(site):
        archive.archive_range(DAY.date(), DAY.date())
        before = service.report("VisitsSummary.get", day)
    alice = _visits(site, ALICE)
    status, deleted = call_api(client, token_auth=token, post={}, method="PrivacyManager.deleteDataSubjects",
                               **_as_param(site, alice))
    assert status == 200 and list(deleted) == ["log_visit", "log_media", "log_link_visit_action", "log_conversion"]
    assert deleted["log_visit"] == 2 and deleted["log_conversion"] == 2 and deleted["log_media"] == 1
    with in_tenant(site):
        assert not Visit.objects.filter(visitor_id=ALICE).exists()
        for model in (Action, Conversion, MediaPlay):
            assert not model.objects.filter(visit_id__in=alice).exists(), model
        after = service.report("VisitsSummary.get", day)  # read from the archive, not rebuilt by the read
        fresh = definitions.compute_day(DAY.date(), "UTC").reports
        assert after["nb_visits"] == before["nb_visits"] - 2 == fresh["VisitsSummary.get"][0]["nb_visits"]
        assert after["nb_uniq_visitors"] == before["nb_uniq_visitors"] - 1
        pages = {row["label"] for row in service.report("Actions.getPageUrls", day)}
        assert not any("blog" in label for label in pages)  # only Alice read the blog
        assert service.report("Goals.get", day)["nb_conversions"] == 0
        week = service.report("VisitsSummary.get", Period.of("week", DAY.date()))
        assert week["nb_visits"] == after["nb_visits"]
    assert call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk,
                    segment=f"visitorId=={ALICE}") == (200, [])


def test_only_site_admins_use_them_and_each_use_is_on_the_audit_trail(client, site, token):
    viewer, other = make_user("viewer"), make_instance("gdpr-other", state="publie")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    viewer_token, stranger_token = token_create(user=viewer)[1], token_create(user=other.owner)[1]
    alice = _as_param(site, _visits(site, ALICE))
    for who in (viewer_token, stranger_token):
        for method, params in (("findDataSubjects", {"idSite": site.pk, "segment": "visitCount>=1"}),
                               ("exportDataSubjects", alice), ("deleteDataSubjects", alice)):
            status, body = call_api(client, token_auth=who, method=f"PrivacyManager.{method}", **params)
            assert status == 401, (method, body)
            assert "'admin' access" in body["message"] or "'view' access" in body["message"], (method, body)
    assert _visits(site, ALICE) and not DataSubjectAudit.objects.exists()
    session = Client()
    session.force_login(site.owner)
    status, body = call_api(session, method="PrivacyManager.deleteDataSubjects", **alice)
    assert status == 403 and "POST" in body["message"]  # a signed-in browser's GET never deletes
    call_api(client, token_auth=token, method="PrivacyManager.findDataSubjects", idSite=site.pk,
             segment="userId==bob-42")
    call_api(client, token_auth=token, method="PrivacyManager.exportDataSubjects", **alice)
    call_api(client, token_auth=token, post={}, method="PrivacyManager.deleteDataSubjects", **alice)
    trail = list(DataSubjectAudit.objects.order_by("id").values_list("action", "visits", "login", "instance_id"))
    assert trail == [("find", 1, site.owner.username, site.pk), ("export", 2, site.owner.username, site.pk),
                     ("delete", 2, site.owner.username, site.pk)]
    assert DataSubjectAudit.objects.get(action="find").detail == {"segment": "userId==…"}  # what, not whom
    assert DataSubjectAudit.objects.get(action="delete").detail["rows"]["log_visit"] == 2
    admin = Client()
    admin.force_login(make_user("root", superuser=True))
    page = admin.get("/admin/instances/datasubjectaudit/", HTTP_HOST="localhost")
    assert page.status_code == 200 and site.owner.username in page.content.decode()
