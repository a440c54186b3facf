"""The Reporting API's pure parts: parameters, generic filters, the page-URL tree, renderers. No database."""
import json
import xml.etree.ElementTree as ET

import pytest

from analytics.api import tables
from analytics.api.errors import ApiError
from analytics.api.filters import rows_filtered
from analytics.api.formats import Keyed, error, render
from analytics.api.params import Params

ROWS = [{"label": "/b", "nb_hits": 1}, {"label": "/a", "nb_hits": 3}, {"label": "/c", "nb_hits": 2},
        {"label": "/d"}]


def test_the_post_body_wins_and_the_anonymous_token_counts_as_none():
    assert Params({"token_auth": "anonymous"}).token is None
    sub = Params.of("?method=X.y&idSite=2", inherit=Params({"token_auth": "farm_x"}))
    assert sub.values == {"method": "X.y", "idSite": "2", "token_auth": "farm_x"}
    assert Params({"urls[1]": "b", "urls[0]": "a", "urls[]": "c"}).bulk_urls() == ["a", "b"]


@pytest.mark.parametrize("raw", ["x", "-2", "1.5", "1" * 12])
def test_bad_integers_are_refused_with_the_accepted_range(raw):
    with pytest.raises(ApiError, match="whole number from -1"):
        Params({"filter_limit": raw}).integer("filter_limit", 100, minimum=-1)


def test_sort_puts_rows_without_the_column_last_and_limit_minus_one_keeps_all():
    rows = rows_filtered(ROWS, Params({"filter_sort_column": "nb_hits", "filter_limit": "-1"}))
    assert [r["label"] for r in rows] == ["/a", "/c", "/b", "/d"]
    rows = rows_filtered(ROWS, Params({"filter_sort_column": "label", "filter_sort_order": "asc",
                                       "filter_limit": "2", "filter_offset": "1"}))
    assert [r["label"] for r in rows] == ["/b", "/c"]


def test_page_tree_nests_folders_and_names_the_folder_page_index():
    rows = [{"label": "/", "nb_hits": 1}, {"label": "/docs/", "nb_hits": 1}, {"label": "/docs/api/x", "nb_hits": 2}]
    top, subtables = tables.page_tree("Actions.getPageUrls", rows, base_url="https://e.org")
    docs = next(r for r in top if r["label"] == "docs")
    assert docs["nb_hits"] == 3 and {r["label"] for r in top} == {"docs", "/index"}
    inner = subtables[docs["idsubdatatable"]]
    assert {r["label"] for r in inner} == {"/index", "api"}
    api = next(r for r in inner if r["label"] == "api")
    assert subtables[api["idsubdatatable"]][0]["url"] == "https://e.org/docs/api/x"


def test_keyed_answers_render_with_their_key_in_every_format():
    data = Keyed("date", {"2026-06-01": [{"label": "a\x01", "n": 1}], "2026-06-02": []})
    assert json.loads(render(data, "json").content) == {"2026-06-01": [{"label": "a\x01", "n": 1}], "2026-06-02": []}
    assert render(data, "csv").content.decode().splitlines() == ["date,label,n", "2026-06-01,a\x01,1"]
    root = ET.fromstring(render(data, "xml").content)
    assert [r.get("date") for r in root.findall("result")] == ["2026-06-01", "2026-06-02"]
    assert ET.fromstring(error("bad <thing>", "xml").content).find("error").get("message") == \
        "bad <thing>"


def test_a_stream_renders_the_same_json_as_its_rows_wherever_it_sits():
    from analytics.api.formats import Stream

    rows = [{"idVisit": n, "label": f"v{n}"} for n in range(3)]
    for data, plain in [(Stream(lambda: iter(rows)), rows),
                        (Keyed("idSite", {1: Stream(lambda: iter(rows)), 2: Stream(lambda: iter([]))}),
                         {"1": rows, "2": []}),
                        ([{"value": 4}, Keyed("idSite", {3: Stream(lambda: iter(rows))})], [{"value": 4}, {"3": rows}])]:
        response = render(data, "json")
        assert response.streaming and json.loads(b"".join(response.streaming_content)) == plain
    assert render(Stream(lambda: iter(rows)), "csv").content.decode().split("\r\n")[1] == "0,v0"


def test_only_text_cells_that_start_like_a_formula_are_quoted_in_csv():
    text = render([{"a": "=1+1", "b": "@x", "c": -4, "d": "a=b", "e": 2.5, "f": "-"}], "tsv").content.decode()
    assert text.split("\r\n")[1].split("\t") == ["'=1+1", "'@x", "-4", "a=b", "2.5", "'-"]


def test_errors_come_in_matomos_shape_for_each_format():
    assert json.loads(error("nope", "json").content) == {"result": "error", "message": "nope"}
    for fmt in ("csv", "tsv"):
        response = error("nope", fmt)
        assert response.content == b"Error: nope" and response["Content-Type"].startswith("text/plain")
    assert error("who?", "json", status=401).status_code == 401 and error("x", "xml").status_code == 200


def test_filter_pattern_is_re2_and_case_insensitive():
    rows = [{"label": "/Blog/a"}, {"label": "/shop"}]
    assert rows_filtered(rows, Params({"filter_pattern": "^/blog"})) == [{"label": "/Blog/a"}]
    with pytest.raises(ApiError, match="RE2 syntax"):
        rows_filtered(rows, Params({"filter_pattern": r"(?<=x)a"}))
