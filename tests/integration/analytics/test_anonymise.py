"""Anonymising stored rows: a stricter setting on the Settings page (or PrivacyManager.anonymizeSomeRawData
for a day range) is applied by the site's task to the rows stored before it; every affected column
changes and nothing else does; rows stored after it are left alone; a run stopped halfway resumes
without applying a change twice; progress is recorded for the Settings page."""
import hashlib
from datetime import datetime, time, timedelta, timezone

import pytest
from django.forms.models import model_to_dict

from analytics.models import Action, Conversion, Visit
from analytics.privacy.anonymise import anonymisations_run
from analytics.tracking.country import country_of
from farm.cron.models import ScheduledTask
from farm.tenancy import in_tenant
from instances.models import Anonymisation, Instance, Membership, Role
from instances.privacy import order_code, user_pseudonym
from instances.tokens import token_create
from tests.factories import make_instance, make_user, run_task_now
from tests.integration.analytics.api_traffic import call_api, is_error
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
HOST = "private-past.localhost"
DAY = datetime.now(timezone.utc).date() - timedelta(days=3)
OTHER_DAY = DAY - timedelta(days=1)


def entry(site, day, minute, ip, **params):
    one = hit(site, datetime.combine(day, time(10, minute), timezone.utc), **params)
    one["ip"] = ip  # stored as the door kept it: a site that kept whole addresses until now
    return one


@pytest.fixture
def site():
    instance = make_instance("private-past", state="publie")
    store(instance, [
        entry(instance, DAY, 0, "198.51.100.23", uid="alice@example.org", action_name="Home", res="1920x1080",
              urlref="https://www.google.com/search?q=honey&client=x"),
        entry(instance, DAY, 1, "198.51.100.23", uid="alice@example.org", idgoal=0, ec_id="A-1", revenue=30),
        entry(instance, DAY, 5, "2001:db8:1234:5678::9", _id="b" * 16, action_name="Blog", res="390x844",
              urlref="https://blog.example.net/post/1?from=feed"),
        entry(instance, OTHER_DAY, 0, "203.0.113.77", _id="c" * 16, action_name="Old", res="1280x720",
              urlref="https://news.example/item?id=9"),
    ])
    return instance


def rows(site) -> dict:
    with in_tenant(site):
        return {model.__name__: {row.pk: model_to_dict(row) for row in model.objects.all()}
                for model in (Visit, Action, Conversion)}


def changes(before: dict, after: dict) -> dict:
    """{(table, id, column): (old, new)} for every value that changed."""
    return {(table, pk, column): (row[column], after[table][pk][column])
            for table, table_rows in before.items() for pk, row in table_rows.items()
            for column in row if row[column] != after[table][pk][column]}


def run_task(site):
    run_task_now(ScheduledTask.objects.get(instance=site, name="analytics.privacy.tasks.anonymise_stored_rows"))


