"""The country lookup's compact table: bisection over ranges, and the file kept between processes."""
from array import array

import pytest

from analytics.tracking import country

TABLES = {4: (array("I", [16777216, 16781312]), array("I", [16777471, 16785407]), ["AU", "CN"]),
          6: ([0x20010DB8 << 96], [(0x20010DB8 << 96) | (1 << 96) - 1], ["ZZ"])}


def test_a_table_read_back_from_its_file_is_the_same_table():
    assert country._decode(country._encode(TABLES)) == TABLES


@pytest.mark.parametrize("blob", [b"", b"not a table", country._encode(TABLES)[:-3]])
def test_a_file_that_is_not_a_whole_table_is_refused(blob):
    with pytest.raises(ValueError):
        country._decode(blob)


def test_addresses_are_looked_up_by_range_and_junk_is_unknown(monkeypatch):
    monkeypatch.setattr(country, "_tables", TABLES)
    assert [country.country_of(a) for a in ("1.0.0.7", "1.0.16.1", "1.0.1.0", "2001:db8::1", "2001:db9::", "junk",
                                            "", None)] == ["AU", "CN", "", "ZZ", "", "", "", ""]
