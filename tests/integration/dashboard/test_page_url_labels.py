"""Page-URL reports on the dashboard read as paths: "/contact", never "//contact" (a regression guard
for a reported label joined with its folder)."""
import re

import pytest

from analytics.reports.archive import archive_run
from farm.tenancy import in_tenant
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import DAY
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
URLS = {"http://paths.localhost:8000/contact": "/contact", "https://s.example/shop/jars/honey?x=1": "/shop/jars/honey",
        "https://s.example/shop/": "/shop/", "https://s.example": "/"}


@pytest.mark.parametrize("archived", [False, True], ids=["on demand", "archived"])
def test_the_page_urls_report_labels_each_page_by_its_path(client, archived):
    site = make_instance("paths", state="publie")
    store(site, [hit(site, DAY, url=url, action_name=path, _id=f"{n:016x}") for n, (url, path) in enumerate(URLS.items())])
    if archived:
        with in_tenant(site):
            archive_run()
    client.force_login(site.owner)
    for page in ("/report/Actions.getPageUrls/", "/report/Actions.getEntryPageUrls/", "/"):
        html = client.get(f"{page}?period=week&date={DAY.date()}", HTTP_HOST="paths.localhost").content.decode()
        shown = set(re.findall(r"<tr><td>(/[^<]*)</td>", html))
        assert set(URLS.values()) <= shown, page
        assert not any(label.startswith("//") for label in shown), page
