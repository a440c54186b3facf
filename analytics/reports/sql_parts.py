"""SQL expressions the day reports share (analytics.reports.definitions and .media): one spelling each."""
from analytics.reports.labels import UNKNOWN as UNKNOWN_CODE

UNKNOWN = "Unknown"


def or_unknown(expr: str, fallback: str = UNKNOWN) -> str:
    """`expr`, or `fallback` when it is NULL or empty: rows keep a label people can read."""
    return f"COALESCE(NULLIF({expr}, ''), '{fallback}')"


def country_code(alias: str = "v") -> str:
    """A visit's country as the reports key it: the lower-case ISO code, "xx" when unknown."""
    return or_unknown(f"lower({alias}.country)", UNKNOWN_CODE)


def as_int64(column: str) -> str:
    """A 16-hex visitor id as a 64-bit number (the exact visitor sets); any other text, a user id
    for one, hashed to 64 bits."""
    return (f"('x' || CASE WHEN {column} ~ '^[0-9a-f]{{16}}$' THEN {column} ELSE left(md5({column}), 16) END)"
            "::bit(64)::bigint")
