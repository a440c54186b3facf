"""Errors as Matomo answers them: HTTP 200 with result=error in every format, 401 for access only, never a
500; filter_pattern cannot hold a worker; csv cells from tracked data never run as spreadsheet formulas."""
import csv
import io
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest

from analytics.api import methods
from analytics.api.methods import Method
from instances.tokens import token_create
from tests.factories import make_instance
from tests.integration.analytics.api_traffic import DAY, call_api, is_error, make_traffic
from tests.integration.analytics.test_ingest import hit, store

pytestmark = pytest.mark.django_db
D = DAY.date().isoformat()


@pytest.fixture
def site():
    instance = make_instance("errsite", state="publie")
    make_traffic(instance)
    return instance


@pytest.fixture
def get(client, site):
    token = token_create(user=site.owner)[1]

    def call(**params):
        params.setdefault("idSite", site.pk)
        return call_api(client, token_auth=token, **params)
    return call


@pytest.fixture
def raw(client, site):
    """The raw response of a call with the owner's token."""
    token = token_create(user=site.owner)[1]

    def call(**params):
        return client.get("/index.php", {"module": "API", "idSite": site.pk, "token_auth": token, **params},
                          HTTP_HOST="localhost")
    return call


def test_an_unknown_method_is_answered_with_http_200_and_matomos_error_body(get):
    status, body = get(method="Nope.nothing")
    assert status == 200 and body["result"] == "error" and "does not exist" in body["message"]


@pytest.mark.parametrize("params,fragment", [
    ({"method": "VisitsSummary.get", "period": "fortnight", "date": D}, "period must be"),
    ({"method": "VisitsSummary.get", "period": "day"}, "'date' is missing"),
    ({"method": "Actions.getPageUrls", "period": "day", "date": D, "filter_limit": "many"}, "filter_limit"),
    ({"method": "VisitsSummary.get", "period": "day", "date": D, "format": "php"}, "format=php"),
    ({"method": "NoDot"}, "does not exist"),
])
def test_bad_parameters_unknown_methods_and_formats_are_errors_with_http_200(get, params, fragment):
    status, body = get(**params)
    assert is_error((status, body)) and fragment in body["message"], body


def test_the_error_comes_in_the_format_asked_for(raw):
    xml = raw(method="Nope.nothing", format="xml")
    assert xml.status_code == 200 and xml["Content-Type"].startswith("text/xml")
    assert "does not exist" in ET.fromstring(xml.content).find("error").get("message")
    for fmt in ("csv", "tsv"):
        text = raw(method="Nope.nothing", format=fmt)
        assert text.status_code == 200 and text.content.decode().startswith("Error: The method 'Nope.nothing'")


def test_access_errors_alone_carry_http_401(client, site, get):
    other = make_instance("errother", state="publie")
    assert call_api(client, idSite=site.pk, method="VisitsSummary.get", period="day", date=D)[0] == 401
    status, body = call_api(client, token_auth="farm_not_a_token", idSite=site.pk, method="VisitsSummary.get",
                            period="day", date=D)
    assert status == 401 and body["result"] == "error"
    status, body = get(idSite=other.pk, method="VisitsSummary.get", period="day", date=D)
    assert status == 401 and "'view' access" in body["message"]
    assert get(method="SitesManager.getAllSites")[0] == 401  # superuser only
    xml = client.get("/index.php", {"module": "API", "idSite": site.pk, "method": "VisitsSummary.get",
                                    "format": "xml"}, HTTP_HOST="localhost")
    assert xml.status_code == 401 and ET.fromstring(xml.content).find("error") is not None


def _broken(call):
    raise RuntimeError("a bug, with internals: /srv/secret/path")


def test_a_method_that_raises_is_logged_and_answered_as_an_error_never_a_500(get, monkeypatch, caplog):
    monkeypatch.setitem(methods.METHODS, "Broken.raise", Method(_broken, scope="site"))
    status, body = get(method="Broken.raise")
    assert is_error((status, body)) and "unexpected error" in body["message"]
    assert "/srv/secret" not in body["message"]  # internals stay in the log
    reference = body["message"].split("reference ")[1].split(")")[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and "a bug" in str(logged[0].exc_info[1])


def test_a_bulk_request_answers_each_failed_sub_request_in_its_slot(get, site, monkeypatch):
    monkeypatch.setitem(methods.METHODS, "Broken.raise", Method(_broken, scope="site"))
    urls = [{"method": "VisitsSummary.getVisits", "idSite": site.pk, "period": "day", "date": D},
            {"method": "Broken.raise", "idSite": site.pk},
            {"method": "VisitsSummary.getVisits", "idSite": 999999, "period": "day", "date": D},
            {"method": "VisitsSummary.get", "idSite": site.pk, "period": "week", "date": "someday"},
            {"method": "VisitsSummary.getVisits", "idSite": site.pk, "period": "day", "date": D}]
    status, body = get(method="API.getBulkRequest", **{f"urls[{i}]": urlencode(u) for i, u in enumerate(urls)})
    assert status == 200 and body[0] == body[4] == {"value": 4}
    assert [slot.get("result") for slot in body[1:4]] == ["error"] * 3
    assert "unexpected error" in body[1]["message"] and "'view' access" in body[2]["message"]


def test_a_catastrophic_filter_pattern_answers_at_once(site, get):
    store(site, [hit(site, DAY, url="https://s.example/long", action_name="A" * 1000 + "!", _id="e" * 16)])
    started = time.monotonic()
    status, rows = get(method="Actions.getPageTitles", period="day", date=D, filter_pattern="(a+)+$")
    # NB: Python's re needs ~5 s for 24 a's and doubles with each more; this label has 1000
    assert status == 200 and [r["label"] for r in rows] == ["Post A"] and time.monotonic() - started < 5
    _, titles = get(method="Actions.getPageTitles", period="day", date=D, filter_pattern="^a+!$")
    assert len(titles) == 1  # RE2 matches case-insensitively, as Matomo


@pytest.mark.parametrize("pattern", ["(", r"(a)\1", "(?=x)", "((a{100}){100}){100}"])
def test_a_pattern_re2_cannot_run_is_refused_with_matomos_error(get, pattern):
    status, body = get(method="Actions.getPageUrls", period="day", date=D, filter_pattern=pattern)
    assert is_error((status, body)) and "filter_pattern" in body["message"]


def test_csv_cells_from_tracking_never_reach_a_spreadsheet_as_formulas(site, raw):
    titles = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "Plain"]
    store(site, [hit(site, DAY, url=f"https://s.example/t{i}", action_name=title, _id=f"{i:016x}")
                 for i, title in enumerate(titles)])
    for fmt, delimiter in (("csv", ","), ("tsv", "\t")):
        text = raw(method="Actions.getPageTitles", period="day", date=D, format=fmt, filter_limit=-1).content.decode()
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
        labels = {row["label"] for row in rows}
        assert {"'" + t for t in titles[:-1]} | {"Plain"} <= labels, labels
        assert not any(label[:1] in "=+-@\t\r" for label in labels)


def test_negative_numbers_from_the_apis_own_metrics_stay_numbers_in_csv():
    from analytics.api.formats import render

    text = render([{"label": "-draft", "sum_daily_nb_uniq_visitors": -3, "rate": -0.5}], "csv").content.decode()
    assert text.split("\r\n") == ["label,sum_daily_nb_uniq_visitors,rate", "'-draft,-3,-0.5", ""]

