"""The reliability suite (issue #17): each test runs a short version in `make test` (CI) and its
long one under `make reliability` (FARM_RELIABILITY=long). `scale(short, long)` picks the size."""
import os

import pytest

LONG = os.environ.get("FARM_RELIABILITY") == "long"


def scale(short, long):
    return long if LONG else short


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/reliability/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.reliability)
