"""The site dashboard's pages on a site's own host: what each shows, the period picker, and who may open them."""
import json
import re
from datetime import date

import pytest

from analytics.dashboard import pages, views
from analytics.reports.archive import archive_run
from farm.tenancy import in_tenant
from instances.models import Membership, Role
from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import ALICE, DAY, make_traffic

pytestmark = pytest.mark.django_db
ON_DAY = f"period=day&date={DAY.date()}"
PAGES = ["/", *(f"/reports/{slug}/" for slug in pages.CATEGORIES), "/report/Actions.getPageUrls/", "/realtime/",
         "/realtime/panel/", "/visitor-log/", f"/visitors/{ALICE}/", "/tracking-code/", "/tasks/"]


@pytest.fixture
def site():
    instance = make_instance("honey", state="publie")
    make_traffic(instance)
    return instance


def get(client, path, host="honey.localhost", **headers):
    return client.get(path, HTTP_HOST=host, **headers)


def chart(html: str, script_id: str) -> dict:
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no chart data {script_id}"
    return json.loads(match.group(1))


def test_the_overview_draws_the_evolution_of_visits_with_cards_and_top_reports(client, site):
    client.force_login(site.owner)
    html = get(client, f"/?{ON_DAY}").content.decode()
    evolution = chart(html, "evolution-data")
    assert len(evolution["labels"]) == 30 and evolution["labels"][-1] == str(DAY.date())
    assert evolution["values"][-1] == 4 and sum(evolution["values"]) == 4  # Alice twice, Bob, Carol
    assert 'data-metric="nb_visits"' in html and chart(html, "spark-bounce_rate")["type"] == "sparkline"
    assert 'id="report-Referrers-getReferrerType"' in html and "/blog/a" in html
    assert chart(html, "evolution-data") != chart(get(client, f"/?{ON_DAY}&metric=nb_actions").content.decode(),
                                                  "evolution-data")


@pytest.mark.parametrize("query, label", [
    ("period=week&date=2026-06-03", "2026-06-01 – 2026-06-07"), ("period=month&date=2026-06-03", "2026-06"),
    ("period=year&date=2026-06-03", "2026"), ("period=range&date=2026-05-30&end=2026-06-02", "2026-05-30 – 2026-06-02"),
    ("period=range&date=2026-05-30,2026-06-02", "2026-05-30 – 2026-06-02"),
])
def test_the_period_picker_keeps_its_choice_in_the_url(client, site, query, label):
    client.force_login(site.owner)
    response = get(client, f"/?{query}")
    if "end=" in query:  # the picker's form is sent back to the short URL
        assert response.status_code == 302 and response["Location"] == "/?period=range&date=2026-05-30%2C2026-06-02"
        response = get(client, response["Location"])
    html = response.content.decode()
    assert f'<strong id="period-label">{label}</strong>' in html
    this_year_now = "year" in query and date.today().year == DAY.year  # Dan's visit, now, is in that year too
    assert chart(html, "evolution-data")["values"][-1 if "range" not in query else 2] == 4 + this_year_now
    assert f"/reports/visitors/?period={query.split('&')[0].split('=')[1]}" in html  # the navigation keeps it


def test_a_bad_period_is_explained_with_a_400(client, site):
    client.force_login(site.owner)
    response = get(client, "/?period=fortnight")
    assert response.status_code == 400 and "period must be one of" in response.content.decode()


def test_comparing_shows_the_previous_period_and_the_change(client, site):
    client.force_login(site.owner)
    html = get(client, "/?period=day&date=2026-06-02&compare=1").content.decode()
    visits_card = html.split('data-metric="nb_visits"')[1].split('data-metric=')[0]
    assert "before" in visits_card and "-100.0 %" in visits_card


def test_every_category_page_shows_its_reports(client, site):
    client.force_login(site.owner)
    for slug, category in pages.CATEGORIES.items():
        response = get(client, f"/reports/{slug}/?{ON_DAY}")
        html = response.content.decode()
        assert response.status_code == 200 and str(category.title) in html, slug
        assert all(f'id="report-{name.replace(".", "-")}"' in html for name, _chart in category.reports), slug
    devices = get(client, f"/reports/devices/?{ON_DAY}").content.decode()
    assert chart(devices, "chart-report-DevicesDetection-getType")["type"] == "pie"
    assert get(client, "/reports/nothing/").status_code == 404


def test_a_report_is_searched_sorted_and_limited_and_answers_htmx_with_its_block(client, site):
    client.force_login(site.owner)
    html = get(client, f"/report/Actions.getPageUrls/?{ON_DAY}&search=blog").content.decode()
    assert "/blog/a" in html and "/blog/b" in html and "/shop" not in html
    html = get(client, f"/report/Actions.getPageUrls/?{ON_DAY}&sort=label&order=asc&limit=5").content.decode()
    assert html.index("<td>/</td>") < html.index("<td>/blog/a</td>") < html.index("<td>/shop</td>")
    block = get(client, f"/report/Actions.getPageUrls/?{ON_DAY}&limit=5", HTTP_HX_REQUEST="true").content.decode()
    assert block.lstrip().startswith('<section class="card report" id="report-Actions-getPageUrls"')
    assert get(client, "/report/Nothing.here/").status_code == 404


