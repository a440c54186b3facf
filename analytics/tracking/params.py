"""Tracking parameters: every one Matomo clients send, typed and bounded, table-driven.

`parse_request(raw)` turns one request's raw parameters into clean values or raises InvalidParameter
naming the parameter and why. Unknown parameters are ignored, as Matomo does, but a request may
carry at most MAX_PARAMETERS of them and no value may exceed MAX_VALUE_LENGTH characters.
"""
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_PARAMETERS = 200
MAX_VALUE_LENGTH = 8192
HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")
INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
PV_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")
RESOLUTION = re.compile(r"^(\d{1,5})x(\d{1,5})$")
DIMENSION = re.compile(r"^dimension(\d{1,3})$")


class InvalidParameter(ValueError):
    def __init__(self, name: str, why: str):
        super().__init__(f"invalid parameter {name!r}: {why}")
        self.name = name


@dataclass(frozen=True)
class Text:
    max_length: int = 255
    pattern: re.Pattern | None = None
    truncate: bool = False  # URLs and titles are cut, as Matomo does, rather than refused

    def parse(self, name, value):
        if len(value) > self.max_length:
            if not self.truncate:
                raise InvalidParameter(name, f"longer than {self.max_length} characters")
            value = value[: self.max_length]
        if self.pattern is not None and not self.pattern.match(value):
            raise InvalidParameter(name, "has an unexpected format")
        return value


@dataclass(frozen=True)
class Int:
    low: int = 0
    high: int = 2**31 - 1

    def parse(self, name, value):
        if not INTEGER.fullmatch(value):
            raise InvalidParameter(name, "is not an integer")
        number = int(value)
        if not self.low <= number <= self.high:
            raise InvalidParameter(name, f"must be between {self.low} and {self.high}")
        return number


@dataclass(frozen=True)
class Float:
    low: float = -1e12
    high: float = 1e12

    def parse(self, name, value):
        try:
            number = float(value)
        except ValueError:
            raise InvalidParameter(name, "is not a number") from None
        if number != number or not self.low <= number <= self.high:
            raise InvalidParameter(name, f"must be a number between {self.low:g} and {self.high:g}")
        return number


class Flag(Int):
    def __init__(self):
        super().__init__(0, 1)


class Choice:
    def __init__(self, *values):
        self.values = values

    def parse(self, name, value):
        if value not in self.values:
            raise InvalidParameter(name, f"must be one of {', '.join(self.values)}")
        return value


class Resolution:
    def parse(self, name, value):
        match = RESOLUTION.match(value)
        if not match:
            raise InvalidParameter(name, "must look like 1280x800")
        return f"{int(match[1])}x{int(match[2])}"


def _no_constant(name):
    raise ValueError(f"{name} is not allowed")  # NaN / Infinity: PostgreSQL's jsonb refuses them


