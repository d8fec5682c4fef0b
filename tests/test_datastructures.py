"""MultiDict and Headers: the mappings behind query strings, forms and headers."""

from __future__ import annotations

from typing import Any

import pytest

from junco import HTTPException, Junco
from junco._dispatch import scan_headers
from junco.datastructures import (
    LIST,
    REPEATED,
    HeaderNames,
    Headers,
    MultiDict,
    pick_headers,
    single_header,
)

# -- MultiDict -----------------------------------------------------------------------------


def test_multidict_first_value_and_getlist() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d["a"] == "1"
    assert d.get("a") == "1"
    assert d.getlist("a") == ["1", "3"]
    assert d.getlist("b") == ["2"]
    assert d.getlist("missing") == []
    assert len(d) == 2
    assert list(d) == ["a", "b"]


def test_multidict_from_mapping_and_empty() -> None:
    assert MultiDict({"x": "1", "y": "2"}).items_all() == [("x", "1"), ("y", "2")]
    empty = MultiDict()
    assert len(empty) == 0
    assert empty.get("x") is None
    assert empty.items_all() == []


def test_multidict_get_default_and_type() -> None:
    d = MultiDict([("n", "42"), ("bad", "4x2"), ("f", "2.5")])
    assert d.get("n", type=int) == 42
    assert d.get("n", 0, int) == 42
    assert d.get("bad", -1, type=int) == -1
    assert d.get("bad", type=int) is None
    assert d.get("missing", 7, type=int) == 7
    assert d.get("missing", "dflt") == "dflt"
    assert d.get("f", type=float) == 2.5


def test_multidict_getlist_type_skips_rejects() -> None:
    d = MultiDict([("n", "1"), ("n", "x"), ("n", "3")])
    assert d.getlist("n", type=int) == [1, 3]
    assert d.getlist("n") == ["1", "x", "3"]


def test_multidict_getlist_returns_a_copy() -> None:
    d = MultiDict([("a", "1")])
    d.getlist("a").append("2")
    assert d.getlist("a") == ["1"]


def test_multidict_setitem_replaces_add_appends() -> None:
    d = MultiDict([("a", "1"), ("a", "2")])
    d["a"] = "9"
    assert d.getlist("a") == ["9"]
    d.add("a", "10")
    d.add("new", "x")
    assert d.items_all() == [("a", "9"), ("a", "10"), ("new", "x")]


def test_multidict_delete_contains_setdefault() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    not_a_str: object = 1
    assert "a" in d
    assert not_a_str not in d
    del d["a"]
    assert "a" not in d
    assert d.getlist("a") == []
    with pytest.raises(KeyError):
        del d["a"]
    with pytest.raises(KeyError):
        d["a"]
    assert d.setdefault("b", "z") == "3"
    assert d.setdefault("c", "z") == "z"
    assert d.getlist("c") == ["z"]


def test_multidict_to_dict() -> None:
    d = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])
    assert d.to_dict() == {"a": "1", "b": "2"}
    assert d.to_dict(flat=False) == {"a": ["1", "3"], "b": ["2"]}


def test_multidict_equality_and_repr() -> None:
    a = MultiDict([("x", "1"), ("x", "2")])
    assert a == MultiDict([("x", "1"), ("x", "2")])
    assert a != MultiDict([("x", "1")])
    assert a != MultiDict([("x", "2"), ("x", "1")])
    assert MultiDict([("x", "1")]) == {"x": "1"}
    assert repr(a) == "MultiDict([('x', '1'), ('x', '2')])"
    with pytest.raises(TypeError):
        hash(a)


def test_multidict_mapping_views() -> None:
    d = MultiDict([("a", "1"), ("a", "2"), ("b", "3")])
    assert dict(d.items()) == {"a": "1", "b": "3"}
    assert list(d.keys()) == ["a", "b"]
    assert list(d.values()) == ["1", "3"]


# -- Headers -------------------------------------------------------------------------------


def test_headers_case_insensitive_lookup() -> None:
    h = Headers({"Content-Type": "text/html", "X-Thing": "1"})
    assert h["content-type"] == "text/html"
    assert h["CONTENT-TYPE"] == "text/html"
    assert h.get("x-THING") == "1"
    assert "X-THING" in h
    not_a_str: object = 42
    assert "x-other" not in h
    assert not_a_str not in h
    assert h.get("missing") is None
    assert h.get("missing", "d") == "d"
    with pytest.raises(KeyError):
        h["missing"]


def test_headers_names_stored_lowercase() -> None:
    h = Headers([("Content-Type", "a"), ("X-Mixed-Case", "b")])
    assert list(h) == ["content-type", "x-mixed-case"]
    assert h.items_all() == [("content-type", "a"), ("x-mixed-case", "b")]


