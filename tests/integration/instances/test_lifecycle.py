"""The status lifecycle: every allowed and forbidden transition, its audit row and its emails."""
import pytest
from django.core import mail
from django.utils import translation

from instances import services
from instances.errors import InvalidRequest, TransitionNotAllowed
from instances.models import Instance, SchemaState, Status, StatusChange
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db

Action = StatusChange.Action


@pytest.fixture
def admin():
    return make_user("farmadmin", superuser=True)


def actions_of(instance):
    return list(instance.status_changes.values_list("action", "from_status", "to_status"))


def test_requesting_a_site_records_prepa_and_tells_the_farm_admins(admin, django_capture_on_commit_callbacks):
    owner = make_user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        instance = services.instance_request(owner=owner, name="Alice's blog", slug="alice-blog", purpose="a blog")
    assert instance.status == Status.PREPA
    with translation.override("fr"):
        assert instance.get_status_display() == "demandé"
    with translation.override("en"):
        assert instance.get_status_display() == "requested"
    assert instance.schema_state == SchemaState.NONE
    assert instance.schema_name == "alice_blog"
    assert instance.main_url == "https://alice-blog.localhost/"
    assert actions_of(instance) == [(Action.REQUEST, "", Status.PREPA)]
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "alice-blog" in mail.outbox[0].subject


def test_validating_sets_publie_queues_provisioning_and_tells_the_requester(admin, django_capture_on_commit_callbacks):
    instance = make_instance("valid")
    with django_capture_on_commit_callbacks() as callbacks:
        instance = services.instance_validate(instance=instance, by=admin)
    assert instance.status == Status.PUBLIE
    with translation.override("fr"):
        assert instance.get_status_display() == "validé"
    assert instance.schema_state == SchemaState.PROVISIONING
    assert instance.validated_at is not None
    change = instance.status_changes.last()
    assert (change.action, change.from_status, change.to_status, change.by) == (Action.VALIDATE, "prepa", "publie", admin)
    queued = {cb.__qualname__.split(".")[0] for cb in callbacks}
    assert {"_queue_provisioning", "_notify_owner"} <= queued  # the provisioning task and the email


def test_refusing_keeps_the_request_on_record_with_its_reason(admin, django_capture_on_commit_callbacks):
    instance = make_instance("refused")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        instance = services.instance_refuse(instance=instance, by=admin, reason="refused: spam")
    assert instance.status == Status.DESACTIVE
    assert instance.schema_state == SchemaState.NONE
    assert Instance.objects.filter(slug="refused").exists()
    assert instance.status_changes.last().reason == "refused: spam"
    assert mail.outbox[0].to == [instance.owner.email]
    assert "refused: spam" in mail.outbox[0].body


def test_deactivating_and_reactivating_a_live_site(admin, django_capture_on_commit_callbacks):
    instance = make_instance("live", state="publie")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        instance = services.instance_deactivate(instance=instance, by=admin, reason="abuse report")
        assert instance.status == Status.DESACTIVE
        assert instance.schema_state == SchemaState.READY  # data kept
        instance = services.instance_reactivate(instance=instance, by=admin)
    assert instance.status == Status.PUBLIE
    assert instance.schema_state == SchemaState.READY  # nothing to provision again
    assert [a for a, _f, _t in actions_of(instance)][-2:] == [Action.DEACTIVATE, Action.REACTIVATE]
    assert ["deactivated" in m.subject for m in mail.outbox] == [True, False]
    assert "reactivated" in mail.outbox[1].subject


@pytest.mark.parametrize(
    "state, service, kwargs",
    [
        ("prepa", services.instance_deactivate, {"reason": "x"}),
        ("prepa", services.instance_reactivate, {}),
        ("prepa", services.instance_schedule_deletion, {}),
        ("prepa", services.instance_purge, {}),
        ("publie", services.instance_validate, {}),
        ("publie", services.instance_refuse, {"reason": "x"}),
        ("publie", services.instance_reactivate, {}),
        ("publie", services.instance_schedule_deletion, {}),
        ("publie", services.instance_purge, {}),
        ("desactive", services.instance_validate, {}),
        ("desactive", services.instance_refuse, {"reason": "x"}),
        ("desactive", services.instance_deactivate, {"reason": "x"}),
        ("desactive", services.instance_purge, {}),  # not scheduled for deletion yet
    ],
)
def test_forbidden_transitions_are_refused_with_a_clear_message_and_no_audit_row(admin, state, service, kwargs):
    instance = make_instance(f"forbid-{state}", state=state)
    before = instance.status_changes.count()
    with pytest.raises(TransitionNotAllowed) as raised:
        service(instance=instance, by=admin, **kwargs)
    assert instance.slug in str(raised.value)
    instance.refresh_from_db()
    assert instance.status == state
    assert instance.status_changes.count() == before


def test_refusing_or_deactivating_needs_a_reason(admin):
    instance = make_instance("noreason")
    with pytest.raises(InvalidRequest, match="reason is required"):
        services.instance_refuse(instance=instance, by=admin, reason="  ")
    live = make_instance("noreason-live", state="publie")
    with pytest.raises(InvalidRequest, match="reason is required"):
        services.instance_deactivate(instance=live, by=admin, reason="")


