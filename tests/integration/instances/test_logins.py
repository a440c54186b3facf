"""Login throttling (django-axes) on the portal's login and the admin's: a username tried too often
from one address is locked out (429 and a page saying so), other addresses are not; a farm admin
unlocks it from the admin; a success forgets earlier failures."""
import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.factories import make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
FROM_A, FROM_B = {"REMOTE_ADDR": "198.51.100.7"}, {"REMOTE_ADDR": "198.51.100.8"}


def log_in(client, username, password, *, path="/accounts/login/", address=FROM_A):
    return client.post(path, {"username": username, "password": password}, **PORTAL, **address)


def test_five_failures_lock_that_user_from_that_address_only(client, settings):
    make_user("target", password="the-right-Passw0rd")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "target", "guess").status_code == 200  # the form again, with its error
    locked = log_in(client, "target", "guess")
    assert locked.status_code == 429 and b"Too many failed logins" in locked.content
    assert b"30 minutes" in locked.content
    assert log_in(client, "target", "the-right-Passw0rd").status_code == 429  # even the right password
    assert "_auth_user_id" not in client.session
    elsewhere = Client()
    assert log_in(elsewhere, "target", "the-right-Passw0rd", address=FROM_B).status_code == 302


def test_the_admin_login_is_throttled_too(client, settings):
    make_user("boss", password="the-right-Passw0rd", superuser=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "boss", "guess", path="/admin/login/")
    assert log_in(client, "boss", "the-right-Passw0rd", path="/admin/login/").status_code == 429


def test_a_farm_admin_unlocks_from_the_admin(client, settings):
    make_user("target", password="the-right-Passw0rd")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, "target", "guess")
    attempt = AccessAttempt.objects.get(username="target", ip_address=FROM_A["REMOTE_ADDR"])
    admin = Client()
    admin.force_login(make_user("farm-admin", superuser=True))
    listed = admin.get("/admin/axes/accessattempt/", **PORTAL)
    assert listed.status_code == 200 and b"target" in listed.content
    unlocked = admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}, **PORTAL)
    assert unlocked.status_code == 302 and not AccessAttempt.objects.exists()
    assert log_in(client, "target", "the-right-Passw0rd").status_code == 302


def test_a_success_forgets_the_failures_before_it(client, settings):
    make_user("typo", password="the-right-Passw0rd")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "typo", "guess")
    assert log_in(client, "typo", "the-right-Passw0rd").status_code == 302
    client.post("/accounts/logout/", **PORTAL)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "typo", "guess")
    assert log_in(client, "typo", "the-right-Passw0rd").status_code == 302
