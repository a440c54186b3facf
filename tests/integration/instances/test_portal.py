"""The portal and the admin console through HTTP: forms, errors, permissions, tokens, single sign-on."""
import re
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core import mail

from instances.models import ApiToken, Instance, Membership, Status
from instances.tokens import token_user
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


def test_signing_up_logs_the_person_in_and_leads_to_the_request_form(client):
    response = client.post("/accounts/signup/", {
        "username": "newbie", "email": "newbie@example.org",
        "password1": "correct-horse-battery", "password2": "correct-horse-battery",
    }, **PORTAL)
    assert response.status_code == 302 and response["Location"] == "/sites/request/"
    assert client.get("/sites/", **PORTAL).status_code == 200


def test_requesting_a_site_through_the_form(client):
    client.force_login(make_user("req"))
    response = client.post("/sites/request/", {"name": "My site", "slug": "my-site", "timezone": "Europe/Paris",
                                               "main_url": "", "purpose": "a club"}, **PORTAL)
    assert response.status_code == 302
    instance = Instance.objects.get(slug="my-site")
    assert (instance.status, instance.timezone, instance.owner.username) == (Status.PREPA, "Europe/Paris", "req")
    page = client.get("/sites/", **PORTAL).content.decode()
    assert "my-site" in page and "requested" in page


@pytest.mark.parametrize("slug, message", [
    ("Not A Slug", "not a valid address"),
    ("admin", "is reserved"),
    ("taken", "already taken"),
])
def test_the_request_form_explains_a_bad_slug(client, slug, message):
    make_instance("taken")
    client.force_login(make_user())
    response = client.post("/sites/request/", {"name": "x", "slug": slug, "timezone": "UTC"}, **PORTAL)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_request_form_refuses_an_unknown_timezone(client):
    client.force_login(make_user())
    response = client.post("/sites/request/", {"name": "x", "slug": "tz-site", "timezone": "Mars/Olympus"}, **PORTAL)
    assert response.status_code == 400
    assert not Instance.objects.filter(slug="tz-site").exists()


