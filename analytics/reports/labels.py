"""Names for the codes the archives keep: countries (ISO 3166-1) and browser languages (ISO 639).

Archives store codes (short, stable, the same in every language); people, and Matomo's API, read
names: "Spain", not "es". Names come from the Unicode CLDR data Babel ships, in the active
language, so the dashboard says "Allemagne" where the API (English, as Matomo's default) says
"Germany", and every language a browser may send has a name (Django's own table lacks Chinese).
An unknown code ("xx") reads as "Unknown"; one CLDR does not know reads as itself.
"""
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from django.utils.translation import get_language, gettext

UNKNOWN = "xx"
NAMED = ("UserCountry.getCountry", "UserLanguage.getLanguage", "MediaAnalytics.getCountries")


@lru_cache(maxsize=32)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language, sep="-")
    except (ValueError, UnknownLocaleError):
        return Locale("en")


def country_name(code: str) -> str:
    if not code or code == UNKNOWN:
        return gettext("Unknown")
    return _locale(get_language() or "en").territories.get(code.upper()) or code.upper()


def language_name(code: str) -> str:
    if not code or code == UNKNOWN:
        return gettext("Unknown")
    name = _locale(get_language() or "en").languages.get(code.lower())
    return name[:1].upper() + name[1:] if name else code  # CLDR writes French language names in lower case


def name(report: str, code: str) -> str:
    """The name of a row's code in a report of NAMED."""
    return language_name(code) if report == "UserLanguage.getLanguage" else country_name(code)
