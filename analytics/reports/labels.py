"""Names for the codes the archives keep: countries (ISO 3166-1) and browser languages (ISO 639-1).

Archives store codes (short, stable, the same in every language); people, and Matomo's API, read
names: "France", not "fr". Names come in the active language from django-countries' list and
Django's own language table, so the dashboard says "Allemagne" where the API (English, as
Matomo's default) says "Germany". An unknown code ("xx", or one neither table knows) reads as
"Unknown" or as itself.
"""
from django.utils.translation import get_language_info, gettext
from django_countries import countries

UNKNOWN = "xx"
NAMED = ("UserCountry.getCountry", "UserLanguage.getLanguage")


def country_name(code: str) -> str:
    if not code or code == UNKNOWN:
        return gettext("Unknown")
    return str(countries.name(code.upper())) or code.upper()


def language_name(code: str) -> str:
    if not code or code == UNKNOWN:
        return gettext("Unknown")
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def name(report: str, code: str) -> str:
    """The name of a row's code in a report of NAMED."""
    return country_name(code) if report == "UserCountry.getCountry" else language_name(code)