def save_settings(client, site, capture, **fields):
    current = Instance.objects.get(pk=site.pk)
    form = {k: v for k, v in model_to_dict(current).items() if v is not None and not isinstance(v, bool)}
    form |= {k: "on" for k, v in model_to_dict(current).items() if v is True}
    with capture(execute=True):  # committed: the site's task is turned on and run (a forced run queued)
        response = client.post("/settings/", {**form, **fields}, HTTP_HOST=HOST)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_stricter_settings_change_every_affected_column_and_nothing_else(client, site,
                                                                       django_capture_on_commit_callbacks):
    client.force_login(site.owner)
    before = rows(site)
    save_settings(client, site, django_capture_on_commit_callbacks, ip_mask_bytes="3", pseudonymise_user_ids="on", referrer_anonymisation="path",
                  order_ids="short")
    job = Anonymisation.objects.get(instance=site)
    assert (job.ip_mask_bytes, job.relocate, job.pseudonymise_user_ids, job.referrer_anonymisation, job.order_ids,
            job.requested_by, job.state) == (3, False, True, "path", "short", site.owner, "scheduled")
    run_task(site)
    after = rows(site)
    with in_tenant(site):
        alice = Visit.objects.get(user_id=user_pseudonym("alice@example.org", site_id=site.pk))
        blog = Visit.objects.get(visitor_id="b" * 16)
        old = Visit.objects.get(visitor_id="c" * 16)
        order = Conversion.objects.get()
    pseudonym = user_pseudonym("alice@example.org", site_id=site.pk)
    alice_before = before["Visit"][alice.pk]
    assert changes(before, after) == {
        ("Visit", alice.pk, "ip"): ("198.51.100.23", "198.0.0.0"),
        ("Visit", alice.pk, "user_id"): ("alice@example.org", pseudonym),
        ("Visit", alice.pk, "visitor_id"): (alice_before["visitor_id"], hashlib.sha1(pseudonym.encode()).hexdigest()[:16]),
        ("Visit", alice.pk, "referrer_url"): ("https://www.google.com/search?q=honey&client=x", "https://www.google.com/"),
        ("Visit", blog.pk, "ip"): ("2001:db8:1234:5678::9", "2001:db8::"),
        ("Visit", blog.pk, "referrer_url"): ("https://blog.example.net/post/1?from=feed", "https://blog.example.net/"),
        ("Visit", old.pk, "ip"): ("203.0.113.77", "203.0.0.0"),
        ("Visit", old.pk, "referrer_url"): ("https://news.example/item?id=9", "https://news.example/"),
        ("Conversion", order.pk, "order_id"): ("A-1", order_code("A-1", site_id=site.pk)),
    }
    job.refresh_from_db()
    assert (job.state, job.visits_total, job.visits_done, job.percent) == ("done", 3, 3, 100)
    assert job.rows_changed == {"visit": 3, "conversion": 1}
    response = client.get("/settings/", HTTP_HOST=HOST)
    assert "user ids pseudonymised" in response.content.decode() and 'value="100"' in response.content.decode()


def test_a_looser_setting_changes_no_stored_row(client, site, django_capture_on_commit_callbacks):
    client.force_login(site.owner)
    save_settings(client, site, django_capture_on_commit_callbacks, ip_mask_bytes="1", referrer_anonymisation="none")
    assert not Anonymisation.objects.exists()


def test_rows_stored_after_the_request_are_left_as_they_were_stored(site):
    job = Anonymisation.objects.create(instance=site, pseudonymise_user_ids=True)
    # NB: asked for the day after the site's traffic, whatever the time of day the test runs at
    Anonymisation.objects.filter(pk=job.pk).update(requested_at=datetime.combine(DAY + timedelta(days=1), time(),
                                                                                 timezone.utc))
    store(site, [entry(site, datetime.now(timezone.utc).date(), 0, "192.0.0.0",
                       uid=user_pseudonym("dora", site_id=site.pk))])  # after the change: pseudonymised at the door
    with in_tenant(site):
        anonymisations_run(site=site)
        assert Visit.objects.filter(user_id=user_pseudonym("dora", site_id=site.pk)).exists()
    job.refresh_from_db()
    assert job.visits_done == 3


def test_a_run_stopped_halfway_resumes_without_hashing_a_pseudonym_twice(site):
    with in_tenant(site):
        first = Visit.objects.order_by("id").first()
        Visit.objects.filter(pk=first.pk).update(user_id="already-done")  # what the stopped run had written
    Anonymisation.objects.create(instance=site, pseudonymise_user_ids=True, state="running", visits_total=3,
                                 visits_done=1, last_visit_id=first.pk)
    with in_tenant(site):
        anonymisations_run(site=site, batch=1)
        assert Visit.objects.get(pk=first.pk).user_id == "already-done"
    job = Anonymisation.objects.get()
    assert (job.state, job.visits_done, job.percent) == ("done", 3, 100)


