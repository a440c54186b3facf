"""Every page kind a person opens answers with the Content-Security-Policy and carries no inline
script or event handler (the policy would refuse them); no page may be framed except the opt-out
page (sites embed it) and the email report's preview (framed by its own page). The pages are found
by following the links of the portal, the admin and a site's dashboard, as a person would. And
`manage.py check --deploy` is clean with the production settings (FARM_HTTPS=1)."""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from instances.scheduled_reports import ScheduledReport
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import make_traffic

pytestmark = pytest.mark.django_db
PORTAL, SITE = "localhost", "guarded.localhost"
SKIPPED = ("/accounts/logout", "/logout", "/sso/", "/i18n/", "/static/", "/admin/logout", "/matomo.", "/piwik.",
           "/index.php", "/healthz", "/metrics", "/admin/r/")


class _Page(HTMLParser):
    """The links of a page, and what the policy would refuse in it."""

    def __init__(self):
        super().__init__()
        self.links, self.refused = [], []
        self._inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.refused.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.refused.append(f"<{tag} {name}=javascript:...>")
        if tag == "script":
            self._inline_script = "src" not in attrs and attrs.get("type") != "application/json"
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self.refused.append(f"inline <script>: {data.strip()[:80]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False


def _directives(header: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def _crawl(client, host: str, starts: list[str], *, most: int) -> dict[str, tuple]:
    """The pages reachable from `starts` on `host` (GET, answered 200 with HTML), up to `most`."""
    seen, todo, pages = set(), list(starts), {}
    while todo and len(pages) < most:
        path = todo.pop(0)
        key = urlsplit(path)._replace(query="").geturl() if path.startswith("/admin/") else path
        if key in seen or path.startswith(SKIPPED):
            continue
        seen.add(key)
        response = client.get(path, HTTP_HOST=host)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        parser = _Page()
        parser.feed(response.content.decode())
        pages[path] = (response, parser.refused)
        for link in parser.links:
            parts = urlsplit(link)
            if not parts.netloc and parts.path.startswith("/"):
                todo.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return pages


@pytest.fixture
def site():
    owner = make_user("guard", superuser=True)  # NB: a farm admin owning a site: every page kind opens
    instance = make_instance("guarded", owner=owner, state="publie")
    make_traffic(instance)
    return instance


def test_every_page_has_the_policy_and_nothing_it_would_refuse(client, site):
    client.force_login(site.owner)
    report = ScheduledReport.objects.create(instance=site, user=site.owner, description="Weekly", period="week",
                                            hour=6, reports=["VisitsSummary.get"])
    pages = {**{("portal", path): page for path, page in _crawl(
                 client, PORTAL, ["/", "/sites/", "/sites/request/", "/tokens/", f"/sites/{site.slug}/members/",
                                  "/admin/", "/admin/console/", "/admin/django_celery_beat/periodictask/"], most=70).items()},
             **{("site", path): page for path, page in _crawl(
                 client, SITE, ["/", "/settings/", "/tasks/", "/tracking-code/", "/privacy/", "/email-reports/",
                                "/media/", "/optout/", f"/email-reports/{report.pk}/preview/"], most=70).items()}}
    client.logout()
    pages |= {("portal", path): page for path, page in _crawl(
        client, PORTAL, ["/accounts/login/", "/accounts/signup/", "/accounts/password_reset/"], most=5).items()}
    kinds = {path for _where, path in pages}
    assert {"/", "/admin/", "/admin/console/", "/settings/", "/privacy/", "/email-reports/", "/optout/", "/accounts/login/"} <= kinds
    assert any(path.startswith("/report/") for path in kinds) and any(path.startswith("/reports/") for path in kinds)
    assert any(re.match(r"^/admin/django_celery_beat/periodictask/\d+/change/$", path) for path in kinds)
    assert len(pages) > 40, sorted(kinds)
    for (where, path), (response, refused) in pages.items():
        assert not refused, (where, path, refused)
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"], (where, path)
        framing = policy.get("frame-ancestors")
        if path == "/optout/":
            assert framing is None and "X-Frame-Options" not in response, path  # sites frame it
        elif path.endswith("/preview/"):
            assert framing == ["'self'"] and response["X-Frame-Options"] == "SAMEORIGIN", path
        else:
            assert framing == ["'none'"] and response["X-Frame-Options"] == "DENY", (where, path)


def test_the_deploy_check_is_clean_with_the_production_settings():
    checked = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                             cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120,
                             env={**os.environ, "FARM_HTTPS": "1", "DEBUG": "0"})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout
