"""Tracking parameters: each one typed and bounded, table-driven; refusals name the parameter."""
import pytest
from django.core.exceptions import ValidationError

from analytics.tracking.params import InvalidParameter, parse_request
from analytics.tracking.visitors import campaign, mask_ip, referrer
from instances.privacy import ip_excluded, user_agent_excluded, validate_excluded_ips

VALID = [
    ("rec", "1", 1), ("url", "https://example.org/a?b=c", "https://example.org/a?b=c"), ("action_name", "Home", "Home"),
    ("urlref", "https://www.google.com/search?q=bees", None), ("_id", "0123456789abcdef", None),
    ("cid", "ABCDEF0123456789", None), ("uid", "alice@example.org", None), ("new_visit", "1", 1),
    ("res", "1280x800", "1280x800"), ("h", "23", 23), ("m", "59", 59), ("s", "0", 0), ("lang", "fr-FR", None),
    ("ua", "Mozilla/5.0", None), ("uadata", '{"brands": []}', {"brands": []}), ("cookie", "1", 1), ("pdf", "0", 0),
    ("_rcn", "spring", None), ("_rck", "bees", None), ("link", "https://elsewhere.org/", None),
    ("download", "https://example.org/a.pdf", None), ("search", "honey", None), ("search_cat", "food", None),
    ("search_count", "12", 12), ("pv_id", "a1B2c3", None), ("e_c", "Video", None), ("e_a", "Play", None),
    ("e_n", "intro", None), ("e_v", "3.5", 3.5), ("c_n", "banner", None), ("c_p", "img.png", None),
    ("c_t", "https://example.org/t", None), ("c_i", "click", None), ("idgoal", "0", 0), ("revenue", "9.99", 9.99),
    ("ec_id", "A-1", None), ("ec_items", '[["sku1", "Jar", ["Food", "Honey"], 9.5, 2]]', [["sku1", "Jar", ["Food", "Honey"], 9.5, 2]]), ("ec_st", "19", 19.0),
    ("ec_tx", "1", 1.0), ("ec_sh", "2", 2.0), ("ec_dt", "0", 0.0), ("_pkc", "Honey", None), ("_pks", "sku1", None),
    ("_pkn", "Jar", None), ("_pkp", "9.5", 9.5), ("pf_net", "12", 12), ("pf_srv", "30", 30), ("pf_tfr", "4", 4),
    ("pf_dm1", "100", 100), ("pf_dm2", "20", 20), ("pf_onl", "5", 5), ("ping", "1", 1), ("bots", "1", 1),
    ("send_image", "0", 0), ("ma_id", "v1", None), ("ma_re", "https://example.org/v.mp4", None),
    ("ma_mt", "video", "video"), ("ma_ti", "Intro", None), ("ma_pn", "html5", None), ("ma_st", "30", 30),
    ("ma_le", "120", 120), ("ma_ps", "45", 45), ("ma_ttp", "2", 2), ("ma_w", "640", 640), ("ma_h", "360", 360),
    ("ma_fs", "1", 1), ("ma_se", "30,60", None), ("cip", "203.0.113.9", "203.0.113.9"),
    ("token_auth", "farm_abc", None), ("_idvc", "3", 3), ("dimension1", "gold", None),
]

INVALID = [
    ("idsite", "abc", "not an integer"), ("idsite", "0", "between"), ("rec", "2", "between"),
    ("_id", "xyz", "unexpected format"), ("cid", "0123", "unexpected format"), ("res", "big", "1280x800"),
    ("h", "24", "between"), ("uadata", "{not json", "not valid JSON"), ("uadata", "[1]", "JSON object"),
    ("e_v", "NaN", "number"), ("e_v", "abc", "not a number"), ("revenue", "-1", "between"),
    ("ec_items", '{"a": 1}', "JSON array"), ("ec_items", "[[{}]]", "wrong type"), ("ec_items", "[1, 2]", "items must"),
    ("ma_mt", "gif", "one of"), ("cip", "999.1.1.1", "not an IP"), ("cdt", "yesterday", "Unix timestamp"),
    ("search", "x" * 300, "longer than"), ("url", "\ud800", "not valid Unicode"),
    ("ec_items", '[["s", "n", "c", NaN, 1]]', "not valid JSON"), ("ec_items", '[["s", "n", "c", 1e309, 1]]', "out of range"),
    ("ec_items", '[["s", "n", "c", 1, 100000000000000000000]]', "out of range"), ("cdt", "1999-12-31 23:59:59", "year 2000"),
    ("_viewts", str(2**40), "between"), ("pv_id", "no spaces!", "unexpected format"), ("dimension1", "x" * 300,
                                                                                          "longer than"),
    ("action_name", "a\x00b", "NUL"),
]


@pytest.mark.parametrize("name, value, expected", VALID)
def test_valid_parameters_are_parsed(name, value, expected):
    parsed = parse_request({"idsite": "1", name: value})
    if name.startswith("dimension"):
        assert parsed["dimensions"] == {1: value}
    else:
        assert parsed[name] == (value if expected is None else expected)