def test_real_time_counts_the_last_minutes_and_lists_the_latest_visits(client, site):
    client.force_login(site.owner)
    html = get(client, "/realtime/").content.decode()
    assert 'hx-trigger="every 5s"' in html
    panel = get(client, "/realtime/panel/").content.decode()
    thirty = panel.split('data-minutes="30"')[1].split('data-minutes="60"')[0]
    assert '<span class="visits">1</span>' in thirty and '<span class="actions">2</span>' in thirty
    assert "Now 2" in panel


def test_the_visitor_log_lists_the_periods_visits_with_their_actions_in_order_and_pages(client, site, monkeypatch):
    client.force_login(site.owner)
    html = get(client, f"/visitor-log/?{ON_DAY}").content.decode()
    assert html.count('<article class="visit"') == 4  # Alice twice, Bob, Carol; not Dan, who is on the site today
    alice = html[html.index("Post A"):]
    assert alice.index("Post A") < alice.index("Post B") < alice.index("Video / Play") < alice.index("Intro")
    french = get(client, f"/visitor-log/?{ON_DAY}", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Pays : Espagne" in french or "Pays: Espagne" in french
    today = get(client, "/visitor-log/").content.decode()  # the picker's default: today
    assert today.count('<article class="visit"') == 1 and "Now 2" in today and "Post A" not in today
    assert 'id="no-visit"' in get(client, "/visitor-log/?period=day&date=2026-05-31").content.decode()
    monkeypatch.setattr(views, "VISITOR_LOG_PAGE", 3)
    first = get(client, f"/visitor-log/?{ON_DAY}").content.decode()
    last = get(client, f"/visitor-log/?{ON_DAY}&page=2").content.decode()
    assert first.count('<article class="visit"') == 3 and f'href="?{ON_DAY.replace("&", "&amp;")}&amp;page=2" id="older"' in first
    assert last.count('<article class="visit"') == 1 and 'id="older"' not in last and 'id="newer"' in last
    week = get(client, "/visitor-log/?period=week&date=2026-06-03&page=2").content.decode()
    assert week.count('<article class="visit"') == 1  # the same four visits in the week of DAY
    assert get(client, f"/visitor-log/?{ON_DAY}&page=99999999999999999999").status_code == 200


def test_a_visitor_profile_shows_all_their_visits_with_totals(client, site):
    client.force_login(site.owner)
    html = get(client, f"/visitors/{ALICE}/").content.decode()
    assert '<div class="value" id="total-visits">2</div>' in html and html.count('<article class="visit"') == 2
    assert get(client, f"/visitors/{'0' * 16}/").status_code == 404


def test_freshness_says_when_reports_were_processed(client, site):
    client.force_login(site.owner)
    assert "Reports not processed yet" in get(client, "/").content.decode()
    with in_tenant(site):
        archive_run()
    assert "Reports processed 0\xa0minutes ago" in get(client, "/").content.decode()


def test_an_empty_site_shows_how_to_install_the_tracker(client):
    site = make_instance("quiet", state="publie")
    client.force_login(site.owner)
    html = get(client, "/", host="quiet.localhost").content.decode()
    assert 'id="empty-site"' in html and "setTrackerUrl" in html and 'id="dashboard-title"' in html
    assert "evolution-data" not in html
    assert 'id="empty-site"' in get(client, "/reports/devices/", host="quiet.localhost").content.decode()


def test_anonymous_people_are_sent_to_sign_in_on_every_page(client, site):
    for path in PAGES:
        response = get(client, path)
        assert response.status_code == 302 and "/sso/start/" in response["Location"], path


def test_a_user_of_another_site_gets_403_on_every_page(client, site):
    stranger = make_instance("other", state="publie").owner
    client.force_login(stranger)
    for path in [*PAGES, "/settings/"]:
        assert get(client, path).status_code == 403, path


def test_a_viewer_opens_every_page_but_not_the_settings(client, site):
    viewer = make_user("viewer")
    Membership.objects.create(instance=site, user=viewer, role=Role.VIEW)
    client.force_login(viewer)
    for path in PAGES:
        assert get(client, path).status_code == 200, path
    assert 'id="settings-link"' not in get(client, "/").content.decode()
    assert get(client, "/settings/").status_code == 403


def test_the_dashboard_speaks_french(client, site):
    client.force_login(site.owner)
    html = get(client, f"/reports/devices/?{ON_DAY}", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Type d&#x27;appareil" in html and "Journal des visites" in html and "Comparer avec la période" in html


def test_countries_and_languages_read_as_names_in_the_visitors_language_and_can_be_searched(client, site):
    client.force_login(site.owner)
    html = get(client, f"/report/UserCountry.getCountry/?{ON_DAY}&search=espa", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "<td>Espagne</td>" in html and "Inconnu" not in html
    html = get(client, f"/report/UserLanguage.getLanguage/?{ON_DAY}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<td>Spanish</td>" in html and "<td>English</td>" in html


def test_engagement_buckets_read_as_durations_and_page_counts(client, site):
    client.force_login(site.owner)
    html = get(client, f"/reports/engagement/?{ON_DAY}").content.decode()
    for label in ("<td>0–10 s</td>", "<td>31–60 s</td>", "<td>2–4 min</td>", "<td>1 page</td>", "<td>4 pages</td>"):
        assert label in html, label
