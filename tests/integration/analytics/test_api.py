"""The Reporting API answers Matomo's methods with Matomo's shapes and columns, in json, csv, tsv and xml,
for Matomo's period and date forms, with the generic filters, page-URL hierarchy and bulk requests."""
import csv
import io
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from analytics.reports import service
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import ALICE, DAY, call_api, is_error, make_traffic

pytestmark = pytest.mark.django_db
D = DAY.date().isoformat()


@pytest.fixture
def site():
    instance = make_instance("apisite", state="publie")
    instance.main_url = "https://s.example"
    instance.save()
    make_traffic(instance)
    return instance


@pytest.fixture
def token(site):
    return token_create(user=site.owner)[1]


@pytest.fixture
def get(client, site, token):
    def call(**params):
        params.setdefault("idSite", site.pk)
        return call_api(client, token_auth=token, **params)
    return call


def test_visits_summary_has_matomos_columns(get):
    status, body = get(method="VisitsSummary.get", period="day", date=D)
    assert status == 200
    assert {"nb_visits": 4, "nb_uniq_visitors": 3, "nb_actions": 9, "max_actions": 4}.items() <= body.items()
    assert {"bounce_rate", "nb_actions_per_visit", "avg_time_on_site", "bounce_count", "sum_visit_length",
            "nb_users"} <= body.keys()


def test_every_report_method_answers_rows_or_a_row_with_its_metadata_columns(get):
    """One site for all the reports: each answers its dimension's label and the metrics the metadata lists."""
    for meta in service.report_metadata():
        status, body = get(method=meta["name"], period="day", date=D)
        assert status == 200, (meta["name"], body)
        rows = [body] if isinstance(body, dict) else body
        assert isinstance(rows, list) and (rows or meta["dimension"]), meta["name"]
        for row in rows:
            assert set(meta["metrics"]) | set(meta["processedMetrics"]) <= set(row) | {"nb_uniq_visitors", "nb_users"}, \
                (meta["name"], row)
            assert meta["dimension"] is None or "label" in row, meta["name"]


def test_value_methods_answer_one_value(get):
    assert get(method="VisitsSummary.getVisits", period="day", date=D) == (200, {"value": 4})


def test_page_urls_are_a_folder_tree_with_subtables_and_flat_lists_every_page(get):
    _, top = get(method="Actions.getPageUrls", period="day", date=D)
    labels = {row["label"]: row for row in top}
    assert set(labels) == {"blog", "/index", "/shop"}
    assert labels["blog"]["nb_hits"] == 2 and "idsubdatatable" in labels["blog"]
    assert labels["/index"]["url"] == "https://s.example/"
    _, sub = get(method="Actions.getPageUrls", period="day", date=D, idSubtable=labels["blog"]["idsubdatatable"])
    assert sorted((r["label"], r["url"]) for r in sub) == [("/a", "https://s.example/blog/a"),
                                                          ("/b", "https://s.example/blog/b")]
    _, flat = get(method="Actions.getPageUrls", period="day", date=D, flat=1)
    assert sorted(r["label"] for r in flat) == ["/", "/blog/a", "/blog/b", "/shop"]
    _, expanded = get(method="Actions.getPageUrls", period="day", date=D, expanded=1)
    assert len(next(r for r in expanded if r["label"] == "blog")["subtable"]) == 2
    assert is_error(get(method="Actions.getPageUrls", period="day", date=D, idSubtable=99))


def test_search_engines_and_campaigns_have_keyword_subtables(get):
    _, engines = get(method="Referrers.getSearchEngines", period="day", date=D)
    assert engines[0]["nb_visits"] == 1 and "idsubdatatable" in engines[0]
    _, keywords = get(method="Referrers.getKeywordsFromSearchEngineId", period="day", date=D,
                      idSubtable=engines[0]["idsubdatatable"])
    assert [k["label"] for k in keywords] == ["honey"]
    _, flat = get(method="Referrers.getCampaigns", period="day", date=D, flat=1)
    assert [r["label"] for r in flat] == ["spring - k1"]


