"""Rendering an answer as Matomo does: json (default), csv, tsv or xml, and errors in the same format.

Answers are plain data: a list of rows, one row (dict), a value, or `Keyed` (results by idSite or
by date). csv/tsv flatten nested values into `parent_child` columns (a visit's
actionDetails_0_type) and add the key column to keyed results; a text cell that a spreadsheet would
read as a formula (=, +, -, @, tab, CR first) is quoted, numbers are left as they are.
"""
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape, quoteattr

from django.http import HttpResponse, StreamingHttpResponse

SUCCESS = {"result": "success", "message": "ok"}  # Matomo's answer for `true` (a method that returns nothing)
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8",
                 "tsv": "text/tab-separated-values; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed even escaped


class Stream:
    """Rows produced on demand (a long Live list): `rows()` gives a fresh iterator each time.

    json streams them (one chunk in memory at a time); csv/tsv (which need every column before the
    first line) and xml read them into a list, which the method's own cap keeps bounded.
    """

    def __init__(self, rows: Callable[[], Iterator[dict]]):
        self.rows = rows

    def __iter__(self) -> Iterator[dict]:
        return self.rows()


class Keyed(dict):
    """Results keyed by `key` ("idSite" or "date"): a JSON object, a key column in csv, <result key=..> in xml."""

    def __init__(self, key: str, results: dict):
        super().__init__(results)
        self.key = key


def render(data, fmt: str, *, status: int = 200) -> HttpResponse | StreamingHttpResponse:
    if _streamed(data):
        if fmt == "json":
            return StreamingHttpResponse(_buffered(_json_chunks(data)), status=status,
                                         content_type=CONTENT_TYPES[fmt])
        data = _listed(data)
    body = {"json": _json, "csv": _delimited(","), "tsv": _delimited("\t"), "xml": _xml}[fmt](data)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def _streamed(data) -> bool:
    """Whether a Stream is in the answer: at the top, under a key (idSite=1,2) or in a bulk's list."""
    if isinstance(data, Stream):
        return True
    values = data.values() if isinstance(data, Keyed) else data if isinstance(data, list) else ()
    return any(isinstance(value, (Stream, Keyed, list)) and _streamed(value) for value in values)


def _listed(data):
    if isinstance(data, Stream):
        return list(data)
    if isinstance(data, Keyed):
        return Keyed(data.key, {key: _listed(value) for key, value in data.items()})
    return [_listed(value) for value in data] if isinstance(data, list) else data


def _buffered(pieces: Iterator[str], size: int = 1 << 16) -> Iterator[str]:
    """Pieces joined into writes of about `size` characters (not one write per row)."""
    buffer, length = [], 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def _json_chunks(data) -> Iterator[str]:
    """The json text of `data`, a row of a Stream at a time."""
    if not _streamed(data):
        yield _json(data)
    elif isinstance(data, Keyed):
        for n, (key, value) in enumerate(data.items()):
            yield ("," if n else "{") + _json(str(key)) + ":"
            yield from _json_chunks(value)
        yield "}" if data else "{}"
    else:
        yield "["
        for n, value in enumerate(data):
            if n:
                yield ","
            yield from _json_chunks(value)
        yield "]"


def error(message: str, fmt: str, *, status: int = 200) -> HttpResponse:
    """Matomo's error answer: {"result": "error", "message": ...} in json, <result><error message=..>
    in xml, and `Error: ...` as plain text for csv and tsv (Matomo's Csv renderer; plain text rather
    than Matomo's text/html, so a message never renders as a page)."""
    if fmt == "xml":
        body = f'<?xml version="1.0" encoding="utf-8" ?>\n<result>\n\t<error message={quoteattr(_xml_text(message))} />\n</result>'
        return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    if fmt in ("csv", "tsv"):
        return HttpResponse(f"Error: {message}", status=status, content_type="text/plain; charset=utf-8")
    return render({"result": "error", "message": message}, "json", status=status)


def _json(data) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


# csv / tsv -------------------------------------------------------------------------------------

def _delimited(delimiter: str):
    def write(data) -> str:
        rows = _table(data)
        header = list(dict.fromkeys(column for row in rows for column in row))
        out = io.StringIO()
        # NB: RFC 4180 line ends: the csv module quotes only fields holding a line end's characters,
        # so with "\n" alone a tracked "\r" would stay bare and split the row in most readers
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([[safe_cell(row.get(column)) for column in header] for row in rows])
        return out.getvalue()
    return write


def _table(data) -> list[dict]:
    """Any answer as flat rows: keyed results get their key as the first column."""
    if isinstance(data, Keyed):
        return [{data.key: key, **row} for key, value in data.items() for row in _table(value)]
    if isinstance(data, list):
        return [_flat(row) if isinstance(row, dict) else {"value": row} for row in data]
    if isinstance(data, dict):
        return [_flat(data)]
    return [{"value": data}]


def _flat(row: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{name}_"))
        elif isinstance(value, list):
            out.update(_flat(dict(enumerate(value)), f"{name}_"))
        else:
            out[name] = value
    return out


def _cell(value) -> str:
    return "" if value is None else str(value)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """A csv cell a spreadsheet shows as text: tracked strings (a page title `=HYPERLINK(...)`) get
    OWASP's leading single quote; numbers, the API's own metrics, stay numbers (-3 is still -3)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return _cell(value)


# xml -------------------------------------------------------------------------------------------

def _xml(data) -> str:
    if isinstance(data, Keyed):
        inner = "".join(f"\t<result {data.key}={quoteattr(_xml_text(key))}>{_xml_value(value, 2)}</result>\n"
                        for key, value in data.items())
        return f'<?xml version="1.0" encoding="utf-8" ?>\n<results>\n{inner}</results>'
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<result>{_xml_value(data, 1)}</result>'


def _xml_value(value, depth: int) -> str:
    pad = "\t" * depth
    if isinstance(value, Keyed):
        return "\n" + "".join(f"{pad}<result {value.key}={quoteattr(_xml_text(k))}>{_xml_value(v, depth + 1)}</result>\n"
                              for k, v in value.items()) + "\t" * (depth - 1)
    if isinstance(value, list):
        return "\n" + "".join(f"{pad}<row>{_xml_value(item, depth + 1)}</row>\n" for item in value) + "\t" * (depth - 1)
    if isinstance(value, dict):
        return "\n" + "".join(_xml_element(str(k), v, depth) for k, v in value.items()) + "\t" * (depth - 1)
    return escape(_xml_text(value))


def _xml_text(value) -> str:
    return _NOT_XML.sub("\ufffd", _cell(value))


def _xml_element(name: str, value, depth: int) -> str:
    pad = "\t" * depth
    if _XML_NAME.match(name) and not name.lower().startswith("xml"):
        return f"{pad}<{name}>{_xml_value(value, depth + 1)}</{name}>\n"
    return f"{pad}<row key={quoteattr(_xml_text(name))}>{_xml_value(value, depth + 1)}</row>\n"
