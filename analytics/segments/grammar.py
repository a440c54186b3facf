"""Matomo's segment expressions read into conditions: `;` is AND, `,` is OR and binds tighter.

    parse("browserCode==FF,browserCode==CH;visitCount>2")
      -> ((Condition("browserCode", "==", "FF", 0), Condition("browserCode", "==", "CH", 15)),
          (Condition("visitCount", ">", "2", 31),))

As Matomo's SegmentExpression: the string is split on `;` then on `,` wherever they are not
escaped (`\\;`, `\\,`) and not the last character; each condition is URL-decoded, split at its
first operator, and its value URL-decoded once more (clients encode values, and Matomo decodes
twice). An empty value is allowed with `==` (null, empty or 0) and `!=` (the reverse) only.
Errors say where (the 0-based character position in the expression) and what is wrong.
"""
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

from analytics.reports.errors import ReportError

OPERATORS = ("==", "!=", ">=", ">", "<=", "<", "=@", "!@", "=^", "=$")  # tried in Matomo's order
IS_EMPTY, IS_NOT_EMPTY = "::NULL", "::NOT_NULL"  # `x==` and `x!=`
MAX_LENGTH = 8192
MAX_CONDITIONS = 100
OPERATOR = re.compile("|".join(re.escape(op) for op in OPERATORS))  # any operator, where it first stands
_CONDITION = re.compile(rf"^(.+?)({OPERATOR.pattern})(.*)$", re.S)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SegmentError(ReportError):
    """A segment that cannot be read; the message names the position and the problem."""


@dataclass(frozen=True)
class Condition:
    name: str
    operator: str  # one of OPERATORS, IS_EMPTY or IS_NOT_EMPTY
    value: str
    position: int  # where the condition starts in the expression


Segment = tuple[tuple[Condition, ...], ...]  # an AND of ORs


def _split(text: str, offset: int, delimiter: str) -> list[tuple[str, int]]:
    """`text` cut at each unescaped `delimiter` that is not its last character, with each part's offset."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == delimiter and i + 1 < len(text) and not (i > 0 and text[i - 1] == "\\"):
            parts.append((text[start:i], offset + start))
            start = i + 1
        i += 1
    parts.append((text[start:], offset + start))
    return parts


def _unescape(text: str) -> str:
    return text.replace("\\;", ";").replace("\\,", ",")


def _condition(text: str, position: int) -> Condition:
    decoded = unquote_plus(_unescape(text))
    if "\x00" in decoded or "\x00" in unquote_plus(decoded):
        raise SegmentError(f"The segment condition at position {position} holds a NUL character, which no value may hold.")
    match = _CONDITION.match(decoded)
    if not match:
        raise SegmentError(f"The segment condition “{decoded[:100]}” at position {position} is not valid: it needs a "
                           f"dimension, an operator ({' '.join(OPERATORS)}) and a value, as in visitCount>=2.")
    name, operator, value = match.group(1).strip(), match.group(2), unquote_plus(match.group(3))
    if not _NAME.match(name):
        raise SegmentError(f"“{name[:100]}” at position {position} is not a segment dimension name; "
                           "API.getSegmentsMetadata lists them.")
    if value == "":
        if operator not in ("==", "!="):
            raise SegmentError(f"The segment condition “{decoded[:100]}” at position {position} has no value: a value "
                               "may be left empty only with == (is empty) or != (is not empty).")
        operator = IS_EMPTY if operator == "==" else IS_NOT_EMPTY
    return Condition(name, operator, value, position)


def parse(expression: str | None) -> Segment:
    """The conditions of `expression` as an AND of ORs (empty for no segment). Raises SegmentError."""
    text = (expression or "").strip()
    if not text:
        return ()
    if len(text) > MAX_LENGTH:
        raise SegmentError(f"A segment may be at most {MAX_LENGTH} characters long.")
    offset = len(expression) - len(expression.lstrip())
    ands = [(part, at) for part, at in _split(text, offset, ";") if part]
    segment = tuple(tuple(_condition(condition, where) for condition, where in _split(part, at, ","))
                    for part, at in ands)
    if sum(len(ors) for ors in segment) > MAX_CONDITIONS:
        raise SegmentError(f"A segment may hold at most {MAX_CONDITIONS} conditions.")
    return segment


def definition(segment: Segment) -> str:
    """The expression of parsed conditions, values URL-encoded (a canonical form for caches and keys)."""
    def one(c: Condition) -> str:
        operator = {IS_EMPTY: "==", IS_NOT_EMPTY: "!="}.get(c.operator, c.operator)
        return f"{c.name}{operator}{quote(c.value, safe='')}"
    return ";".join(",".join(one(c) for c in ors) for ors in segment)
