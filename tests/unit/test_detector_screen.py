"""The screen in front of device-detector may let too much through, never too little."""
import regex

from analytics.tracking.detector import _without_lookarounds, required_literals

BOUNDED = r"(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)(?:{})"  # how device-detector wraps its patterns


def test_required_literals_are_what_every_match_contains():
    assert required_literals(BOUNDED.format(r"Chrome/(\d+)|Opera Mini")) == {"chrome/", "opera mini"}
    assert required_literals(r"(?:Nexus|Pixel) (\d+)") == {"nexus", "pixel"}
    assert required_literals(r"a?b+c*") == {"b"}
    assert required_literals(r"(?:foo)?bar|baz") == {"bar", "baz"}


def test_a_pattern_that_promises_no_literal_is_always_tried():
    assert required_literals(r"[a-z]+\d") is None
    assert required_literals(r"(?:x|\d)") is None  # one branch promises nothing
    assert required_literals(r"(?P<bad") is None  # unreadable: tried, never screened out


def test_without_lookarounds_matches_a_superset():
    pattern = r"A101[BC](?!M)|Tablet(?! PC)|(?<!IQM )Picasso"
    loose = _without_lookarounds(pattern)
    assert loose == r"A101[BC]|Tablet|Picasso"
    for text in ("A101BM", "Tablet PC", "IQM Picasso", "A101C", "Tablet"):
        if regex.search(pattern, text):
            assert regex.search(loose, text)
    assert _without_lookarounds(r"x(?=[)(])y") == "xy"  # parentheses inside a class are not groups
