"""Adding site members: by username at once, by email only through an invitation that the mailbox's
owner accepts (an unverified email address never hands over a role)."""
import re
import time
from urllib.parse import quote

import pytest
from django.core import mail, signing

from instances.models import Membership
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}


def invite(client, instance, email, role="view"):
    mail.outbox.clear()
    response = client.post(f"/sites/{instance.slug}/members/", {"who": email, "role": role}, **PORTAL)
    assert response.status_code == 302
    return re.search(r"http://localhost(/invitations/\S+/)", mail.outbox[-1].body).group(1)


def test_adding_by_the_email_of_another_account_grants_nothing_but_sends_an_invitation(client):
    instance = make_instance("secret", state="publie")
    squatter = make_user("squatter", email="alice@example.org")  # registered Alice's address first
    make_user("alice@example.org", email="mallory@example.org")  # and an account *named* like it
    client.force_login(instance.owner)

    invite(client, instance, "alice@example.org", role="admin")

    assert not Membership.objects.filter(instance=instance).exists()
    assert mail.outbox[-1].to == ["alice@example.org"] and "Secret" in mail.outbox[-1].subject
    assert "admin" in mail.outbox[-1].body and "7 days" in mail.outbox[-1].body
    page = client.get(f"/sites/{instance.slug}/members/", **PORTAL).content.decode()
    assert "Invitation sent to alice@example.org" in page and squatter.username not in page


def test_accepting_the_link_as_a_logged_in_person_grants_the_role_once(client):
    instance = make_instance("welcome", state="publie")
    client.force_login(instance.owner)
    path = invite(client, instance, "bob@example.org", role="write")

    bob = make_user("bob", email="bob@elsewhere.example")  # any account of the mailbox's owner
    client.force_login(bob)
    page = client.get(path, **PORTAL).content.decode()
    assert "bob@example.org" in page and "Welcome" in page and 'id="accept-invitation"' in page
    assert "Accepter l'invitation" in client.get(path, HTTP_ACCEPT_LANGUAGE="fr", **PORTAL).content.decode()
    response = client.post(path, **PORTAL)
    assert response.status_code == 302 and response["Location"] == "/sites/"
    assert Membership.objects.get(instance=instance, user=bob).role == "write"

    client.force_login(make_user("eve"))
    again = client.post(path, **PORTAL)
    assert again.status_code == 400 and "already accepted" in again.content.decode()
    assert not Membership.objects.filter(instance=instance, user__username="eve").exists()


def test_an_invited_person_without_an_account_signs_up_and_comes_back_to_accept(client):
    instance = make_instance("newcomer", state="publie")
    client.force_login(instance.owner)
    path = invite(client, instance, "carol@example.org")
    client.logout()

    page = client.get(path, **PORTAL).content.decode()
    assert f"/accounts/signup/?next={quote(path)}" in page and "accept-invitation" not in page
    response = client.post(f"/accounts/signup/?next={path}", {
        "username": "carol", "email": "carol@example.org", "next": path,
        "password1": "correct-horse-battery", "password2": "correct-horse-battery"}, **PORTAL)
    assert response.status_code == 302 and response["Location"] == path
    client.post(path, **PORTAL)
    assert Membership.objects.get(instance=instance, user__username="carol").role == "view"


@pytest.mark.parametrize("damage", ["tampered", "expired"])
def test_a_tampered_or_expired_link_is_refused_with_a_clear_message(client, settings, damage):
    instance = make_instance(f"{damage}-link", state="publie")
    client.force_login(instance.owner)
    path = invite(client, instance, "dan@example.org", role="view")
    dan = make_user("dan")
    client.force_login(dan)
    if damage == "tampered":
        payload = path.split("/")[2]
        path = f"/invitations/{payload[:-3]}{'abc' if payload[-3:] != 'abc' else 'xyz'}/"
        message = "This invitation link is invalid"
    else:
        settings.FARM_INVITATION_MAX_AGE = 1
        time.sleep(2.1)
        message = "This invitation has expired"
    for response in (client.get(path, **PORTAL), client.post(path, **PORTAL)):
        assert response.status_code == 400 and message in response.content.decode()
    assert not Membership.objects.filter(instance=instance, user=dan).exists()


def test_a_link_forged_with_another_role_or_site_is_refused(client):
    instance = make_instance("forged", state="publie")
    token = signing.dumps({"i": instance.pk, "e": "x@example.org", "r": "admin", "b": instance.owner.pk, "n": "0"},
                          salt="not-the-invitation-salt", compress=True)
    client.force_login(make_user("forger"))
    response = client.post(f"/invitations/{token}/", **PORTAL)
    assert response.status_code == 400 and "invalid" in response.content.decode()
    assert not Membership.objects.filter(instance=instance).exists()


def test_adding_by_username_still_gives_the_role_at_once(client):
    instance = make_instance("byname", state="publie")
    frank = make_user("frank")
    client.force_login(instance.owner)
    mail.outbox.clear()
    response = client.post("/sites/byname/members/", {"who": "frank", "role": "write"}, **PORTAL)
    assert response.status_code == 302 and not mail.outbox
    assert Membership.objects.get(instance=instance, user=frank).role == "write"
    unknown = client.post("/sites/byname/members/", {"who": "ghost", "role": "view"}, **PORTAL)
    assert unknown.status_code == 400 and "enter their email address" in unknown.content.decode()


def test_only_the_sites_admins_can_invite(client):
    instance = make_instance("guarded", state="publie")
    viewer = make_user("viewer2")
    Membership.objects.create(instance=instance, user=viewer, role="view")
    client.force_login(viewer)
    mail.outbox.clear()
    response = client.post("/sites/guarded/members/", {"who": "x@example.org", "role": "admin"}, **PORTAL)
    assert response.status_code == 403 and not mail.outbox
