"""JSON output: the same bytes with orjson and with the stdlib fallback.

Known differences found while writing these tests (orjson 3.13, CPython 3.11);
each has a failing test below:

- floats between 1e-7 and 1e-4: orjson writes ``1e-5`` as ``0.00001`` and
  ``1e-7`` as ``1e-7``; the stdlib writes ``1e-05`` and ``1e-07``;
- NaN and infinities: orjson writes ``null``, the stdlib (``allow_nan=False``)
  raises ``ValueError``;
- integers outside the signed/unsigned 64-bit range: orjson raises
  ``TypeError``, the stdlib writes them;
- datetime, date, UUID, Enum and dataclass values: orjson serialises them, the
  stdlib raises ``TypeError`` (an app works in development and 500s in a
  deployment without the extra, or the other way round).

Large exponents agree (``1e16`` is ``1e+16`` both ways with this orjson).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import uuid
from typing import Any

import pytest

from junco import Junco, Request, Response, _parsing
from junco._parsing import json_dumps
from junco.testing import TestClient


def _stdlib_dumps(value: Any, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        m.setattr(_parsing, "_orjson", None)
        return json_dumps(value)


def _outcome(value: Any) -> bytes | str:
    try:
        return json_dumps(value)
    except (TypeError, ValueError):
        return "error"


def _stdlib_outcome(value: Any, monkeypatch: pytest.MonkeyPatch) -> bytes | str:
    with monkeypatch.context() as m:
        m.setattr(_parsing, "_orjson", None)
        return _outcome(value)


def test_orjson_is_installed() -> None:
    # Without it the comparisons below would compare the stdlib with itself.
    assert vars(_parsing)["_orjson"] is not None


TYPICAL: list[tuple[str, Any, bytes]] = [
    (
        "ints",
        [0, -1, 42, 2**53, 2**63 - 1, -(2**63)],
        b"[0,-1,42,9007199254740992,9223372036854775807,-9223372036854775808]",
    ),
    (
        "floats",
        [0.1, 3.14, -2.5, 100.0, 1e15, 1e16, 1e22, 1e300, 5e-324, 1.5e-10, -0.0],
        b"[0.1,3.14,-2.5,100.0,1000000000000000.0,1e+16,1e+22,1e+300,5e-324,1.5e-10,-0.0]",
    ),
    ("float_0001", 0.0001, b"0.0001"),
    ("bool_none", [True, False, None], b"[true,false,null]"),
    ("unicode", {"k": "caf\u00e9 \u65e5\u672c \U0001f600"}, '{"k":"café 日本 😀"}'.encode()),
    ("line_separators", "\u2028\u2029", '"\u2028\u2029"'.encode()),
    (
        "escapes",
        "\"\\/\b\f\n\r\t\x00\x1f\x7f<>&'",
        b'"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f<>&\'"',
    ),
    (
        "nested",
        {"a": [1, {"b": [], "c": {}}], "d": {"e": [None]}},
        b'{"a":[1,{"b":[],"c":{}}],"d":{"e":[null]}}',
    ),
    (
        "non_str_keys",
        {1: "a", 2.5: "b", False: "c", None: "d"},
        b'{"1":"a","2.5":"b","false":"c","null":"d"}',
    ),
    ("tuple", (1, "x"), b'[1,"x"]'),
    ("empty", {}, b"{}"),
    ("string", "plain", b'"plain"'),
]


@pytest.mark.parametrize(
    ("value", "expected"), [(v, e) for _, v, e in TYPICAL], ids=[n for n, _, _ in TYPICAL]
)
def test_json_dumps_identical_for_typical_values(
    value: Any, expected: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert json_dumps(value) == expected
    assert _stdlib_dumps(value, monkeypatch) == expected


def test_json_dumps_is_compact_and_keeps_key_order(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"z": 1, "a": [1, 2], "m": {"y": 1, "b": 2}}
    expected = b'{"z":1,"a":[1,2],"m":{"y":1,"b":2}}'
    assert json_dumps(value) == expected
    assert _stdlib_dumps(value, monkeypatch) == expected


@pytest.mark.parametrize("value", [1e-5, 2.5e-5, 1e-7, 1.2345e-6])
def test_json_dumps_small_floats_equal_in_value(
    value: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The one documented difference: orjson writes 1e-05 as 0.00001 (and 1e-07 as
    # 1e-7), the stdlib as 1e-05. Same number, different spelling.
    with_orjson, without = json_dumps(value), _stdlib_dumps(value, monkeypatch)
    assert json.loads(with_orjson) == json.loads(without) == value


class _Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class _Point:
    x: int


EDGE: list[tuple[str, Any]] = [
    ("nan", float("nan")),
    ("inf", float("inf")),
    ("uint64_overflow", 2**64),
    ("int64_underflow", -(2**63) - 1),
    ("datetime", datetime.datetime(2024, 1, 2, 3, 4, 5)),
    ("date", datetime.date(2024, 1, 2)),
    ("uuid", uuid.UUID(int=1)),
    ("enum", _Color.RED),
    ("dataclass", _Point(1)),
]


@pytest.mark.parametrize("value", [v for _, v in EDGE], ids=[n for n, _ in EDGE])
def test_json_dumps_same_outcome_for_edge_values(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BUG: with orjson these values serialise (or fail) where the stdlib path does
    # the opposite, so an app's behaviour depends on an optional extra.
    assert _outcome(value) == _stdlib_outcome(value, monkeypatch)


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", "\ud800"])
def test_json_dumps_refuses_unserialisable_either_way(
    value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _outcome(value) == "error"
    assert _stdlib_outcome(value, monkeypatch) == "error"


def _get_json_body(app: Junco) -> tuple[int, str | None, bytes]:
    r = asyncio.run(TestClient(app).get("/"))
    return r.status_code, r.headers.get("content-type"), r.body


def test_dict_response_bytes_match_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Junco()
    payload = {"n": 1, "f": 0.1, "s": "\u00e9\U0001f600\u2028", "l": [True, None], 3: "x"}

    @app.get("/")
    async def index(request: Request) -> dict[Any, Any]:
        return payload

    with_orjson = _get_json_body(app)
    monkeypatch.setattr(_parsing, "_orjson", None)
    without = _get_json_body(app)
    expected = '{"n":1,"f":0.1,"s":"é😀\u2028","l":[true,null],"3":"x"}'.encode()
    assert with_orjson == (200, "application/json; charset=UTF-8", expected)
    assert without == with_orjson


def test_response_json_body_uses_json_dumps() -> None:
    r = Response([1, "two", {"3": 4.5}])
    assert r.body == b'[1,"two",{"3":4.5}]'
    assert r.headers["content-type"] == "application/json; charset=UTF-8"


# -- request.json: one result whichever backend parses it ---------------------------------

BIG = 18446744073709551617  # 2**64 + 1: orjson alone would make it a float

PARSE_CASES: list[tuple[str, bytes, Any]] = [
    ("beyond u64", b'{"n": 18446744073709551617}', {"n": BIG}),
    ("below i64", b"[-9223372036854775809]", [-9223372036854775809]),
    ("u64 max", b"18446744073709551615", 18446744073709551615),
    ("huge", b"[" + b"9" * 200 + b"]", [int("9" * 200)]),
    ("digits in a string", b'{"s": "12345678901234567890"}', {"s": "12345678901234567890"}),
    ("long float", b"[12345678901234567890123.5]", [12345678901234567890123.5]),
    ("plain", b'{"a": [1, 2.5, "x"]}', {"a": [1, 2.5, "x"]}),
    ("utf-8 bom", b"\xef\xbb\xbf{}", 400),
    ("utf-16", '{"a": 1}'.encode("utf-16"), 400),
    ("utf-16-le", '{"a": 1}'.encode("utf-16-le"), 400),
    ("utf-32", '{"a": 1}'.encode("utf-32"), 400),
    ("utf-32-be", '{"a": 1}'.encode("utf-32-be"), 400),
    ("bad utf-8", b'{"a": "\xff"}', 400),
    ("big int then junk", b"[18446744073709551617,]", 400),
    ("big int lone surrogate", b'[18446744073709551617, "\\ud800"]', 400),
    ("too many digits", b"[" + b"9" * 5000 + b"]", 400),
]


def _parse_app() -> Junco:
    app = Junco()

    @app.post("/")
    async def echo(request: Request) -> Response:
        return Response(repr(request.json))

    return app


def _parsed(body: bytes) -> Any:
    r = asyncio.run(
        TestClient(_parse_app()).post("/", body=body, headers={"Content-Type": "application/json"})
    )
    if r.status_code != 200:
        return r.status_code
    return r.text


@pytest.mark.parametrize(
    ("body", "expected"), [c[1:] for c in PARSE_CASES], ids=[c[0] for c in PARSE_CASES]
)
def test_request_json_is_the_same_with_and_without_orjson(
    body: bytes, expected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_orjson = _parsed(body)
    monkeypatch.setattr(_parsing, "_orjson", None)
    without = _parsed(body)
    # repr() tells an exact int from a float that rounds to it.
    assert with_orjson == without == (expected if expected == 400 else repr(expected))