def test_headers_multi_valued_from_pairs_and_lists() -> None:
    h = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("Vary", "Origin")])
    assert h.getlist("SET-COOKIE") == ["a=1", "b=2"]
    assert h["set-cookie"] == "a=1"
    assert len(h) == 2
    initial: dict[str, str | list[str]] = {"Set-Cookie": ["a=1", "b=2"], "X": "y"}
    h2 = Headers(initial)
    assert h2.getlist("set-cookie") == ["a=1", "b=2"]
    assert h2.items_all() == [("set-cookie", "a=1"), ("set-cookie", "b=2"), ("x", "y")]
    assert h.getlist("nope") == []


def test_headers_copy_constructor_is_independent() -> None:
    h = Headers([("A", "1")])
    copy = Headers(h)
    copy.add("a", "2")
    assert h.getlist("a") == ["1"]
    assert copy.getlist("a") == ["1", "2"]


def test_headers_set_add_delete() -> None:
    h = Headers()
    h.add("X-A", "1")
    h.add("x-a", "2")
    assert h.getlist("X-A") == ["1", "2"]
    h["X-A"] = "3"
    assert h.getlist("x-a") == ["3"]
    del h["X-a"]
    assert "x-a" not in h
    assert len(h) == 0
    with pytest.raises(KeyError):
        del h["x-a"]


def test_headers_setdefault() -> None:
    h = Headers({"Content-Type": "text/html"})
    assert h.setdefault("content-type", "text/plain") == "text/html"
    assert h.setdefault("X-New", "v") == "v"
    assert h["x-new"] == "v"
    assert h.setdefault("X-Empty") == ""
    assert h.getlist("x-empty") == [""]


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\r\nSet-Cookie: x=1", "a\x00b"])
def test_headers_refuse_control_characters_in_values(bad: str) -> None:
    h = Headers()
    with pytest.raises(ValueError, match="control character"):
        h["X"] = bad
    with pytest.raises(ValueError, match="control character"):
        h.add("X", bad)
    with pytest.raises(ValueError, match="control character"):
        Headers({"X": bad})
    with pytest.raises(ValueError, match="control character"):
        Headers([("X", bad)])
    assert len(h) == 0


@pytest.mark.parametrize("bad", ["", "X:Y", "X Y", "X\nY", "X\rY", "X\x00"])
def test_headers_refuse_invalid_names(bad: str) -> None:
    h = Headers()
    with pytest.raises(ValueError, match="header"):
        h[bad] = "v"
    with pytest.raises(ValueError, match="header"):
        h.add(bad, "v")


def test_headers_add_vary_merges_without_duplicates() -> None:
    h = Headers()
    h.add_vary("Origin")
    assert h["vary"] == "Origin"
    h.add_vary("Accept-Encoding", "origin", "Cookie")
    assert h["vary"] == "Origin, Accept-Encoding, Cookie"
    assert h.getlist("vary") == ["Origin, Accept-Encoding, Cookie"]


def test_headers_add_vary_folds_existing_values() -> None:
    h = Headers([("Vary", "Accept, Cookie"), ("Vary", " Origin ,")])
    h.add_vary("cookie", "Authorization")
    assert h.getlist("vary") == ["Accept, Cookie, Origin, Authorization"]


