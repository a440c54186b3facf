"""The dead-letter stream: hits set aside keep their reason, are listed, replayed once the cause is
fixed (stored exactly once), or discarded; the command explains bad arguments."""
import io
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command

from analytics.models import Action
from analytics.tracking import queue
from farm.tenancy import in_tenant
from instances import services
from tests.factories import make_instance
from tests.integration.analytics.test_ingest import hit

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def run(*args) -> str:
    out = io.StringIO()
    call_command("tracking_dead_letters", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def set_aside():
    """Two hits of a site deactivated after they were accepted: the ingest workers set them aside."""
    site = make_instance("paused", state="publie")
    queue.hits_enqueue([hit(site, T0), hit(site, T0)])
    services.instance_deactivate(instance=site, by=None, reason="maintenance")
    assert queue.ingest_drain() == 0
    return site


def test_set_aside_hits_are_listed_with_their_reason(set_aside):
    letters = queue.dead_letters()
    assert [letter["site"] for letter in letters] == [set_aside.pk, set_aside.pk]
    assert "no longer live" in letters[0]["error"]
    listing = run("list")
    assert letters[0]["id"] in listing and "no longer live" in listing


def test_replayed_hits_are_stored_once_the_site_is_back(set_aside):
    site = services.instance_reactivate(instance=set_aside, by=None)
    first = queue.dead_letters()[0]["id"]
    assert "replayed 1 hit(s)" in run("replay", first)
    assert "replayed 1 hit(s)" in run("replay", "--all")
    assert queue.ingest_drain() == 2
    assert queue.queue_depth() == {"queued": 0, "dead": 0}
    with in_tenant(site):
        assert Action.objects.count() == 2
    assert run("list") == "no hit is set aside\n"


def test_discard_drops_them_and_bad_arguments_are_explained(set_aside):
    with pytest.raises(CommandError, match="give entry ids"):
        run("replay")
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        run("list", "--limit", "0")
    with pytest.raises(CommandError, match="could not be replayed"):
        run("replay", "1-1")
    assert "discarded 2 hit(s)" in run("discard", "--all", "--site", str(set_aside.pk))
    assert queue.queue_depth()["dead"] == 0
