"""Slug rules and host normalisation: pure functions, no database."""
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from instances.errors import InvalidRequest
from instances.hosts import normalise_host
from instances.slugs import schema_name_for, slug_clean

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PG_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@given(st.text(max_size=60))
def test_any_accepted_slug_is_a_dns_label_and_a_valid_schema_name(raw):
    try:
        slug = slug_clean(raw)
    except InvalidRequest as refusal:
        assert str(refusal)  # every refusal says why
        return
    assert DNS_LABEL.match(slug)
    schema = schema_name_for(slug)
    assert PG_SCHEMA.match(schema) and not schema.startswith("pg_")


@given(st.from_regex(r"[a-z][a-z0-9]{2,20}(-[a-z0-9]{1,8}){0,2}", fullmatch=True))
def test_distinct_slugs_map_to_distinct_schemas(slug):
    other = slug.replace("-", "")
    if other != slug:
        assert schema_name_for(slug) != schema_name_for(other)


def test_slugs_are_lowercased_and_trimmed():
    assert slug_clean("  My-Blog ") == "my-blog"


@pytest.mark.parametrize("raw, host", [
    ("Blog.Example.ORG", "blog.example.org"),
    ("blog.localhost:8000", "blog.localhost"),
    ("blog.localhost.", "blog.localhost"),
    ("blog.localhost.:8000", "blog.localhost"),
    ("[::1]:8000", "[::1]"),
    ("127.0.0.1", "127.0.0.1"),
])
def test_hosts_are_normalised_before_lookup(raw, host):
    assert normalise_host(raw) == host
