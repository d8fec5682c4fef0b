"""The canonical-path decision, the configuration normaliser, redirects and the safe join."""

from __future__ import annotations

import posixpath
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junco import HTTPException
from junco.paths import (
    app_path,
    is_under,
    normalize_path,
    path_problem,
    redirect_location,
    safe_join,
    strip_root,
    url_segments,
)

# Paths built mostly from the characters that matter, so dot segments and
# slash runs come up often; plus arbitrary text for everything else.
_interesting = st.text(alphabet="/./a.b/\\%é ", max_size=40)
_any = st.text(max_size=60).filter(lambda s: not any(c in s for c in "\x00\r\n"))
paths = st.one_of(_interesting, _any)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b"),
        ("//a///b//", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/../b", "/b"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/a/b/../../..", "/"),
        ("/..", "/"),
        ("/.", "/"),
        ("a/b", "/a/b"),
        ("/a/.hidden/..x/...", "/a/.hidden/..x/..."),
        ("/a\\..\\b", "/a\\..\\b"),
        ("/%2e%2e/x", "/%2e%2e/x"),
        ("/static//evil.com", "/static/evil.com"),
        ("//evil.com", "/evil.com"),
        ("/é/ü", "/é/ü"),
    ],
)
def test_normalize_examples(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize("bad", ["/a\x00b", "/a\rb", "/a\nb", "\x00", "/a/\r\n/b"])
def test_normalize_refuses_control_characters(bad: str) -> None:
    with pytest.raises(HTTPException) as info:
        normalize_path(bad)
    assert info.value.status_code == 400


@given(paths)
def test_normalize_matches_posix_semantics(path: str) -> None:
    # posixpath keeps a leading "//"; with one leading slash it is our oracle.
    assert normalize_path(path) == posixpath.normpath("/" + path.lstrip("/"))


@given(paths)
def test_normalize_invariants(path: str) -> None:
    out = normalize_path(path)
    assert out.startswith("/")
    assert "//" not in out
    assert "/../" not in out + "/"
    assert "/./" not in out + "/"
    assert out == "/" or not out.endswith("/")
    assert normalize_path(out) == out


# -- the per-request decision --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/", "/a", "/a/", "/a/b/c", "/.well-known/x", "/a/.b", "/...", "/a..b/", "/é", "/a b", "/%2e"],
)
def test_canonical_paths_have_no_problem(path: str) -> None:
    assert path_problem(path, path.encode()) is None
    assert path_problem(path) is None


@pytest.mark.parametrize(
    ("path", "raw", "reason"),
    [
        ("/a/../b", None, "'..' segment"),
        ("/..", None, "'..' segment"),
        ("/a/.", None, "'..' segment"),
        ("/./a", None, "'..' segment"),
        ("/a/../b", b"/a/%2e%2e/b", "'..' segment"),
        ("/a/../b", b"/a/..%2fb", "encoded"),
        ("/a/../b", b"/a/..%2Fb", "encoded"),
        ("/a/b", b"/a%2fb", "encoded"),
        ("/a\\b", b"/a%5Cb", "encoded"),
        ("/a\\b", None, "backslash"),
        ("//a", None, "'//'"),
        ("/a//", None, "'//'"),
        ("/a\x00", None, "invalid character"),
        ("/a\r\n", None, "invalid character"),
        ("/a\x7f", None, "invalid character"),
        ("/a\x9b", None, "invalid character"),
        ("", None, "start with '/'"),
        ("a/b", None, "start with '/'"),
        ("*", None, "start with '/'"),
    ],
)
def test_path_problems(path: str, raw: bytes | None, reason: str) -> None:
    problem = path_problem(path, raw)
    assert problem is not None
    assert reason in problem


def test_encoded_separators_in_the_query_part_of_raw_path_are_not_looked_at() -> None:
    # Some servers might hand over the whole target; only the path part counts.
    assert path_problem("/a", b"/a?next=%2Fhome") is None


def test_app_path_strips_root_path() -> None:
    assert app_path({"path": "/api/x", "root_path": "/api"}) == "/x"
    assert app_path({"path": "/api", "root_path": "/api"}) == "/"
    assert app_path({"path": "/x"}) == "/x"


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/api/x", "/api", "/x"),
        ("/api", "/api", "/"),
        ("/api/", "/api", "/"),
        ("/apifoo", "/api", "/apifoo"),  # not below /api: left whole
        ("/apifoo/x", "/api", "/apifoo/x"),
        ("/api.json", "/api", "/api.json"),
        ("/api%2fx", "/api", "/api%2fx"),
        ("/ap", "/api", "/ap"),
        ("/x", "/api", "/x"),  # a server that left the prefix out of path
        ("/api/x", "/api/", "/x"),
        ("/api/", "/api/", "/"),
        ("/x", "/", "/x"),
        ("//x", "/", "//x"),  # the path check refuses it afterwards, not this
        ("/api//x", "/api", "//x"),
        ("/x", "", "/x"),
    ],
)
def test_root_path_is_stripped_by_whole_segments(path: str, root: str, expected: str) -> None:
    assert strip_root(path, root) == expected
    assert app_path({"path": path, "root_path": root}) == expected


