"""A site's life through a real browser: sign-up, request, admin validation, SSO, deactivation.

Two browser contexts play two people (the new user and a farm admin) against the live server,
with a real Celery worker provisioning the site, so every hop a person makes is exercised:
the portal on `localhost`, the Django admin, and the site on its own host `<slug>.localhost`.
"""
import time

import pytest
from playwright.sync_api import expect

from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Passw0rd"


def run_admin_action(page, portal, slug, action):
    """On the sites changelist, tick one site, choose an action and press Go."""
    page.goto(f"{portal}/admin/instances/instance/")
    row = page.locator("#result_list tbody tr").filter(has=page.get_by_role("link", name=slug, exact=True))
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", value=action)
    page.click("button[name=index]")


def wait_for_site_link(page, portal, slug, timeout=30.0):
    """Reload "My sites" until the worker has provisioned the site and the portal links to it."""
    row = page.locator(f"tr[data-slug={slug}]")
    link = row.get_by_role("link", name="Open the site")
    deadline = time.monotonic() + timeout
    while True:
        page.goto(f"{portal}/sites/")
        if link.count():
            return link
        if time.monotonic() > deadline:
            pytest.fail(f"no “Open the site” link for {slug} after {timeout} s; row: {row.inner_text()!r}")
        time.sleep(0.5)


@pytest.mark.worker
def test_signup_request_validate_open_then_deactivate(new_page, portal, live_server, celery_worker_process,
                                                      artifacts):
    make_user("boss", password=PASSWORD, superuser=True)
    user, admin = new_page(), new_page()
    site_url = f"http://bees.localhost:{live_server.thread.port}/"

    # 1. A newcomer signs up and is led to the request form; the request shows up as "requested".
    user.goto(f"{portal}/accounts/signup/")
    user.fill("input[name=username]", "maya")
    user.fill("input[name=email]", "maya@example.org")
    user.fill("input[name=password1]", "correct-horse-battery")
    user.fill("input[name=password2]", "correct-horse-battery")
    user.get_by_role("button", name="Create my account").click()
    expect(user).to_have_url(f"{portal}/sites/request/")
    user.fill("input[name=name]", "Bees of the valley")
    user.fill("input[name=slug]", "bees")
    user.get_by_role("button", name="Send the request").click()
    expect(user).to_have_url(f"{portal}/sites/")
    expect(user.locator("tr[data-slug=bees]")).to_contain_text("requested")

    # 2. The admin sees the pending request and validates it from the changelist.
    admin.goto(f"{portal}/admin/login/?next=/admin/")
    admin.fill("input[name=username]", "boss")
    admin.fill("input[name=password]", PASSWORD)
    admin.click("input[type=submit]")
    expect(admin.locator("#pending-requests")).to_contain_text("1 site request awaits a decision")
    run_admin_action(admin, portal, "bees", "validate")
    expect(admin.locator(".messagelist .success")).to_contain_text("Validated: bees")

    # 3. Once the worker has provisioned it, the user opens the site: portal SSO, then its dashboard.
    wait_for_site_link(user, portal, "bees").click()
    expect(user).to_have_url(site_url)
    assert user.url.startswith("http://bees.localhost:")
    expect(user.locator("#dashboard-title")).to_have_text("Bees of the valley")
    user.screenshot(path=artifacts / "site-dashboard.png", full_page=True)

    # 3b. As the site's admin, the user runs a scheduled task now (on the tasks page); the worker runs it.
    user.click("#tasks-link")
    task_row = user.locator("tr[data-task='instances.sizes.instance_measure_size']")
    expect(task_row.locator("td").first).to_have_text("Measure the site's size")
    task_row.get_by_role("button", name="Run now").click()
    expect(user.locator("[role=status]")).to_contain_text("“Measure the site's size” will run in a moment")
    deadline = time.monotonic() + 30
    while "succeeded" not in user.locator("#runs").inner_text():
        assert time.monotonic() < deadline, "the forced run did not succeed within 30 s"
        time.sleep(0.5)
        user.reload()

    # 4. The admin deactivates it, giving a reason on the intermediate page.
    run_admin_action(admin, portal, "bees", "deactivate")
    admin.fill("textarea[name=reason]", "abuse report")
    admin.click("input[name=apply]")
    expect(admin.locator(".messagelist .success")).to_contain_text("Deactivated: bees")

    # 5. The user's next visit gets the bilingual deactivated page, with a 403.
    response = user.reload()
    assert response.status == 403
    notice = user.locator("#deactivated")
    expect(notice).to_contain_text("Ce site est désactivé")
    expect(notice).to_contain_text("This site is deactivated")
    user.screenshot(path=artifacts / "site-deactivated.png", full_page=True)
    assert user.goto(site_url).status == 403


def test_a_bad_address_in_the_request_form_is_explained(new_page, portal):
    make_user("ada", password=PASSWORD)
    page = new_page()
    page.goto(f"{portal}/accounts/login/?next=/sites/request/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(f"{portal}/sites/request/")
    page.fill("input[name=name]", "Bad one")
    page.fill("input[name=slug]", "Bad Slug!")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator(".errorlist")).to_contain_text("not a valid address")
