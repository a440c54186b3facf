"""Bad operator input: every command of the `farm` CLI, given missing, unknown and malformed
arguments, says what is wrong and exits non-zero, never with a traceback.

Short version (make test): every case in this process through farm.cli.main, as the console script
calls it (an uncaught exception fails the case), and a few as real processes. Long version (make
reliability): every case as a real `farm` process, reading its exit status and its stderr.
"""
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from farm import cli
from tests.conftest import _test_database_url
from tests.factories import make_instance, make_user
from tests.reliability.conftest import LONG

pytestmark = pytest.mark.django_db(transaction=True)  # NB: the cases run in processes of their own too
FARM = str(Path(sys.executable).parent / "farm")
LIVE, REQUESTED, OWNER = "orchard", "seedling", "cli-owner"

# (arguments, a few words the message must contain); {live} and {asked} are sites that exist
CASES = [
    ([], "farm up"),
    (["no-such-command"], "Unknown command"),
    (["up", "--bogus"], "farm up takes no argument"),
    (["with-services"], "give a command"),
    # archive_reports
    (["archive_reports"], "one of the arguments --instance --all-instances is required"),
    (["archive_reports", "--instance"], "expected one argument"),
    (["archive_reports", "--instance", "nope"], "No site has the slug"),
    (["archive_reports", "--instance", "{asked}"], "no ready schema"),
    (["archive_reports", "--all-instances", "--from", "2026-02-30"], "dates are YYYY-MM-DD"),
    (["archive_reports", "--all-instances", "--from", "tomorrow"], "dates are YYYY-MM-DD"),
    (["archive_reports", "--all-instances", "--from", "2026-06-10", "--to", "2026-06-01"], "swap --from and --to"),
    (["archive_reports", "--all-instances", "--to", "2026-06-01"], "--to needs --from"),
    (["archive_reports", "--all-instances", "--bogus"], "unrecognized arguments: --bogus"),
    # tracking_dead_letters
    (["tracking_dead_letters", "explode"], "invalid choice"),
    (["tracking_dead_letters", "replay"], "give entry ids"),
    (["tracking_dead_letters", "replay", "not-an-id"], "not-an-id"),
    (["tracking_dead_letters", "discard", "1-1", "--all"], "not both"),
    (["tracking_dead_letters", "list", "--limit", "0"], "--limit must be at least 1"),
    (["tracking_dead_letters", "list", "--limit", "many"], "invalid int value"),
    (["tracking_dead_letters", "list", "--site", "abc"], "invalid int value"),
    # run_scheduled_tasks, tasks_timetable
    (["run_scheduled_tasks", "--instance", "nope"], "No site has the slug"),
    (["run_scheduled_tasks", "--task", "no.such.task"], "No task is registered"),
    (["run_scheduled_tasks", "--farm", "--instance", "{live}"], "not allowed with argument"),
    (["tasks_timetable", "--farm", "--instance", "{live}"], "not allowed with argument"),
    (["run_scheduled_tasks", "--param"], "expected one argument"),
    (["tasks_timetable", "--instance", "nope"], "No site has the slug"),
    (["tasks_timetable", "--bogus"], "unrecognized arguments"),
    # migrate_farm
    (["migrate_farm", "--jobs", "0"], "--jobs must be at least 1"),
    (["migrate_farm", "--jobs", "x"], "invalid int value"),
    (["migrate_farm", "--canary", "-1"], "--canary must be 0 or more"),
    (["migrate_farm", "--log", "/nonexistent-dir/farm.log"], "cannot write the log"),
    # create_token
    (["create_token"], "the following arguments are required: username"),
    (["create_token", "nobody"], "No active user"),
    # instance
    (["instance"], "required: ACTION"),
    (["instance", "list", "--status", "bogus"], "invalid choice"),
    (["instance", "request", "shop"], "the following arguments are required: --name, --owner"),
    (["instance", "request", "shop", "--name", "Shop", "--owner", "nobody"], "No user is called"),
    (["instance", "request", "Bad Slug!", "--name", "Shop", "--owner", OWNER], "address"),
    (["instance", "request", "{live}", "--name", "Shop", "--owner", OWNER], "already taken"),
    (["instance", "request", "shop", "--name", "S" * 300, "--owner", OWNER], "at most 200 characters"),
    (["instance", "request", "shop", "--name", "Shop", "--owner", OWNER, "--url", "not a url"], "Enter a valid URL"),
    (["instance", "validate", "nope"], "No site has the slug"),
    (["instance", "validate", "{asked}", "--timeout", "soon"], "invalid float value"),
    (["instance", "validate", "{live}"], "Cannot validate “{live}”: it is validated"),
    (["instance", "deactivate", "{live}"], "the following arguments are required: --reason"),
    (["instance", "purge", "{live}"], "Cannot purge “{live}”"),
    (["instance", "cron-url", "{live}", "ftp://example.org/cron"], "http"),
    (["instance", "cron-url", "{live}", "--every", "7"], "invalid choice"),
    (["instance", "cron-url", "{live}", "https://example.org/cron", "--clear"], "not both"),
    (["instance", "cron-url", "{live}", "--every", "5"], "has no cron URL"),
]
IN_PROCESS_ALSO_AS_PROCESSES = 4  # the short version's real processes: the first cases of each kind


