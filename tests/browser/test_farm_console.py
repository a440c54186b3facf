"""The farm console in a real browser: a staff member goes from the admin's home to the console, reads
the farm's sites and queues, and the four charts of the last 24 hours are drawn from the ticks."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from farm.cron import dispatch
from farm.cron.samples import tick_sample_record
from instances.models import Instance
from tests.factories import make_instance, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CHART_DATA = "id => Chart.getChart(document.getElementById(id)).data.datasets[0].data"


def test_a_staff_member_reads_the_farm_console(new_page, portal, artifacts):
    make_user("stella", is_staff=True, is_superuser=True)
    site = make_instance("orchard", state="publie")
    make_instance("seedling")  # a request awaiting a decision
    Instance.objects.filter(pk=site.pk).update(schema_size_bytes=3 * 1024 * 1024)
    now = timezone.now()
    for minutes_ago, dispatched in ((300, 40), (200, 25)):  # earlier ticks of the day
        tick_sample_record(now=now - timedelta(minutes=minutes_ago), due=dispatched, dispatched=dispatched, missed=0)
    dispatch.tick(wake=False)  # and a real one, now

    page = new_page()
    page.goto(f"{portal}/admin/login/?next=/admin/")
    page.fill("input[name=username]", "stella")
    page.fill("input[name=password]", "a-long-Passw0rd")
    page.click("input[type=submit]")
    page.click("#farm-console-link")
    expect(page.locator("h1")).to_have_text("Farm console")
    expect(page.locator("#console-sites")).to_contain_text("1 request awaits a decision")
    expect(page.locator("#console-queues")).to_contain_text(re.compile(r"Last super cron tick: \d+ s ago"))
    expect(page.locator("#console-largest")).to_contain_text("Orchard")
    # the window's minutes before this one; the real tick is in this one
    expect(page.locator("#console-day")).to_contain_text(re.compile(r"Minutes with a tick: 2 / 14[34]\d$", re.M))

    page.wait_for_function("() => window.Chart && Chart.getChart(document.getElementById('console-ticks-canvas'))")
    for chart in ("ticks", "dispatched", "runs-queued", "hits-queued"):
        data = page.evaluate(CHART_DATA, f"console-{chart}-canvas")
        assert len(data) == 144, chart
    assert sum(page.evaluate(CHART_DATA, "console-ticks-canvas")) == 3
    assert sum(page.evaluate(CHART_DATA, "console-dispatched-canvas")) >= 65
    page.screenshot(path=artifacts / "farm-console.png", full_page=True)

    visitor = new_page()
    visitor.goto(f"{portal}/admin/console/")
    expect(visitor).to_have_url(f"{portal}/admin/login/?next=/admin/console/")