@pytest.mark.parametrize("slug, message", [
    ("Bad Slug!", "not a valid address"),
    ("ab", "not a valid address"),
    ("-lead", "not a valid address"),
    ("trail-", "not a valid address"),
    ("two--hyphens", "two hyphens"),
    ("admin", "reserved"),
    ("www", "reserved"),
    ("pg-catalog", "reserved"),
    ("x" * 41, "not a valid address"),
])
def test_invalid_and_reserved_slugs_are_refused(slug, message):
    with pytest.raises(InvalidRequest, match=message):
        services.instance_request(owner=make_user(), name="Name", slug=slug)
    assert not Instance.objects.exists()


def test_a_slug_taken_by_someone_else_is_refused():
    make_instance("taken")
    with pytest.raises(InvalidRequest, match="already taken"):
        services.instance_request(owner=make_user(), name="Mine", slug="taken")
    assert Instance.objects.filter(slug="taken").count() == 1


def test_re_requesting_ones_own_deactivated_site_is_a_reactivation_request_on_the_same_instance(admin):
    instance = make_instance("comeback", state="desactive")
    again = services.instance_request(owner=instance.owner, name="Comeback", slug="comeback", purpose="please")
    assert again.pk == instance.pk
    assert again.status == Status.PREPA
    assert again.schema_state == SchemaState.READY  # its data is kept
    assert again.status_changes.last().action == Action.REACTIVATION_REQUEST
    assert Instance.objects.filter(slug="comeback").count() == 1
    validated = services.instance_validate(instance=again, by=admin)
    assert validated.is_live


def test_re_requesting_a_refused_slug_of_ones_own_goes_back_to_prepa(admin):
    instance = make_instance("second-try")
    services.instance_refuse(instance=instance, by=admin, reason="incomplete")
    again = services.instance_request(owner=instance.owner, name="Second try", slug="second-try")
    assert (again.pk, again.status) == (instance.pk, Status.PREPA)
    with pytest.raises(InvalidRequest, match="already taken"):
        services.instance_request(owner=make_user(), name="Other", slug="second-try")


def test_scheduling_deletion_then_purge_drops_schema_and_domains_but_keeps_the_audit_trail(admin):
    from django_tenants.utils import schema_exists

    instance = make_instance("doomed", state="desactive")
    assert schema_exists("doomed")
    instance = services.instance_schedule_deletion(instance=instance, by=admin)
    assert (instance.deletion_due_at - instance.deactivated_at).days in (29, 30)
    with pytest.raises(TransitionNotAllowed, match="not due"):
        services.instance_purge(instance=instance, by=admin, only_if_due=True)
    assert services.instances_purge_due() == []
    instance = services.instance_purge(instance=instance, by=admin)
    assert not schema_exists("doomed")
    assert not instance.domains.exists()
    assert instance.purged_at is not None and instance.schema_state == SchemaState.NONE
    assert [a for a, _f, _t in actions_of(instance)][-2:] == [Action.SCHEDULE_DELETION, Action.PURGE]


def test_the_periodic_purge_takes_only_sites_past_their_grace_period(admin):
    from datetime import timedelta

    from django.utils import timezone
    from django_tenants.utils import schema_exists

    due = services.instance_schedule_deletion(instance=make_instance("due", state="desactive"), by=admin)
    later = services.instance_schedule_deletion(instance=make_instance("later", state="desactive"), by=admin)
    Instance.objects.filter(pk=due.pk).update(deletion_due_at=timezone.now() - timedelta(minutes=1))
    assert services.instances_purge_due() == ["due"]
    assert not schema_exists("due") and schema_exists("later")
    assert services.instances_purge_due() == []  # already purged, not purged twice
    assert Instance.objects.get(pk=later.pk).purged_at is None


def test_reactivating_cancels_a_scheduled_deletion(admin):
    instance = services.instance_schedule_deletion(instance=make_instance("saved", state="desactive"), by=admin)
    instance = services.instance_reactivate(instance=instance, by=admin)
    assert instance.deletion_due_at is None and instance.is_live


def test_a_slug_whose_schema_already_exists_is_refused():
    for slug in ("information-schema", "tenant-template"):
        with pytest.raises(InvalidRequest, match="reserved"):
            services.instance_request(owner=make_user(), name="x", slug=slug)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "stray_schema"')
    with pytest.raises(InvalidRequest, match="reserved"):
        services.instance_request(owner=make_user(), name="x", slug="stray-schema")


def test_a_purged_site_requested_again_can_be_purged_again(admin):
    instance = services.instance_schedule_deletion(instance=make_instance("twice-gone", state="desactive"), by=admin)
    instance = services.instance_purge(instance=instance, by=admin)
    again = services.instance_request(owner=instance.owner, name="Again", slug="twice-gone")
    assert again.purged_at is None and again.deletion_due_at is None


def test_a_mail_server_failure_does_not_undo_or_break_a_validation(admin, django_capture_on_commit_callbacks,
                                                                    settings):
    settings.EMAIL_BACKEND = "tests.integration.instances.test_lifecycle.BrokenMailBackend"
    instance = make_instance("mailfail")
    with django_capture_on_commit_callbacks(execute=True):
        validated = services.instance_validate(instance=instance, by=admin)
    assert validated.status == Status.PUBLIE


class BrokenMailBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("no SMTP server")