@given(st.text(alphabet="/ap.%x", max_size=8), st.text(alphabet="/ap.%x", max_size=8))
def test_stripping_the_root_path_never_cuts_a_segment(root: str, path: str) -> None:
    stripped = strip_root(path, root)
    if stripped != path:
        # Cut exactly at a "/" after the root (or the whole path was the root).
        assert stripped.startswith("/")
        assert root.rstrip("/") + stripped in (path, path + "/")


@given(paths)
def test_accepted_paths_are_fixed_points_of_the_normaliser(path: str) -> None:
    # So a prefix normalised from configuration compares with request.path as is.
    if path_problem(path) is None:
        assert normalize_path(path) == (path.rstrip("/") or "/")


def test_redirect_location_never_points_to_another_host() -> None:
    assert redirect_location("//evil.example/x") == "/evil.example/x"
    assert redirect_location("/\\evil.example") == "/%5Cevil.example"


@given(paths, st.binary(max_size=30))
def test_redirect_location_is_a_safe_header_that_round_trips(path: str, query: bytes) -> None:
    path = "/" + path.lstrip("/")
    location = redirect_location(path, query)
    assert location.isascii()
    assert location.isprintable()
    assert " " not in location
    assert "#" not in location
    assert not location.startswith(("//", "/\\"))
    target, _, qs = location.partition("?")
    assert unquote(target) == path
    if query and b"%" not in query:
        assert unquote(qs, encoding="latin-1") == query.decode("latin-1")


# -- the configuration normaliser --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "prefix", "expected"),
    [
        ("/static", "/static", True),
        ("/static/", "/static", True),
        ("/static/a/b", "/static", True),
        ("/static-secret", "/static", False),
        ("/static-secret/x", "/static/", False),
        ("/staticx", "/static", False),
        ("/static/../admin", "/static", False),
        ("//static//x", "/static", True),
        ("/anything", "/", True),
        ("/api/v1", "/api/v1/", True),
    ],
)
def test_is_under(path: str, prefix: str, expected: bool) -> None:
    assert is_under(path, prefix) is expected


@given(paths, st.sampled_from(["/static", "/a/b", "/"]))
def test_is_under_agrees_with_segments(path: str, prefix: str) -> None:
    normal = normalize_path(path)
    segments = [s for s in normal.split("/") if s]
    wanted = [s for s in prefix.split("/") if s]
    assert is_under(path, prefix) is (segments[: len(wanted)] == wanted)


def test_safe_join_accepts_plain_paths(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
    assert safe_join(tmp_path, "/a//b.txt") == tmp_path / "a" / "b.txt"
    assert safe_join(tmp_path, "./a/./b.txt") == tmp_path / "a" / "b.txt"
    assert safe_join(tmp_path, "") == tmp_path
    assert safe_join(tmp_path, "/") == tmp_path
    assert safe_join(str(tmp_path), "é t.txt") == tmp_path / "é t.txt"
    # Names that only look dangerous are just names.
    assert safe_join(tmp_path, "...") == tmp_path / "..."
    assert safe_join(tmp_path, "%2e%2e") == tmp_path / "%2e%2e"


@pytest.mark.parametrize(
    "hostile",
    [
        "..",
        "../x",
        "a/../../x",
        "a/..",
        "/../etc/passwd",
        "..\\x",
        "a\\..\\..\\x",
        "\\x",
        "C:",
        "C:/Windows/win.ini",
        "C:\\Windows",
        "c:x",
        "file.txt::$DATA",
        "a\x00b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x7fb",
        "a\x1bb",
    ],
)
def test_safe_join_refuses_hostile_paths(tmp_path: Path, hostile: str) -> None:
    assert safe_join(tmp_path, hostile) is None
    assert url_segments(hostile) is None


@given(paths)
def test_safe_join_never_leaves_root(relative: str) -> None:
    root = Path("/srv/www")
    out = safe_join(root, relative)
    if out is not None:
        assert out.is_relative_to(root)
        assert ".." not in out.parts
        assert str(out) == str(root) or str(out).startswith(str(root) + "/")
