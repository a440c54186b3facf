"""No statement issued while serving a site joins that site's tables with another schema's.

A site's tables live in its schema; the farm's (sites, people, tokens, the cron's timetable) in
public. Citus' schema-based sharding places each site schema on a worker node and keeps public on
the coordinator (docs/scaling.md): a statement naming both kinds of table could not run on one
node. So every statement a site request makes — dashboard pages, the Reporting API, tracking,
ingest, its settings — names tables of one side only (reading both is fine, one statement each).
"""
import re

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.tracking import queue
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import DAY, make_traffic

pytestmark = pytest.mark.django_db
HOST = "local.localhost"
_NAMES = re.compile(r'"?([a-z_][a-z0-9_]*)"?(?:\."?([a-z_][a-z0-9_]*)"?)?')


def _site_tables() -> set[str]:
    return {model._meta.db_table for model in apps.get_app_config("analytics").get_models()}


def _public_tables() -> set[str]:
    site = _site_tables()
    return {model._meta.db_table for model in apps.get_models() if model._meta.db_table not in site}


def sides(sql: str, site: set[str], public: set[str]) -> set[str]:
    """Which sides' tables a statement names (by their table names, qualified or not)."""
    found = set()
    for schema, table in _NAMES.findall(sql.lower()):
        name = table or schema
        if name in site:
            found.add("site")
        elif name in public:
            found.add("public")
    return found


def test_a_site_request_never_joins_its_tables_with_the_farms(client):
    site = make_instance("local", state="publie")
    make_traffic(site)
    client.force_login(site.owner)
    on_day = {"period": "day", "date": str(DAY.date())}
    with CaptureQueriesContext(connection) as captured:
        for path in ("/", "/reports/visitors/", "/report/Actions.getPageUrls/", "/visitor-log/", "/settings/",
                     "/tasks/", "/privacy/", "/email-reports/", "/media/", "/tracking-code/"):
            assert client.get(path, on_day, HTTP_HOST=HOST).status_code == 200, path
        for method in ("VisitsSummary.get", "Actions.getPageUrls", "Live.getLastVisitsDetails", "SitesManager.getSiteFromId"):
            assert client.get("/", {"module": "API", "method": method, "idSite": site.pk, "format": "json",
                                    **on_day}, HTTP_HOST=HOST).status_code == 200, method
        assert client.get("/matomo.php", {"idsite": site.pk, "rec": 1, "url": "https://s.example/x",
                                          "_id": "0123456789abcdef"}, HTTP_HOST=HOST).status_code in (200, 204)
        assert queue.ingest_drain() == 1
    site_tables, public_tables = _site_tables(), _public_tables()
    statements = [q["sql"] for q in captured.captured_queries]
    assert sum(sides(sql, site_tables, public_tables) == {"site"} for sql in statements) > 50  # the test saw them
    mixed = [sql[:300] for sql in statements if sides(sql, site_tables, public_tables) == {"site", "public"}]
    assert mixed == []
