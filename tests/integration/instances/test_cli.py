"""The `instance` and `create_token` commands: same services, clear messages, non-zero exits."""
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from instances.models import Instance, Status
from instances.tokens import token_user
from tests.conftest import _test_database_url
from tests.factories import make_instance, make_user

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_request_then_list_as_json():
    make_user("carol")
    assert "requested" in run("instance", "request", "carols", "--name", "Carol's", "--owner", "carol")
    rows = json.loads(run("instance", "list", "--json"))
    assert rows == [{"slug": "carols", "idsite": Instance.objects.get(slug="carols").pk, "name": "Carol's",
                     "status": "prepa", "schema_state": "none", "domains": []}]
    assert json.loads(run("instance", "list", "--status", "publie", "--json")) == []


def test_each_lifecycle_command_moves_the_site():
    make_instance("cli-site")
    run("instance", "validate", "cli-site")
    assert Instance.objects.get(slug="cli-site").status == Status.PUBLIE
    run("instance", "deactivate", "cli-site", "--reason", "maintenance")
    run("instance", "reactivate", "cli-site")
    run("instance", "deactivate", "cli-site", "--reason", "closing")
    run("instance", "delete", "cli-site")
    assert Instance.objects.get(slug="cli-site").deletion_due_at is not None
    assert "(desactive)" in run("instance", "purge", "cli-site")
    assert Instance.objects.get(slug="cli-site").purged_at is not None


def test_refuse_needs_a_reason_and_records_it():
    make_instance("refuse-me")
    run("instance", "refuse", "refuse-me", "--reason", "not a farm site")
    assert Instance.objects.get(slug="refuse-me").status_changes.last().reason == "not a farm site"


@pytest.mark.parametrize("args, message", [
    (("instance", "validate", "ghost"), "No site has the slug “ghost”"),
    (("instance", "reactivate", "live-one"), "Cannot reactivate “live-one”: it is validated."),
    (("instance", "purge", "live-one"), "Cannot purge “live-one”"),
    (("instance", "request", "bad slug", "--name", "x", "--owner", "dave"), "not a valid address"),
    (("instance", "request", "fine-slug", "--name", "x", "--owner", "nobody"), "No user is called “nobody”"),
    (("create_token", "nobody"), "No active user is called “nobody”"),
])
def test_refusals_are_clear_command_errors(args, message):
    make_user("dave")
    make_instance("live-one", state="publie")
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_create_token_prints_a_working_token():
    user = make_user("robot")
    raw = run("create_token", "robot", "--description", "deploy bot").strip()
    assert token_user(raw) == user


@pytest.mark.django_db(transaction=True)
def test_the_farm_command_exits_non_zero_with_a_message_for_an_unknown_slug():
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    result = subprocess.run([sys.executable, "-m", "farm.cli", "instance", "deactivate", "ghost", "--reason", "x"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "No site has the slug “ghost”" in result.stderr
    assert "Traceback" not in result.stderr


def test_cron_url_set_show_change_and_clear_from_the_command_line(settings):
    from farm.cron.models import ScheduledTask
    from instances.site_cron import TASK_NAME

    site = make_instance("cli-cron", state="publie")
    out = run("instance", "cron-url", "cli-cron", "http://127.0.0.1:8080/spip.php?action=cron", "--every", "5")
    assert out.strip() == "cli-cron: http://127.0.0.1:8080/spip.php?action=cron called every 5 minutes"
    task = ScheduledTask.objects.get(instance=site, name=TASK_NAME)
    assert (task.period, task.every) == ("minutes", 5)
    assert "called every 15 minutes" in run("instance", "cron-url", "cli-cron", "--every", "15")
    assert "called every 15 minutes" in run("instance", "cron-url", "cli-cron")
    assert run("instance", "cron-url", "cli-cron", "--clear").strip() == "cli-cron: no cron URL"
    assert not ScheduledTask.objects.filter(instance=site, name=TASK_NAME).exists()


@pytest.mark.parametrize("args,message", [
    (["http://10.0.0.8/cron"], "a private or reserved address"),
    (["ftp://127.0.0.1/cron"], "Only http:// and https:// URLs"),
    (["http://127.0.0.1/", "--clear"], "Give a URL or --clear, not both."),
    (["--every", "5"], "has no cron URL; give one before --every"),
])
def test_cron_url_refusals_are_command_errors(args, message):
    make_instance("cli-refused", state="publie")
    with pytest.raises(CommandError, match=message):
        run("instance", "cron-url", "cli-refused", *args)


def test_cron_url_with_a_bad_every_exits_non_zero_with_a_message():
    proc = subprocess.run([sys.executable, "manage.py", "instance", "cron-url", "x", "http://127.0.0.1/", "--every",
                           "7"], capture_output=True, text=True, env={**os.environ, "DATABASE_URL": _test_database_url()})
    assert proc.returncode == 2 and "invalid choice: 7" in proc.stderr