def test_anonymize_some_raw_data_takes_a_day_range_and_columns_for_admins_only(client, site,
                                                                             django_capture_on_commit_callbacks):
    token = token_create(user=site.owner)[1]
    site.owner.set_password("a-long-Passw0rd")
    site.owner.save()

    def call(**params):
        return call_api(client, post={"token_auth": token}, method="PrivacyManager.anonymizeSomeRawData",
                        **{"idSites": site.pk, "date": f"{DAY},{DAY}", "passwordConfirmation": "a-long-Passw0rd",
                           **params})
    answer = call(anonymizeIp=1, passwordConfirmation="wrong")
    assert is_error(answer) and "password" in answer[1]["message"]
    answer = call(**{"unsetVisitColumns[]": "secret_column"})
    assert is_error(answer) and "secret_column" in answer[1]["message"] and "config_resolution" in answer[1]["message"]
    assert is_error(call(date="last week", anonymizeIp=1)) and is_error(call())  # a bad range; nothing asked
    answer = call(date=f"{DAY},{OTHER_DAY}", anonymizeIp=1)
    assert is_error(answer) and "before it starts" in answer[1]["message"]  # a range backwards
    viewer = make_user("vera")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    answer = call_api(client, post={"token_auth": token_create(user=viewer)[1]},
                      method="PrivacyManager.anonymizeSomeRawData", idSites=site.pk, date=str(DAY), anonymizeIp=1,
                      passwordConfirmation="a-long-Passw0rd")
    assert answer[0] == 401 and "'admin' access" in answer[1]["message"]
    assert not Anonymisation.objects.exists()

    before = rows(site)
    with django_capture_on_commit_callbacks(execute=True):
        status, body = call(anonymizeIp=1, anonymizeLocation=1, **{"unsetVisitColumns[0]": "config_resolution",
                                                                  "unsetLinkVisitActionColumns[0]": "title"})
    assert (status, body) == (200, {"result": "success", "message": "ok"})
    job = Anonymisation.objects.get()
    assert (job.first_day, job.last_day, job.ip_mask_bytes, job.relocate, job.unset_visit_columns,
            job.unset_action_columns) == (DAY, DAY, 2, True, ["resolution"], ["title"])
    run_task(site)
    changed = changes(before, rows(site))
    with in_tenant(site):
        on_day = set(Visit.objects.filter(first_action_at__date=DAY).values_list("id", flat=True))
        actions_on_day = set(Action.objects.filter(visit_id__in=on_day).values_list("id", flat=True))
    assert {pk for table, pk, _c in changed if table == "Visit"} == on_day  # the other day's visit is untouched
    assert {(pk, column) for table, pk, column in changed if table == "Action"} == {
        (pk, "title") for pk in actions_on_day}
    visit_columns = {column for table, _pk, column in changed if table == "Visit"}
    assert visit_columns <= {"ip", "country", "resolution"} and "resolution" in visit_columns
    with in_tenant(site):
        for visit in Visit.objects.filter(id__in=on_day):
            assert visit.ip in ("198.51.0.0", "2001:db8:1234::") and visit.country == country_of(visit.ip)
            assert visit.resolution == ""


def test_a_value_pseudonymised_or_coded_already_is_left_and_a_repeated_order_keeps_one_code(site):
    code = order_code("C-3", site_id=site.pk)
    store(site, [
        entry(site, DAY, 30, "192.0.0.0", uid=user_pseudonym("erin", site_id=site.pk), action_name="Erin"),  # a
        entry(site, DAY, 40, "192.0.0.0", _id="e" * 16, idgoal=0, ec_id="C-3", revenue=9),  # pseudonym already
        entry(site, DAY, 41, "192.0.0.0", _id="e" * 16, idgoal=0, ec_id=code, revenue=9),  # sent again once coded
    ])
    Anonymisation.objects.create(instance=site, pseudonymise_user_ids=True, order_ids="short")
    with in_tenant(site):
        anonymisations_run(site=site)
        assert Visit.objects.filter(user_id=user_pseudonym("erin", site_id=site.pk)).exists()  # not hashed again
        orders = sorted(Conversion.objects.values_list("order_id", flat=True))
    assert orders == sorted(["", code, order_code("A-1", site_id=site.pk)])  # codes are unique: the repeat has none
    assert Anonymisation.objects.get().state == "done"