def test_the_portal_pages_need_a_login(client):
    for path in ("/sites/", "/sites/request/", "/tokens/"):
        response = client.get(path, **PORTAL)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_forged_admin_action_by_a_non_staff_user_changes_nothing(client):
    instance = make_instance("forged")
    client.force_login(make_user("mallory"))
    response = client.post("/admin/instances/instance/", {"action": "validate", ACTION_CHECKBOX_NAME: [instance.pk]},
                           **PORTAL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    instance.refresh_from_db()
    assert instance.status == Status.PREPA


def test_an_admin_validates_from_the_admin_list_and_refuses_with_a_reason(client, django_capture_on_commit_callbacks):
    admin = make_user("boss", superuser=True)
    to_validate, to_refuse = make_instance("yes-site"), make_instance("no-site")
    client.force_login(admin)
    index = client.get("/admin/", **PORTAL).content.decode()
    assert "2 site requests await a decision" in index

    with django_capture_on_commit_callbacks():
        response = client.post("/admin/instances/instance/",
                               {"action": "validate", ACTION_CHECKBOX_NAME: [to_validate.pk]}, **PORTAL)
    assert response.status_code == 302
    to_validate.refresh_from_db()
    assert to_validate.status == Status.PUBLIE

    form = client.post("/admin/instances/instance/", {"action": "refuse", ACTION_CHECKBOX_NAME: [to_refuse.pk]},
                       **PORTAL)
    assert form.status_code == 200 and b'name="reason"' in form.content  # asks for the reason first
    client.post("/admin/instances/instance/", {"action": "refuse", ACTION_CHECKBOX_NAME: [to_refuse.pk],
                                               "apply": "1", "reason": "duplicate of yes-site"}, **PORTAL)
    to_refuse.refresh_from_db()
    assert to_refuse.status == Status.DESACTIVE
    assert to_refuse.status_changes.last().reason == "duplicate of yes-site"


def test_an_admin_action_that_does_not_apply_says_why(client):
    client.force_login(make_user("boss", superuser=True))
    live = make_instance("already-live", state="publie")
    response = client.post("/admin/instances/instance/", {"action": "validate", ACTION_CHECKBOX_NAME: [live.pk]},
                           follow=True, **PORTAL)
    assert "Cannot validate “already-live”: it is validated." in response.content.decode()


def test_the_admin_change_page_shows_the_audit_trail_and_provisioning_error(client):
    client.force_login(make_user("boss", superuser=True))
    instance = make_instance("audited", state="desactive")
    Instance.objects.filter(pk=instance.pk).update(provisioning_error="boom: disk full")
    page = client.get(f"/admin/instances/instance/{instance.pk}/change/", **PORTAL).content.decode()
    assert "audit trail" in page.lower() and "boom: disk full" in page
    assert page.count("deactivated") >= 1


def test_tokens_are_shown_once_stored_hashed_and_revocable(client):
    user = make_user("automator")
    client.force_login(user)
    page = client.post("/tokens/", {"create": "1", "description": "CI"}, **PORTAL).content.decode()
    raw = re.search(r'id="new-token">(farm_[0-9a-f]+)<', page).group(1)
    token = ApiToken.objects.get(user=user)
    assert raw not in token.key_hash and token.description == "CI"
    assert token_user(raw) == user
    assert raw not in client.get("/tokens/", **PORTAL).content.decode()  # shown once
    client.post("/tokens/", {"revoke": str(token.pk)}, **PORTAL)
    assert token_user(raw) is None
    assert client.post("/tokens/", {"revoke": "nonsense"}, **PORTAL).status_code == 400


def test_someone_cannot_revoke_another_persons_token(client):
    from instances.tokens import token_create

    victim_token, raw = token_create(user=make_user("victim"))
    client.force_login(make_user("attacker"))
    assert client.post("/tokens/", {"revoke": str(victim_token.pk)}, **PORTAL).status_code == 400
    assert token_user(raw) is not None


def test_a_site_admin_adds_and_removes_members_and_a_viewer_cannot(client):
    instance = make_instance("team", state="publie")
    viewer = make_user("viewer")
    client.force_login(instance.owner)
    client.post("/sites/team/members/", {"who": "viewer", "role": "view"}, **PORTAL)
    assert Membership.objects.get(instance=instance, user=viewer).role == "view"
    response = client.post("/sites/team/members/", {"who": "ghost", "role": "view"}, **PORTAL)
    assert response.status_code == 400 and "enter their email address" in response.content.decode()

    client.force_login(viewer)
    assert instance.pk in [i.pk for i in Instance.objects.filter(memberships__user=viewer)]
    response = client.post("/sites/team/members/", {"who": "someone", "role": "admin"}, **PORTAL)
    assert response.status_code == 403 and "Only the site" in response.content.decode()
    assert "team" in client.get("/sites/", **PORTAL).content.decode()

    client.force_login(instance.owner)
    client.post("/sites/team/members/", {"remove": str(viewer.pk)}, **PORTAL)
    assert not Membership.objects.filter(instance=instance).exists()


def sso_accept_path(portal_client, site_client, host: str, path: str = "/") -> str:
    """The browser's hops: the site sends it to the portal with the site's sign-in state (a cookie
    of the site's host), the portal answers with the site's /sso/accept/ link; returns its path."""
    to_portal = site_client.get(path, HTTP_HOST=host)
    assert to_portal.status_code == 302 and "farm_sso_state" in to_portal.cookies
    start = urlsplit(to_portal["Location"])
    assert start.path == "/sso/start/" and "state=" in start.query
    to_site = portal_client.get(f"{start.path}?{start.query}", **PORTAL)
    assert to_site.status_code == 302 and to_site["Location"].startswith(f"http://{host}/sso/accept/?ticket=")
    return to_site["Location"].split(host, 1)[1]


def test_single_sign_on_carries_a_portal_login_to_the_site_once(client):
    instance = make_instance("sso", state="publie")
    client.force_login(instance.owner)
    site_client = client_class_for(client)
    path = sso_accept_path(client, site_client, "sso.localhost", "/reports/devices/?period=week")

    landed = site_client.get(path, HTTP_HOST="sso.localhost")
    assert landed.status_code == 302 and landed["Location"] == "/reports/devices/?period=week"
    assert landed.cookies["farm_sso_state"].value == ""  # the state is spent with the ticket
    assert site_client.get("/", HTTP_HOST="sso.localhost").status_code == 200
    replay = client_class_for(client).get(path, HTTP_HOST="sso.localhost")
    assert replay.status_code == 400


def test_a_ticket_made_for_one_browser_does_not_sign_in_another(client):
    """Login CSRF: an attacker makes a ticket for their own account and has a victim's browser open it."""
    make_instance("target", state="publie", owner=make_user("mallory"))
    client.force_login(get_user_model().objects.get(username="mallory"))
    path = sso_accept_path(client, client_class_for(client), "target.localhost")

    victim = client_class_for(client)
    response = victim.get(path, HTTP_HOST="target.localhost")
    assert response.status_code == 400 and b"not started in this browser" in response.content
    victim.get("/tasks/", HTTP_HOST="target.localhost")  # the victim starts a sign-in of their own: a state
    response = victim.get(path, HTTP_HOST="target.localhost")
    assert response.status_code == 400 and b"not started in this browser" in response.content
    assert victim.get("/", HTTP_HOST="target.localhost").status_code == 302  # still signed out


def test_the_portal_sends_a_link_without_a_state_to_the_site_to_start_there(client):
    instance = make_instance("nostate", state="publie")
    client.force_login(instance.owner)
    response = client.get("/sso/start/", {"next": "http://nostate.localhost/tasks/"}, **PORTAL)
    assert response.status_code == 302 and response["Location"] == "http://nostate.localhost/tasks/"


def test_a_ticket_for_one_site_does_not_open_another(client):
    first = make_instance("first", state="publie")
    make_instance("second", state="publie", owner=first.owner)
    client.force_login(first.owner)
    site_client = client_class_for(client)
    path = sso_accept_path(client, site_client, "first.localhost")
    response = site_client.get(path, HTTP_HOST="second.localhost")
    assert response.status_code == 400 and b"another site" in response.content


def test_sso_refuses_unknown_sites_and_people_without_a_role(client):
    make_instance("closed", state="publie")
    client.force_login(make_user("outsider"))
    assert client.get("/sso/start/", {"next": "http://closed.localhost/"}, **PORTAL).status_code == 403
    assert client.get("/sso/start/", {"next": "http://evil.example/"}, **PORTAL).status_code == 400
    assert client.get("/sso/start/", {"next": "javascript:alert(1)"}, **PORTAL).status_code == 400


def test_healthz_reports_database_redis_and_workers(client):
    body = client.get("/healthz", **PORTAL).json()
    assert body["database"] == "ok" and body["redis"] == "ok" and body["status"] == "ok"
    assert isinstance(body["celery_workers"], int)
    assert "super_cron_last_tick_age_seconds" in body  # its values are tested with the cron


def test_the_portal_speaks_french(client):
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="fr", **PORTAL).content.decode()
    assert "Se connecter" in page


