"""Country and language codes read as names, in the active language; unknown codes never fail."""
from django.utils import translation

from analytics.reports import labels


def test_country_names_follow_the_active_language():
    assert labels.country_name("de") == "Germany" and labels.country_name("xx") == "Unknown"
    with translation.override("fr"):
        assert labels.country_name("de") == "Allemagne" and labels.country_name("") == "Inconnu"


def test_language_names_follow_the_active_language():
    assert labels.language_name("de") == "German"
    with translation.override("fr"):
        assert labels.language_name("de") == "Allemand"


def test_every_language_a_browser_sends_has_a_name_and_unknown_codes_read_as_themselves():
    assert labels.language_name("zh") == "Chinese" and labels.language_name("gu") == "Gujarati"
    assert labels.country_name("qz") == "QZ" and labels.language_name("qq") == "qq"
