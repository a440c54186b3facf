"""The positions played of a media session: the union of every ping's, whatever their order."""
from hypothesis import given
from hypothesis import strategies as st

from analytics.tracking.media import positions_union


def test_later_pings_with_fewer_positions_add_to_what_was_played():
    assert positions_union("", "0,5,10") == "0,5,10"
    assert positions_union("0,5,10", "0,5") == "0,5,10"  # a ping that arrived late
    assert positions_union("0,5,10", "40,45") == "0,5,10,40,45"  # a seek forward


def test_odd_positions_are_ignored_and_decimals_floored():
    assert positions_union("5", " 7.9 , x, -3, ,2592001,10") == "5,7,10"


def test_the_union_stays_within_the_column_dropping_the_latest_positions():
    text = positions_union("", ",".join(str(s) for s in range(0, 20_000, 5)), limit=40)
    assert len(text) <= 40 and text.startswith("0,5,10") and not text.endswith(",")


@given(st.lists(st.lists(st.integers(0, 5000), max_size=30), min_size=1, max_size=6), st.randoms())
def test_any_order_of_pings_gives_the_same_positions(pings, rnd):
    def fold(order):
        stored = ""
        for ping in order:
            stored = positions_union(stored, ",".join(map(str, ping)))
        return stored

    shuffled = pings[:]
    rnd.shuffle(shuffled)
    assert fold(pings) == fold(shuffled) == ",".join(map(str, sorted({p for ping in pings for p in ping})))
