"""The dashboard's Media section on a site's own host: the overview (evolution, cards, video against
audio, tables, audience map), one media's page with its drop-off curve, real-time media, the audience
log, French, and who may open them."""
import re
from urllib.parse import quote

import pytest

from tests.factories import make_instance, make_user
from tests.integration.analytics.api_traffic import DAY, make_traffic
from tests.integration.analytics.test_ingest import hit, store
from tests.integration.dashboard.test_pages import chart, get

pytestmark = pytest.mark.django_db
ON_DAY = f"period=day&date={DAY.date()}"
VIDEO = "https://s.example/v.mp4"  # Alice's video in the shared traffic: 20 s watched of 60
AUDIO = "https://s.example/a.mp3"
MEDIA_PAGES = ["/media/", f"/media/item/?resource={quote(VIDEO)}&", "/media/realtime/", "/media/realtime/panel/",
               "/media/audience-log/"]


@pytest.fixture
def site():
    instance = make_instance("reels", state="publie")
    make_traffic(instance)  # Alice watches 20 s of a video, from an address of no known country
    store(instance, [{**hit(instance, DAY, _id="f" * 16, ma_id="a1", ma_mt="audio", ma_re=AUDIO, ma_st=30, ma_le=40,
                            ma_ps=35, ma_se="0,5,10,15,20,25,30"), "cc": "FR", "ipd": "f" * 32}])  # from France
    return instance


def _page(client, path):
    response = get(client, path + ("" if path.endswith("&") else "?") + ON_DAY, host="reels.localhost")
    return response.status_code, response.content.decode()


def test_the_media_overview_draws_plays_with_cards_the_split_tables_and_the_map(client, site):
    client.force_login(site.owner)
    status, html = _page(client, "/media/")
    assert status == 200
    evolution = chart(html, "evolution-data")
    assert evolution["values"][-1] == 2 and len(evolution["labels"]) == 30  # a video and an audio played
    assert 'data-metric="play_rate"' in html and chart(html, "spark-nb_plays")["type"] == "sparkline"
    assert 'data-kind="video"' in html and 'data-kind="audio"' in html
    assert 'id="report-MediaAnalytics-getVideoResources"' in html
    assert f'href="/media/item/?period=day&amp;date={DAY.date()}&amp;resource={quote(VIDEO, safe="")}"' in html
    # the other tables load once the page is shown
    assert 'hx-get="/report/MediaAnalytics.getPlayers/?period=day' in html
    block = get(client, f"/report/MediaAnalytics.getPlayers/?{ON_DAY}", host="reels.localhost",
                HTTP_HX_REQUEST="true").content.decode()
    assert 'id="report-MediaAnalytics-getPlayers"' in block and "<html" not in block  # the block alone
    assert chart(block, "chart-report-MediaAnalytics-getPlayers")["type"] == "pie"
    assert chart(html, "map-media") == {"type": "map", "labels": ["fr"], "values": [1], "label": "Plays"}


def test_one_media_shows_its_metrics_over_time_and_where_people_stopped(client, site):
    client.force_login(site.owner)
    status, html = _page(client, f"/media/item/?resource={quote(VIDEO)}&")
    assert status == 200 and VIDEO in html and 'data-metric="avg_completion_rate"' in html
    assert chart(html, "item-evolution")["values"][-1] == 1
    assert "drop-off-data" not in html  # the video sent no positions: no curve, a sentence instead
    html = _page(client, f"/media/item/?resource={quote(AUDIO)}&")[1]
    # played 0-35 s of 40: still there at 85 % (33.2 s of the 39 to the last second), gone from 90 % (35.1 s)
    assert chart(html, "drop-off-data")["values"] == [100.0] * 18 + [0.0] * 3
    assert get(client, f"/media/item/?resource=https%3A%2F%2Fnowhere.example%2F&{ON_DAY}",
               host="reels.localhost").status_code == 404
    assert get(client, "/media/item/", host="reels.localhost").status_code == 404


def test_the_period_picker_keeps_the_media_shown(client, site):
    client.force_login(site.owner)
    html = _page(client, f"/media/item/?resource={quote(VIDEO)}&")[1]
    assert re.search(r'id="next-period"', html) and f"resource={quote(VIDEO, safe='')}" in \
        re.search(r'href="\?([^"]*)" id="next-period"', html).group(1)
    assert f'<input type="hidden" name="resource" value="{VIDEO}">' in html
    response = get(client, f"/media/item/?period=week&date={DAY.date()}&end={DAY.date()}&resource={quote(VIDEO)}",
                   host="reels.localhost")  # the picker's form
    assert response.status_code == 302 and f"resource={quote(VIDEO, safe='')}" in response["Location"]
    assert get(client, response["Location"], host="reels.localhost").status_code == 200


def test_a_year_shows_no_unique_visitor_count_rather_than_zero(client, site):
    client.force_login(site.owner)
    html = get(client, f"/media/?period=year&date={DAY.date()}", host="reels.localhost").content.decode()
    card = re.search(r'data-metric="nb_unique_visitors_plays">.*?<div class="value">(.*?)</div>', html, re.S)
    assert card.group(1) == "—"


def test_real_time_media_and_the_audience_log(client, site):
    client.force_login(site.owner)
    status, html = _page(client, "/media/realtime/")
    assert status == 200 and 'id="media-counters"' in html and 'hx-get="/media/realtime/panel/"' in html
    status, html = _page(client, "/media/audience-log/")
    assert status == 200 and html.count('class="visit"') == 2 and 'data-type="media"' in html  # Alice's and F's
    assert 'data-type="action"' in html  # with what she did around it


def test_the_media_pages_speak_french(client, site):
    client.force_login(site.owner)
    status, html = _page(client, "/media/")
    html = get(client, f"/media/?{ON_DAY}", host="reels.localhost", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Lectures" in html and "Carte de l’audience" in html


def test_only_members_open_the_media_pages(client, site):
    client.force_login(make_user("outsider"))
    for path in MEDIA_PAGES:
        assert _page(client, path)[0] == 403, path  # signed in, no role on the site
    client.logout()
    for path in MEDIA_PAGES:
        assert _page(client, path)[0] == 302, path