def test_headers_to_asgi_and_from_asgi_round_trip() -> None:
    h = Headers([("Content-Type", "text/plain"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    raw = h.to_asgi()
    assert raw == [
        (b"content-type", b"text/plain"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
    ]
    assert Headers.from_asgi(raw) == h


def test_headers_from_asgi_lowercases_and_decodes_latin1() -> None:
    h = Headers.from_asgi([(b"X-Name", b"caf\xe9"), (b"x-name", b"\xff\x80"), (b"Host", b"h")])
    assert h.getlist("x-name") == ["café", "\xff\x80"]
    assert h["HOST"] == "h"
    assert h.to_asgi() == [(b"x-name", b"caf\xe9"), (b"x-name", b"\xff\x80"), (b"host", b"h")]


def test_headers_refuse_values_outside_latin1() -> None:
    with pytest.raises(ValueError, match="not latin-1"):
        Headers({"X": "snow \u2603"})
    h = Headers()
    with pytest.raises(ValueError, match="not latin-1"):
        h["X"] = "\U0001f600"
    with pytest.raises(ValueError, match="not latin-1"):
        h.add("X", "\u0100")
    h["X"] = "caf\u00e9 \u00ff"
    assert h.to_asgi() == [(b"x", b"caf\xe9 \xff")]


def test_headers_equality_and_repr() -> None:
    a = Headers([("A", "1"), ("B", "2")])
    assert a == Headers([("a", "1"), ("b", "2")])
    assert a != Headers([("a", "1")])
    assert a == {"a": "1", "b": "2"}
    assert repr(a) == "Headers([('a', '1'), ('b', '2')])"
    with pytest.raises(TypeError):
        hash(a)


def test_headers_iteration_len_and_to_dict_like_views() -> None:
    h = Headers([("A", "1"), ("a", "2"), ("B", "3")])
    assert len(h) == 2
    assert list(h) == ["a", "b"]
    assert dict(h.items()) == {"a": "1", "b": "3"}


def test_add_vary_merges_duplicates_already_present() -> None:
    h = Headers([("Vary", "Accept-Encoding"), ("Vary", "accept-encoding, Cookie")])
    h.add_vary("Origin", "cookie")
    assert h.getlist("vary") == ["Accept-Encoding, Cookie, Origin"]


# -- the one header scan --------------------------------------------------------------


def test_pick_headers_one_pass_one_policy_for_repeats() -> None:
    wanted = HeaderNames({b"host": None, b"x-forwarded-for": LIST, b"cookie": b"; "})
    headers = [
        (b"host", b"a"),
        (b"x-forwarded-for", b"1.1.1.1"),
        (b"cookie", b"a=1"),
        (b"accept", b"*/*"),
        (b"x-forwarded-for", b"2.2.2.2"),
        (b"cookie", b"b=2"),
    ]
    found: list[bytes | None] = [None, None, None]
    total = pick_headers(headers, wanted, found)
    assert total == sum(len(k) + len(v) for k, v in headers)
    assert found == [b"a", b"1.1.1.1, 2.2.2.2", b"a=1; b=2"]
    found = [None, None, None]
    pick_headers([(b"host", b"a"), (b"host", b"a")], wanted, found)
    assert found[0] is REPEATED  # even when the values agree: ambiguous
    assert found[0] == b""  # so every check refusing an empty value refuses it
    found = [None, None, None]
    pick_headers([(b"host", b"")], wanted, found)
    assert found[0] == b""
    assert found[0] is not REPEATED  # sent once, empty


def test_single_header_follows_the_same_policy() -> None:
    scope = {"headers": [(b"origin", b"https://a"), (b"origin", b"https://a")]}
    assert single_header(scope, b"origin") is REPEATED
    assert single_header(scope, b"host") is None
    assert single_header({"headers": [(b"host", b"x")]}, b"host") == b"x"


def _generic_scan(app: Junco, scope: dict[str, Any]) -> int | str | None:
    """The dispatcher's checks written over pick_headers: what scan_headers must agree with."""
    wanted = HeaderNames(
        dict.fromkeys((b"host", b"content-length", b"transfer-encoding", b"content-type"))
    )
    found: list[bytes | None] = [None] * 4
    if pick_headers(scope["headers"], wanted, found) > app.max_header_bytes:
        return "431"
    host, length, coding = found[0], found[1], found[2]
    if host is REPEATED or (host is None and scope.get("http_version", "1.1") == "1.1"):
        return "400 host"
    if length is REPEATED:
        values = {v for k, v in scope["headers"] if k == b"content-length"}
        if len(values) > 1:
            return "400 conflicting"
        length = values.pop()
    if length is not None:
        if not length.isdigit() or len(length) > 18:
            return "400 invalid"
        return int(length) or None
    return -1 if coding is not None or scope.get("http_version") in ("2", "3") else None


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"a")],
        [(b"host", b"")],
        [],
        [(b"host", b"a"), (b"host", b"a")],
        [(b"host", b"a"), (b"host", b"b")],
        [(b"host", b"a"), (b"content-length", b"3")],
        [(b"host", b"a"), (b"content-length", b"3"), (b"content-length", b"3")],
        [(b"host", b"a"), (b"content-length", b"3"), (b"content-length", b"4")],
        [(b"host", b"a"), (b"content-length", b"0")],
        [(b"host", b"a"), (b"content-length", b"-1")],
        [(b"host", b"a"), (b"content-length", b"3, 3")],
        [(b"host", b"a"), (b"content-length", b"9" * 19)],
        [(b"host", b"a"), (b"transfer-encoding", b"chunked")],
        [(b"host", b"a"), (b"x-big", b"x" * 2000)],
        [(b"host", b"a"), (b"content-type", b"text/plain"), (b"content-type", b"a/b")],
    ],
)
@pytest.mark.parametrize("version", ["1.0", "1.1", "2"])
def test_the_dispatchers_own_scan_agrees_with_pick_headers(
    headers: list[tuple[bytes, bytes]], version: str
) -> None:
    app = Junco(max_header_bytes=1000)
    scope = {"type": "http", "http_version": version, "headers": headers}
    try:
        outcome: int | str | None = scan_headers(app, scope)
    except HTTPException as exc:
        outcome = str(exc.status_code)
        if exc.status_code == 400:
            outcome += {
                "exactly one Host header is required": " host",
                "conflicting Content-Length headers": " conflicting",
                "invalid Content-Length": " invalid",
            }[str(exc.detail)]
    assert outcome == _generic_scan(app, scope)