@pytest.fixture
def sites(transactional_db):
    owner = make_user(OWNER)
    make_instance(LIVE, owner=owner, state="publie")
    make_instance(REQUESTED, owner=owner)


def _argv(args: list[str]) -> list[str]:
    return [arg.format(live=LIVE, asked=REQUESTED) for arg in args]


def _in_process(args: list[str], capsys) -> tuple[int, str]:
    handlers = list(logging.root.handlers)
    try:
        cli.main(args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    finally:  # NB: main's logging.basicConfig writes to this case's captured stderr, closed after it
        logging.root.handlers = handlers
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def _process(args: list[str]) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": settings.REDIS_URL,
           "FARM_CRON_URL_ALLOW": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([FARM, *args], env=env, capture_output=True, text=True, timeout=120,
                          cwd=settings.BASE_DIR)
    return done.returncode, done.stderr + done.stdout


@pytest.mark.parametrize("args,says", CASES, ids=[" ".join(args)[:60] or "(nothing)" for args, _ in CASES])
def test_bad_input_gets_a_message_and_a_non_zero_exit(args, says, transactional_db, request, capsys, settings):
    settings.FARM_CRON_URL_ALLOW = []
    if any(name in " ".join(args) for name in ("{live}", "{asked}", OWNER)):
        request.getfixturevalue("sites")
    argv = _argv(args)
    as_process = LONG or CASES.index((args, says)) % (len(CASES) // IN_PROCESS_ALSO_AS_PROCESSES) == 0
    code, output = _process(argv) if as_process else _in_process(argv, capsys)
    assert code != 0, f"farm {' '.join(argv)} exited 0: {output[-500:]}"
    assert "Traceback" not in output, output[-2000:]
    assert says.format(live=LIVE, asked=REQUESTED) in output, output[-800:]


GOOD = [
    (["instance", "list"], LIVE),
    (["migrate_farm", "--check"], "0 schema(s) with pending migrations"),
    (["tasks_timetable", "--instance", LIVE], "archive_reports"),
    (["tracking_dead_letters", "list"], ""),
    (["instance", "request", "shop", "--name", "Shop", "--owner", OWNER, "--url", "shop.example.org"],
     "shop: requested"),
]


@pytest.mark.parametrize("args,says", GOOD, ids=[" ".join(args)[:60] for args, _ in GOOD])
def test_good_input_still_works(args, says, sites, capsys):
    """The checks above refuse nothing a correct invocation gives (a URL without its scheme is read
    as https, as the request form reads it)."""
    code, output = _in_process(args, capsys)
    assert code == 0 and "Traceback" not in output and says in output, output[-800:]
    if args[:2] == ["instance", "request"]:
        from instances.models import Instance

        assert Instance.objects.get(slug="shop").main_url == "https://shop.example.org"


@pytest.mark.parametrize("args", [["instance", "list"], ["archive_reports", "--all-instances"]],
                         ids=["instance list", "archive_reports"])
def test_a_database_out_of_reach_gets_a_message_not_a_traceback(args):
    """DATABASE_URL naming a loopback port where nothing listens (a stopped PostgreSQL, a typo)."""
    from farm.embedded import _free_port

    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_free_port()}/farm",
           "REDIS_URL": settings.REDIS_URL, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([FARM, *args], env=env, capture_output=True, text=True, timeout=120, cwd=settings.BASE_DIR)
    output = done.stderr + done.stdout
    assert done.returncode == 1 and "Traceback" not in output, output[-2000:]
    assert "farm: the database could not be reached or went away: connection failed" in output, output[-800:]