class Json:
    def __init__(self, kind: type, max_length: int = 4096):
        self.kind, self.max_length = kind, max_length

    def parse(self, name, value):
        if len(value) > self.max_length:
            raise InvalidParameter(name, f"longer than {self.max_length} characters")
        try:
            data = json.loads(value, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise InvalidParameter(name, "is not valid JSON (or nested too deeply)") from None
        if not isinstance(data, self.kind):
            raise InvalidParameter(name, f"must be a JSON {'array' if self.kind is list else 'object'}")
        return data


class EcommerceItems(Json):
    """ec_items: [[sku, name, category, price, quantity], ...] as Matomo's JS tracker sends them."""

    def __init__(self):
        super().__init__(list, 32768)

    def parse(self, name, value):
        items = super().parse(name, value)
        if len(items) > 500:
            raise InvalidParameter(name, "has more than 500 items")
        scalar = (str, int, float, type(None))
        for item in items:
            if not isinstance(item, list) or not 1 <= len(item) <= 5:
                raise InvalidParameter(name, "items must be arrays of [sku, name, category, price, quantity]")
            for index, field in enumerate(item):
                categories = index == 2 and isinstance(field, list) and all(isinstance(c, str) for c in field)
                if not (isinstance(field, scalar) or categories):
                    raise InvalidParameter(name, f"item field {index + 1} has the wrong type")
                if isinstance(field, (int, float)) and not abs(field) <= 1e15:  # NB: also 1e309, read as infinity
                    raise InvalidParameter(name, f"item field {index + 1} is out of range")
        return items


class IpAddress:
    def parse(self, name, value):
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise InvalidParameter(name, "is not an IP address") from None


class Timestamp:
    """cdt: a Unix timestamp or a 'YYYY-MM-DD HH:MM:SS' UTC date, as Matomo accepts."""

    def parse(self, name, value):
        try:
            if re.fullmatch(r"[0-9]{9,10}(\.[0-9]+)?", value):
                moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
            else:
                moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise InvalidParameter(name, "must be a Unix timestamp or YYYY-MM-DD HH:MM:SS") from None
        if moment.year < 2000:
            raise InvalidParameter(name, "is before the year 2000")
        return moment


URL = Text(2048, truncate=True)
LONG = Text(1024, truncate=True)
SECONDS = Int(0, 4_102_444_800)  # Unix time up to 2100
MS = Int(0, 3_600_000)
SPEC = {
    "idsite": Int(1), "rec": Flag(), "url": URL, "action_name": Text(1024, truncate=True), "urlref": URL,
    "_id": Text(16, HEX16), "cid": Text(16, HEX16), "uid": Text(200), "new_visit": Flag(), "res": Resolution(),
    "h": Int(0, 23), "m": Int(0, 59), "s": Int(0, 59), "lang": Text(255), "ua": LONG, "uadata": Json(dict),
    "cookie": Flag(), "fla": Flag(), "java": Flag(), "qt": Flag(), "realp": Flag(), "pdf": Flag(), "wma": Flag(),
    "ag": Flag(), "dir": Flag(), "gears": Flag(), "_rcn": Text(255), "_rck": Text(255), "link": URL,
    "download": URL, "search": Text(255), "search_cat": Text(255), "search_count": Int(0), "pv_id": Text(32, PV_ID),
    "e_c": Text(255), "e_a": Text(255), "e_n": Text(255), "e_v": Float(), "c_n": Text(255), "c_p": Text(1024),
    "c_t": URL, "c_i": Text(255), "idgoal": Int(0, 1_000_000), "revenue": Float(0), "ec_id": Text(100),
    "ec_items": EcommerceItems(), "ec_st": Float(0), "ec_tx": Float(0), "ec_sh": Float(0), "ec_dt": Float(0),
    "_pkc": Text(1024), "_pks": Text(255), "_pkn": Text(255), "_pkp": Float(0),
    "pf_net": MS, "pf_srv": MS, "pf_tfr": MS, "pf_dm1": MS, "pf_dm2": MS, "pf_onl": MS,
    "ping": Flag(), "bots": Flag(), "send_image": Flag(), "ca": Flag(),
    "ma_id": Text(255), "ma_re": Text(4096, truncate=True), "ma_mt": Choice("video", "audio"), "ma_ti": Text(255), "ma_pn": Text(100),
    "ma_st": Int(0, 86_400 * 30), "ma_le": Int(0, 86_400 * 30), "ma_ps": Int(0, 86_400 * 30),
    "ma_ttp": Int(0, 86_400), "ma_w": Int(0, 100_000), "ma_h": Int(0, 100_000), "ma_fs": Flag(), "ma_se": Text(4096),
    "cip": IpAddress(), "cdt": Timestamp(), "token_auth": Text(100),
    "_idts": SECONDS, "_idvc": Int(0, 1_000_000), "_viewts": SECONDS, "_refts": SECONDS,
    "_ref": URL, "r": Text(32), "gt_ms": MS, "dnt": Flag(),
}


def _checked_value(name, value) -> str:
    """A raw value as text, refused when no tracker could have sent it (runs for every value of
    every hit, at the door and again at ingest: the common case, plain ASCII text, is tested first)."""
    if type(value) is not str:  # rare: JSON numbers in a bulk request
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        elif not isinstance(value, str):
            raise InvalidParameter(name, "must be a string or a number")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidParameter(name, f"longer than {MAX_VALUE_LENGTH} characters")
    if "\x00" in value:
        raise InvalidParameter(name, "contains a NUL character")
    if not _is_unicode(value):
        raise InvalidParameter(name, "is not valid Unicode")
    return value


def _is_unicode(text: str) -> bool:
    """False for text holding a lone surrogate (JSON "\\ud800"): no queue entry can carry it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_request(raw: dict) -> dict:
    """Validate one tracking request's parameters; returns {name: typed value} for the known ones."""
    if len(raw) > MAX_PARAMETERS:
        raise InvalidParameter("(request)", f"more than {MAX_PARAMETERS} parameters")
    clean, dimensions = {}, {}
    for name, value in raw.items():
        if not isinstance(name, str):
            raise InvalidParameter(str(name)[:40], "parameter names must be strings")
        if not _is_unicode(name):
            raise InvalidParameter(name.encode("utf-8", "replace").decode()[:40], "is not valid Unicode")
        value = _checked_value(name, value)
        if (spec := SPEC.get(name)) is not None:
            if value != "" or name == "idsite":
                clean[name] = spec.parse(name, value)
        elif match := DIMENSION.match(name):
            dimensions[int(match[1])] = Text(255).parse(name, value)
    if "idsite" not in clean:
        raise InvalidParameter("idsite", "is required")
    if dimensions:
        clean["dimensions"] = dimensions
    return clean
