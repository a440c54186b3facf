"""Segments on the dashboard's report pages: every page applies the segment in the URL (and keeps it in
its links), says when the k floor withheld rows, and compares saved segments side by side."""
import re
from urllib.parse import quote

import pytest

from analytics.models import SavedSegment
from farm.tenancy import in_tenant
from tests.integration.analytics.test_k_anonymity import kfloor_site

pytestmark = pytest.mark.django_db
HOST = "kfloor.localhost"


@pytest.fixture
def site():
    return kfloor_site()  # k = 3; yesterday 6 visitors on Chrome, 2 on Chrome Mobile, 1 on Firefox


def _cells(html: str, row: str) -> list[str]:
    found = re.search(rf'<tr><th scope="row">{re.escape(row)}</th>(.*?)</tr>', html, re.S)
    assert found, row
    return re.findall(r'<td class="num">(.*?)</td>', found[1])


def test_pages_apply_the_segment_and_keep_it(client, site):
    client.force_login(site.owner)
    day = f"period=day&date={site.yesterday}"
    html = client.get(f"/?{day}&segment={quote('browserName==Chrome')}", HTTP_HOST=HOST).content.decode()
    assert re.search(r'data-metric="nb_visits">.*?<div class="value">6</div>', html, re.S)
    assert "segment=browserName%3D%3DChrome" in html  # in the navigation and the blocks' links
    html = client.get(f"/reports/devices/?{day}&segment={quote('visitCount>=1')}", HTTP_HOST=HOST).content.decode()
    assert "Other (fewer than 3 visitors each)" in html and "Firefox" not in html
    html = client.get(f"/reports/devices/?{day}&segment={quote('browserCode!=FF')}", HTTP_HOST=HOST).content.decode()
    assert "withheld from this segment" in html and "Chrome Mobile" not in html
    response = client.get(f"/?{day}&segment={quote('visitCount>>1')}", HTTP_HOST=HOST)
    assert response.status_code == 400 and "position" in response.content.decode()


def test_saved_segments_side_by_side(client, site):
    with in_tenant(site):
        for name, definition in (("Chrome", "browserName==Chrome"), ("Phones", "browserName==Chrome Mobile")):
            SavedSegment.objects.create(name=name, definition=definition, owner_id=site.owner.pk, owner_login="o")
    client.force_login(site.owner)
    asked = f"period=day&date={site.yesterday}&compare=1&vs={quote('browserName==Chrome')}" \
            f"&vs={quote('browserName==Chrome Mobile')}"  # beside the previous period's comparison
    html = client.get(f"/?{asked}", HTTP_HOST=HOST).content.decode()
    assert 'id="segment-compare"' in html and '<th class="num" scope="col">Phones</th>' in html
    assert _cells(html, "Visits") == ["9", "6", "0"]  # Phones: 2 visitors, under k: nothing shown
    html = client.get(f"/report/DevicesDetection.getBrowsers/?{asked}", HTTP_HOST=HOST).content.decode()
    assert _cells(html, "Chrome") == ["6", "6", "—"]
    assert _cells(html, "Firefox") == ["1", "—", "—"]
    assert 'name="vs" value="browserName==Chrome" checked' in html


def test_a_real_time_segment_over_months_shows_its_last_months_and_the_engagement_page(client, site):
    client.force_login(site.owner)
    segment = quote("visitCount>=1")
    for path in ("/", "/media/", "/reports/engagement/"):
        for period in ("day", "week", "month"):
            response = client.get(f"{path}?period={period}&date={site.yesterday}&segment={segment}", HTTP_HOST=HOST)
            assert response.status_code == 200, (path, period, response.content.decode()[:3000])
        response = client.get(f"{path}?period=year&date={site.yesterday}&segment={segment}", HTTP_HOST=HOST)
        assert response.status_code == 400 and "Pre-process it" in response.content.decode()  # said on the page
    from analytics.dashboard.pages import display_label
    from analytics.reports.anonymity import other_label
    for name in ("VisitorInterest.getNumberOfVisitsPerVisitDuration", "VisitorInterest.getNumberOfVisitsPerPage",
                 "UserCountry.getCountry", "VisitTime.getByDayOfWeek"):  # labels read as numbers, codes, days
        assert display_label(name, other_label(3)) == "Other (fewer than 3 visitors each)"