@pytest.mark.parametrize("name, value, why", INVALID)
def test_invalid_parameters_are_refused_naming_the_parameter(name, value, why):
    raw = {"idsite": "1", name: value} if name != "idsite" else {"idsite": value}
    with pytest.raises(InvalidParameter) as raised:
        parse_request(raw)
    assert raised.value.name == name and why in str(raised.value)


def test_long_urls_and_titles_are_cut_as_matomo_does_not_refused():
    parsed = parse_request({"idsite": "1", "url": "https://x.org/?" + "a" * 5000, "action_name": "t" * 2000})
    assert len(parsed["url"]) == 2048 and len(parsed["action_name"]) == 1024


def test_idsite_is_required_and_unknown_parameters_are_ignored():
    with pytest.raises(InvalidParameter, match="idsite"):
        parse_request({"rec": "1"})
    assert parse_request({"idsite": "3", "whatever": "x"}) == {"idsite": 3}


def test_cdt_accepts_unix_timestamps_and_dates():
    assert parse_request({"idsite": "1", "cdt": "1767225600"})["cdt"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert parse_request({"idsite": "1", "cdt": "2026-01-01 10:00:00"})["cdt"].hour == 10


def test_ip_addresses_are_masked_before_use():
    assert mask_ip("203.0.113.97") == "203.0.0.0"
    assert mask_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert mask_ip("garbage") is None


@pytest.mark.parametrize(("mask_bytes", "ipv4", "ipv6"), [
    (0, "203.0.113.97", "2001:db8:1234:5678::1"),
    (1, "203.0.113.0", "2001:db8:1234:5678::"),
    (2, "203.0.0.0", "2001:db8:1234::"),
    (3, "203.0.0.0", "2001:db8::"),
])
def test_each_masking_level_keeps_what_it_says(mask_bytes, ipv4, ipv6):
    assert mask_ip("203.0.113.97", mask_bytes=mask_bytes) == ipv4
    assert mask_ip("2001:db8:1234:5678::1", mask_bytes=mask_bytes) == ipv6


@pytest.mark.parametrize(("ip", "excluded"), [
    ("192.0.2.7", True), ("192.0.2.8", False), ("10.200.1.1", True), ("192.168.44.3", True),
    ("172.16.0.1", False), ("2001:db8:ffff::1", True), ("2001:db9::1", False), ("not-an-ip", False), ("", False),
])
def test_excluded_ips_take_addresses_ranges_and_wildcards(ip, excluded):
    setting = "192.0.2.7\n10.0.0.0/8\n# a comment\n192.168.*.*\n2001:db8::/32\n"
    assert ip_excluded(ip, setting) is excluded


def test_a_bad_excluded_ip_line_is_named_in_the_error():
    with pytest.raises(ValidationError, match="192.168.1.300"):
        validate_excluded_ips("10.0.0.0/8\n192.168.1.300\n")
    with pytest.raises(ValidationError, match=r"1\.\*\.2\.\*"):
        validate_excluded_ips("1.*.2.*")
    validate_excluded_ips("  \n10.1.*.*\n::1\n")


def test_excluded_user_agents_match_substrings_case_insensitively():
    assert user_agent_excluded("Mozilla/5.0 (compatible; UptimeRobot/2.0)", "uptimerobot\nPingdom")
    assert not user_agent_excluded("Mozilla/5.0 Firefox/120.0", "uptimerobot\nPingdom")
    assert not user_agent_excluded("anything", "")


def test_campaigns_come_from_rcn_or_the_url():
    assert campaign({"_rcn": "Spring", "_rck": "bees"}) == ("Spring", "bees")
    assert campaign({"url": "https://x.org/?utm_campaign=news&utm_term=honey"}) == ("news", "honey")
    assert campaign({"url": "https://x.org/?mtm_campaign=m"}) == ("m", "")
    assert campaign({"url": "https://x.org/"}) == ("", "")


@pytest.mark.parametrize("urlref, expected", [
    ("", ("direct", "", "")),
    ("https://www.bees.example/page", ("direct", "", "")),
    ("https://www.google.com/search?q=honey", ("search", "Google", "honey")),
    ("https://duckduckgo.com/?q=bees", ("search", "Duckduckgo", "bees")),
    ("https://t.co/abc", ("social", "X", "")),
    ("https://blog.example.net/post", ("website", "blog.example.net", "")),
])
def test_referrers_are_classified(urlref, expected):
    assert referrer(urlref, {"bees.example"}) == expected


def test_a_parameter_name_that_is_not_unicode_is_refused():
    """A JSON key in a bulk request may hold a lone surrogate; no queue entry can carry it."""
    with pytest.raises(InvalidParameter, match="not valid Unicode"):
        parse_request({"idsite": "1", "dimension\udc80": "x"})


def test_hit_ids_are_uuid7_growing_with_time():
    import time
    import uuid

    from analytics.tracking.accept import new_hit_id

    first = new_hit_id()
    time.sleep(0.002)
    ids = [uuid.UUID(new_hit_id()) for _ in range(1000)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == 1000
    assert all(str(i) > first for i in ids)  # a later millisecond sorts after, as text and in the index
    assert abs((ids[0].int >> 80) - time.time() * 1000) < 5000  # its first 48 bits: now, in ms