def test_each_period_kind_reads_its_archive(get):
    _, ranged = get(method="VisitsSummary.get", period="range", date="2026-05-30,2026-06-02")
    _, week = get(method="VisitsSummary.get", period="week", date=D)
    _, month = get(method="VisitsSummary.get", period="month", date=D)
    _, year = get(method="VisitsSummary.get", period="year", date=D)
    assert ranged["nb_visits"] == week["nb_visits"] == month["nb_visits"] == 4
    assert year["nb_visits"] == 5  # Dan is visiting today, in the same year
    assert get(method="VisitsSummary.getVisits", period="day", date="today") == (200, {"value": 1})


def test_last_n_keys_each_period_by_its_label(client, site, token):
    status, body = call_api(client, token_auth=token, idSite=site.pk, method="VisitsSummary.getVisits",
                            period="week", date="previous2")
    assert status == 200 and len(body) == 2 and all("," in label for label in body)


@pytest.mark.parametrize("period,date,fragment", [
    ("day", "2026-02-30", "not a date"), ("fortnight", "today", "period must be"),
    ("day", "2026-06-01,2026-06-03", "needs period=range"), ("range", "2026-06-03,2026-06-01", "before it starts"),
    ("range", "today", "START,END"), ("day", "last9999", "at most"), (None, "today", "'period' is missing"),
])
def test_bad_periods_and_dates_are_explained(get, period, date, fragment):
    params = {"method": "VisitsSummary.get", "date": date, **({"period": period} if period else {})}
    status, body = get(**params)
    assert status == 200 and body["result"] == "error" and fragment in body["message"]


def test_filters_limit_offset_sort_pattern_and_columns(get):
    base = {"method": "Actions.getPageUrls", "period": "day", "date": D, "flat": 1}
    _, rows = get(**base, filter_sort_column="label", filter_sort_order="asc")
    assert [r["label"] for r in rows] == ["/", "/blog/a", "/blog/b", "/shop"]
    _, rows = get(**base, filter_sort_column="label", filter_sort_order="asc", filter_offset=1, filter_limit=2)
    assert [r["label"] for r in rows] == ["/blog/a", "/blog/b"]
    _, rows = get(**base, filter_pattern="^/BLOG")
    assert len(rows) == 2
    _, rows = get(**base, showColumns="nb_hits")
    assert all(set(r) == {"label", "nb_hits"} for r in rows)
    _, rows = get(**base, hideColumns="url,nb_hits")
    assert all("url" not in r and "nb_hits" not in r and "nb_visits" in r for r in rows)
    _, rows = get(**base, filter_limit=-1)
    assert len(rows) == 4
    assert is_error(get(**base, filter_pattern="("))
    assert is_error(get(**base, filter_limit="ten"))


def test_csv_tsv_and_xml(client, site, token):
    params = {"idSite": site.pk, "method": "Actions.getPageUrls", "period": "day", "date": D, "flat": 1,
              "token_auth": token, "module": "API"}
    response = client.get("/index.php", {**params, "format": "csv"}, HTTP_HOST="localhost")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["label"] for r in rows} == {"/", "/blog/a", "/blog/b", "/shop"} and "nb_hits" in rows[0]
    response = client.get("/index.php", {**params, "format": "tsv"}, HTTP_HOST="localhost")
    assert response.content.decode().splitlines()[0].split("\t")[0] == "label"
    response = client.get("/index.php", {**params, "format": "xml"}, HTTP_HOST="localhost")
    root = ET.fromstring(response.content)
    assert root.tag == "result" and len(root.findall("row")) == 4 and root.find("row/nb_hits") is not None
    response = client.get("/index.php", {**params, "format": "xml", "period": "yyy"}, HTTP_HOST="localhost")
    assert ET.fromstring(response.content).find("error").get("message").startswith("period must be")
    response = client.get("/index.php", {**params, "format": "php"}, HTTP_HOST="localhost")
    assert response.status_code == 200 and "format=php is not supported" in response.json()["message"]


def test_multi_period_csv_and_xml_carry_the_date(client, site, token):
    params = {"idSite": site.pk, "method": "VisitsSummary.get", "period": "day", "date": "last2",
              "token_auth": token, "module": "API"}
    text = client.get("/index.php", {**params, "format": "csv"}, HTTP_HOST="localhost").content.decode()
    assert text.splitlines()[0].startswith("date,") and len(text.splitlines()) == 3
    root = ET.fromstring(client.get("/index.php", {**params, "format": "xml"}, HTTP_HOST="localhost").content)
    assert root.tag == "results" and len(root.findall("result[@date]")) == 2


