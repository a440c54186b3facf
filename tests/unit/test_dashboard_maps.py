"""The world map's config: a report's countries as the map reads them, the unknown and the empty left out."""
from analytics.dashboard.maps import map_config
from analytics.dashboard.pages import chart_config

ROWS = [{"label": "fr", "nb_visits": 12, "nb_actions": 30}, {"label": "xx", "nb_visits": 7},
        {"label": "de", "nb_visits": 3}, {"label": "", "nb_visits": 2}, {"label": "es", "nb_visits": 0},
        {"label": "us", "nb_actions": 4}]


def test_the_map_shows_each_known_country_with_its_value_in_the_rows_order():
    assert map_config(ROWS, "nb_visits", "Visits") == chart_config("map", ["fr", "de"], [12, 3], "Visits")


def test_the_map_reads_the_metric_it_is_given_and_keeps_codes_lowercase():
    config = map_config(ROWS, "nb_actions", "Actions")
    assert config == {"type": "map", "labels": ["fr", "us"], "values": [30, 4], "label": "Actions"}


def test_a_period_without_a_known_country_gives_an_empty_map():
    assert map_config([{"label": "xx", "nb_visits": 5}], "nb_visits", "Visits")["values"] == []
    assert map_config([], "nb_visits", "Visits") == chart_config("map", [], [], "Visits")
