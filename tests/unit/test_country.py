"""The country lookup's compact table: bisection over ranges, and the file kept between processes."""
import os
import subprocess
import sys
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


_MEASURE = """
from analytics.tracking import country
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20
before = rss()
found = country.country_of("8.8.8.8")
print(found, round(rss() - before))
"""


def _first_lookup(env: dict) -> tuple[str, int, str]:
    """(country of 8.8.8.8, MB the process grew by, its stderr) in a fresh Python process."""
    done = subprocess.run([sys.executable, "-c", _MEASURE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found, grown = done.stdout.split()
    return found, int(grown), done.stderr


def test_the_first_process_builds_the_file_apart_and_keeps_none_of_that_memory(tmp_path):
    """Built in place, the library's pickles left 137 MB in the process that built the table (the
    Celery worker of a fresh machine's first `farm up`, for its whole life); read from the file,
    it costs about 11 MB. Both the builder and the reader now get the reader's cost."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "farm.settings", "FARM_COUNTRY_CACHE_DIR": str(tmp_path / "c")}
    first = _first_lookup(env)
    assert first[0] == "US" and first[1] < 40, first
    assert len(list((tmp_path / "c").glob("ip-to-country-*.bin"))) == 1
    again = _first_lookup(env)
    assert again[0] == "US" and again[1] < 40, again


def test_where_the_cache_folder_cannot_be_written_each_process_builds_its_own(tmp_path):
    (tmp_path / "a-file").write_text("")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "farm.settings",
           "FARM_COUNTRY_CACHE_DIR": str(tmp_path / "a-file" / "c")}
    found, _grown, stderr = _first_lookup(env)
    assert found == "US"
    assert "each process will build its own" in stderr
