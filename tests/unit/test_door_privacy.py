"""What a hit's URLs and user id become at the door: query parameters removed (Matomo's list of click
and session ids, and the site's own), referrers shortened, user ids pseudonymised."""
from instances.privacy import DEFAULT_EXCLUDED_PARAMETERS, excluded_parameters, referrer_anonymised, url_stripped

NAMES = excluded_parameters("utm_id\nref, Token")


def test_the_site_adds_its_names_to_matomos():
    assert {"utm_id", "ref", "token", "phpsessid", "gclid", "fbclid"} <= NAMES
    assert excluded_parameters("") == frozenset(DEFAULT_EXCLUDED_PARAMETERS)


def test_query_parameters_are_removed_case_insensitively_from_the_query_and_a_query_like_fragment():
    cases = {
        "https://s.example/": "https://s.example/",
        "https://s.example/p?PHPSESSID=1": "https://s.example/p",
        "https://s.example/p?a=1&JSESSIONID=x&b=&c": "https://s.example/p?a=1&b=&c",
        "https://s.example/p?a=1#gclid=9&x=1": "https://s.example/p?a=1#x=1",
        "https://s.example/p#section-2": "https://s.example/p#section-2",
        "https://s.example/p?token=1&Token=2#sid=3": "https://s.example/p",
        "/relative?fbclid=1&q=honey": "/relative?q=honey",
        "https://s.example/p?&&a=1": "https://s.example/p?a=1",
        "https://s.example/page;jsessionid=ABC?x=1": "https://s.example/page?x=1",  # a servlet's session id
        "https://s.example/a;b=1;SID=2": "https://s.example/a;b=1",
    }
    for url, expected in cases.items():
        assert url_stripped(url, NAMES) == expected, url


def test_referrers_keep_what_the_site_says():
    url = "https://www.google.com/search?q=honey#x"
    assert referrer_anonymised(url, "none") == url
    assert referrer_anonymised(url, "query") == "https://www.google.com/search"
    assert referrer_anonymised(url, "path") == "https://www.google.com/"
    assert referrer_anonymised("not a url", "path") == "" and referrer_anonymised("", "query") == ""
    assert referrer_anonymised("http://[::1", "query") == ""  # malformed: nothing kept rather than a crash
    assert referrer_anonymised("https://bob:secret@intranet.example:8443/x?y=1", "query") == \
        "https://intranet.example:8443/x"  # never the credentials
    assert referrer_anonymised("http://[2001:db8::1]/x", "path") == "http://[2001:db8::1]/"