def test_validation_email_names_the_sites_address(django_capture_on_commit_callbacks):
    from instances import services

    instance = make_instance("mailed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):
        services.instance_validate(instance=instance, by=None)
    from instances.notifications import notify_owner
    notify_owner(instance, action="validate")
    assert "https://mailed.localhost/" in mail.outbox[0].body


def client_class_for(client):
    """A fresh client with no cookies: the site's host has its own session."""
    return type(client)()


def test_password_reset_sends_a_working_link(client):
    make_user("forgetful", email="forgetful@example.org")
    response = client.post("/accounts/password_reset/", {"email": "forgetful@example.org"}, **PORTAL)
    assert response.status_code == 302
    link = re.search(r"http://localhost(/accounts/reset/\S+/)", mail.outbox[-1].body).group(1)
    form_page = client.get(link, follow=True, **PORTAL)
    assert form_page.status_code == 200 and b"new_password1" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "brand-new-Secret9",
                                                         "new_password2": "brand-new-Secret9"}, **PORTAL)
    assert done.status_code == 302
    signed_in = client.post("/accounts/login/", {"username": "forgetful", "password": "brand-new-Secret9"}, **PORTAL)
    assert signed_in.status_code == 302 and "_auth_user_id" in client.session


@pytest.mark.parametrize("target", [
    "http://sso2.localhost:80@evil.example/",
    "http://evil.example/?x=sso2.localhost",
    "http://sso2.localhost:notaport/",
])
def test_sso_never_sends_a_ticket_to_another_host(client, target):
    instance = make_instance("sso2", state="publie")
    client.force_login(instance.owner)
    response = client.get("/sso/start/", {"next": target}, **PORTAL)
    assert response.status_code == 400


def test_non_ascii_digits_in_ids_are_a_400_not_a_500(client):
    instance = make_instance("digits", state="publie")
    client.force_login(instance.owner)
    assert client.post("/tokens/", {"revoke": "²"}, **PORTAL).status_code == 400
    assert client.post("/sites/digits/members/", {"remove": "²"}, **PORTAL).status_code == 400