def test_live_last_visits_details_have_matomos_fields_and_action_details(get):
    status, visits = get(method="Live.getLastVisitsDetails", filter_limit=10)
    assert status == 200 and len(visits) == 5
    for field in ("idSite", "idVisit", "visitorId", "actions", "visitDuration", "serverTimestamp", "referrerType",
                  "referrerName", "deviceType", "browserName", "operatingSystemName", "countryCode",
                  "actionDetails"):
        assert field in visits[0]
    carol = next(v for v in visits if v["visitorId"] == "c" * 16)
    assert (carol["country"], carol["countryCode"], carol["language"], carol["languageCode"]) == \
        ("Spain", "es", "Spanish", "es-es")
    _, two = get(method="Live.getLastVisitsDetails", filter_limit=2, filter_offset=1)
    assert [v["idVisit"] for v in two] == [v["idVisit"] for v in visits[1:3]]
    status, body = get(method="Live.getLastVisitsDetails", segment="visitCount>1")  # Alice's second visit
    assert status == 200 and [(v["visitorId"], v["visitCount"]) for v in body] == [(ALICE, 2)]


def test_live_visitor_profile_and_counters(get):
    _, profile = get(method="Live.getVisitorProfile", visitorId=ALICE)
    assert profile["totalVisits"] == 2 and len(profile["lastVisits"]) == 2
    assert is_error(get(method="Live.getVisitorProfile", visitorId="nope"))
    assert get(method="Live.getCounters", lastMinutes=30) == (200, [{"visits": 1, "actions": 2, "visitors": 1,
                                                                     "visitsConverted": 0}])


def test_sites_manager_describes_the_site(get, site):
    _, row = get(method="SitesManager.getSiteFromId")
    assert row["idsite"] == site.pk and row["name"] == site.name and row["currency"] == "EUR"
    assert {"main_url", "timezone", "ts_created"} <= row.keys()
    assert get(method="SitesManager.getSitesIdFromSiteUrl", url="http://www.s.example/x") == (200, [{"idsite": site.pk}])
    assert get(method="SitesManager.getSitesIdFromSiteUrl", url="https://elsewhere.example") == (200, [])
    _, listed = get(method="SitesManager.getSitesWithAtLeastViewAccess")
    assert [r["idsite"] for r in listed] == [site.pk]


def test_report_metadata_lists_every_report(get):
    _, metadata = get(method="API.getReportMetadata")
    assert {m["module"] + "." + m["action"] for m in metadata} == set(service.report_names())


def test_bulk_request_answers_each_url_in_order(get, site):
    urls = {"urls[0]": urlencode({"method": "VisitsSummary.getVisits", "idSite": site.pk, "period": "day", "date": D}),
            "urls[1]": urlencode({"method": "Nope.nothing"}),
            "urls[2]": urlencode({"method": "Actions.getPageUrls", "idSite": site.pk, "period": "day", "date": D,
                                  "flat": 1})}
    status, body = get(method="API.getBulkRequest", **urls)
    assert status == 200 and body[0] == {"value": 4} and body[1]["result"] == "error" and len(body[2]) == 4


def test_the_site_domain_and_the_root_path_answer_too(client, site, token):
    host = f"{site.slug}.localhost"
    status, body = call_api(client, host, path="/", token_auth=token, method="VisitsSummary.getVisits",
                            period="day", date=D)
    assert (status, body) == (200, {"value": 4})
    assert call_api(client, path="/", token_auth=token, idSite=site.pk, method="VisitsSummary.getVisits",
                    period="day", date=D) == (200, {"value": 4})
    assert client.get("/", HTTP_HOST="localhost").status_code == 200  # the portal's home page is still there


def test_token_auth_in_the_post_body(client, site, token):
    status, body = call_api(client, post={"token_auth": token}, idSite=site.pk, method="VisitsSummary.getVisits",
                            period="day", date=D)
    assert (status, body) == (200, {"value": 4})


