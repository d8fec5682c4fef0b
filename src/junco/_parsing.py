"""Pure parsers for the wire formats the core reads: query strings, cookies, JSON.

Bytes or strings in, values out; no awaits, limits as arguments. A parse error
raises ``HTTPException(400)`` so bad input is always the client's problem.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
import re
import uuid
from typing import Any
from urllib.parse import unquote_to_bytes

from .datastructures import MultiDict
from .exceptions import HTTPException

try:  # orjson is optional; output is compact either way.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    _orjson = None  # type: ignore[assignment]


def parse_urlencoded(data: bytes, max_fields: int, what: str = "query string") -> MultiDict:
    """Parse ``application/x-www-form-urlencoded`` bytes (query strings too).

    Malformed percent escapes are kept literally (as browsers do), ``+`` is a
    space, and the decoded bytes must be UTF-8.

    Raises:
        HTTPException: 400 on invalid UTF-8 or more than ``max_fields`` fields.
    """
    out = MultiDict()
    if not data:
        return out
    # Only "&" separates fields (WHATWG URL standard); ";" is data.
    if data.count(b"&") >= max_fields:
        pieces = [p for p in data.split(b"&") if p]
        if len(pieces) > max_fields:
            raise HTTPException(400, f"too many fields in {what}")
    else:
        pieces = data.split(b"&")
    for piece in pieces:
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        try:
            out.add(_decode(name), _decode(value))
        except UnicodeDecodeError:
            raise HTTPException(400, f"invalid UTF-8 in {what}") from None
    return out


def _decode(part: bytes) -> str:
    if b"%" in part or b"+" in part:
        part = unquote_to_bytes(part.replace(b"+", b" "))
    return part.decode("utf-8")


def parse_cookies(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header; the first occurrence of a name wins."""
    out: dict[str, str] = {}
    for piece in header.split(";"):
        name, sep, value = piece.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        out.setdefault(name, value)
    return out


def json_dumps(obj: Any) -> bytes:
    """Compact JSON bytes, the same with and without orjson for the common types.

    Both paths accept what orjson accepts (datetime, date, time, UUID, Enum,
    dataclasses) and write NaN and infinities as ``null``. Integers beyond
    64 bits, which orjson refuses, go through the stdlib. Known difference:
    some float exponents (``1e-05`` against orjson's ``0.00001``).
    """
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, option=_orjson.OPT_NON_STR_KEYS)
        except TypeError:
            pass  # e.g. an int beyond 64 bits; the stdlib writes it
    try:
        return _std_dumps(obj)
    except ValueError:  # NaN or infinity somewhere
        return _std_dumps(_finite(obj))


def _std_dumps(obj: Any) -> bytes:
    return json.dumps(
        obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
    ).encode()


def _default(obj: Any) -> Any:
    if isinstance(obj, (datetime.datetime, datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_loads(data: bytes | str, max_depth: int) -> Any:
    """Parse JSON; malformed, too deep or otherwise hostile input → 400.

    The same result with and without orjson: integers of any size are kept
    exact, and the body must be UTF-8 without a byte order mark (a BOM,
    UTF-16 or UTF-32 is a 400 either way).

    Raises:
        HTTPException: 400.
    """
    if _too_deep(data, max_depth):
        raise HTTPException(400, "JSON nested too deeply", code="json_too_deep")
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        # orjson turns integers beyond 64 bits into floats; the stdlib keeps them
        # exact. A run of 19+ digits is where that can happen (rarely elsewhere).
        if _orjson is not None and not has_long_digit_run(raw):
            return _orjson.loads(raw)
        if _LONE_SURROGATE.search(raw):
            raise ValueError("lone surrogate")
        # Strict UTF-8, no BOM (RFC 8259 8.1), as orjson: json.loads(bytes) would
        # also sniff UTF-16/32 and skip a BOM.
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError, TypeError):
        raise HTTPException(400, "invalid JSON", code="invalid_json") from None


# A run of 19 digits, found with two C calls: every byte mapped to "0" (a
# digit) or "x", then a substring search (a regex costs five times as much).
_DIGIT_CLASSES = bytes(0x30 if 0x30 <= c <= 0x39 else 0x78 for c in range(256))
_RUN = b"0" * 19


def has_long_digit_run(raw: bytes) -> bool:
    """Whether ``raw`` holds 19 digits in a row (where orjson may round an integer)."""
    return _RUN in raw.translate(_DIGIT_CLASSES)


# The stdlib accepts what orjson (and RFC 8259 interoperability) refuses: NaN,
# Infinity, floats that overflow, and \\ud800 escapes with no pair.
_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _too_deep(data: bytes | str, max_depth: int) -> bool:
    # Bracket count is an upper bound of the nesting; only walk when it could exceed.
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False