@pytest.mark.parametrize("period,date", [("week", "9999-12-31"), ("day", "1991-08-05"), ("year", "last366")])
def test_dates_out_of_matomos_range_are_refused(get, period, date):
    status, body = get(method="VisitsSummary.get", period=period, date=date)
    assert status == 200 and "date=" in body["message"]


def test_a_range_reaching_back_to_1991_builds_nothing_before_the_sites_first_visit(client):
    from analytics.models import Archive
    from farm.tenancy import in_tenant

    site = make_instance("young", state="publie")
    token = token_create(user=site.owner, description="t")[1]
    response = client.get("/index.php", {"module": "API", "method": "VisitsSummary.get", "idSite": site.pk,
                                         "period": "range", "date": "1991-08-06,2026-06-01", "format": "json",
                                         "token_auth": token}, HTTP_HOST="localhost")
    assert response.status_code == 200 and response.json()["nb_visits"] == 0
    with in_tenant(site):
        assert not Archive.objects.exists()


def test_live_last_visits_details_keep_to_the_period_and_date_when_given(get):
    _, that_day = get(method="Live.getLastVisitsDetails", period="day", date=DAY.date().isoformat())
    assert len(that_day) == 4 and {v["serverDate"] for v in that_day} == {DAY.date().isoformat()}
    _, today = get(method="Live.getLastVisitsDetails", period="day", date="today")
    assert len(today) == 1
    assert is_error(get(method="Live.getLastVisitsDetails", period="day", date="someday"))


def test_countries_and_languages_are_named_in_english_with_their_code(get):
    _, countries = get(method="UserCountry.getCountry", period="day", date=D)
    assert {(row["label"], row["code"], row["nb_visits"]) for row in countries} == {("Spain", "es", 1),
                                                                                   ("Unknown", "xx", 3)}
    _, languages = get(method="UserLanguage.getLanguage", period="day", date=D, filter_pattern="span")
    assert [(row["label"], row["code"]) for row in languages] == [("Spanish", "es")]


def test_rates_are_matomos_percent_strings_or_quotients_with_format_metrics_0(get):
    _, summary = get(method="VisitsSummary.get", period="day", date=D)
    assert (summary["bounce_count"], summary["nb_visits"], summary["bounce_rate"]) == (2, 4, "50%")
    _, raw = get(method="VisitsSummary.get", period="day", date=D, format_metrics="0")
    assert raw["bounce_rate"] == 0.5 and raw["nb_visits"] == 4
    _, goals = get(method="Goals.get", period="day", date=D)
    assert goals["conversion_rate"] == "50%"  # Alice converted in both her visits, Bob and Carol did not
    _, frequency = get(method="VisitFrequency.get", period="day", date=D)
    assert (frequency["bounce_rate_new"], frequency["bounce_rate_returning"]) == ("33%", "100%")
    status, error = get(method="VisitsSummary.get", period="day", date=D, format_metrics="pretty")
    assert status == 200 and "format_metrics" in error["message"]


def test_sorting_by_a_rate_sorts_by_its_value_not_its_text(get):
    _, pages = get(method="Actions.getPageUrls", period="day", date=D, flat="1", filter_sort_column="exit_rate",
                   filter_sort_order="asc", showColumns="exit_rate,nb_visits,exit_nb_visits")
    rates = [float(row["exit_rate"].rstrip("%")) for row in pages]
    assert rates == sorted(rates) and all(row["exit_rate"].endswith("%") for row in pages)
    assert {row["label"]: row["exit_rate"] for row in pages}["/blog/a"] == "0%"  # Alice went on to /blog/b


def test_names_are_english_whatever_language_the_callers_browser_prefers(client, site, token):
    params = {"module": "API", "method": "UserCountry.getCountry", "idSite": site.pk, "period": "day", "date": D,
              "token_auth": token}
    rows = client.get("/index.php", params, HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert {row["label"] for row in rows} == {"Spain", "Unknown"}


def test_names_come_in_the_language_asked_for(get):
    _, rows = get(method="UserCountry.getCountry", period="day", date=D, language="fr")
    assert {row["label"] for row in rows} == {"Espagne", "Inconnu"}
    status, body = get(method="UserCountry.getCountry", period="day", date=D, language="<script>")
    assert status == 200 and "language" in body["message"]
