"""File responses: validators, 304/412, ranges, HEAD, attachments, and file descriptor hygiene."""

from __future__ import annotations

import asyncio
import email
import email.policy
import gzip
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from junco import Junco, Request, Response, send_file
from junco.files import (
    MAX_RANGES,
    FileResponse,
    content_disposition,
    etag_matches,
    guess_content_type,
    http_date,
    parse_http_date,
    parse_range,
)
from junco.testing import TestClient, TestResponse
from junco.types import Message
from tests.conftest import Sync

DATA = bytes(range(256)) * 40  # 10240 bytes, every offset distinguishable


def open_fds(path: Path | str) -> int:
    """How many descriptors this process holds open on ``path`` (Linux /proc)."""
    target = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


def wait_closed(path: Path, deadline_s: float = 10.0) -> int:
    """Poll until no descriptor is open on ``path``; a reader thread may finish last.

    This waits for an outcome; it asserts nothing about how long it takes.
    """
    end = time.monotonic() + deadline_s
    while open_fds(path) and time.monotonic() < end:
        time.sleep(0.01)
    return open_fds(path)


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(DATA)
    return path


def file_app(path: Path, **kwargs: Any) -> Junco:
    app = Junco()

    @app.route("/f", methods=["GET", "POST"])
    async def f(request: Request) -> Response:
        return send_file(str(path), **kwargs)

    return app


def get(app: Junco, headers: dict[str, str] | None = None, method: str = "GET") -> TestResponse:
    return asyncio.run(TestClient(app).request(method, "/f", headers))


# -- plain GET and HEAD ------------------------------------------------------------------


def test_full_get(data_file: Path) -> None:
    r = get(file_app(data_file))
    assert r.status_code == 200
    assert r.body == DATA
    assert r.headers["content-length"] == str(len(DATA))
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["accept-ranges"] == "bytes"
    etag = r.headers["etag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    assert parse_http_date(r.headers["last-modified"]) == int(data_file.stat().st_mtime)
    assert "cache-control" not in r.headers
    assert open_fds(data_file) == 0


def test_head_sends_headers_only(data_file: Path) -> None:
    r = get(file_app(data_file), method="HEAD")
    assert r.status_code == 200
    assert r.body is None  # HEAD: no body at all (Microdot's rule)
    assert r.headers["content-length"] == str(len(DATA))
    assert "etag" in r.headers
    assert open_fds(data_file) == 0


def test_head_ignores_range(data_file: Path) -> None:
    r = get(file_app(data_file), {"Range": "bytes=0-9"}, method="HEAD")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(DATA))
    assert r.body is None  # HEAD: no body at all (Microdot's rule)


def test_etag_changes_with_the_file(data_file: Path) -> None:
    app = file_app(data_file)
    first = get(app).headers["etag"]
    data_file.write_bytes(DATA + b"more")
    second = get(app).headers["etag"]
    assert first != second


def test_text_types_get_a_charset(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<p>hi</p>")
    r = get(file_app(page))
    assert r.headers["content-type"] == "text/html; charset=UTF-8"


def test_max_age(data_file: Path) -> None:
    assert get(file_app(data_file, max_age=60)).headers["cache-control"] == "max-age=60"


def test_default_max_age_of_a_response_subclass(data_file: Path) -> None:
    class Cached(Response):
        default_send_file_max_age = 3600

    app = Junco()

    @app.get("/f")
    async def f(request: Request) -> Response:
        return Cached.send_file(str(data_file))

    assert get(app).headers["cache-control"] == "max-age=3600"


def test_non_200_status_is_sent_whole(data_file: Path) -> None:
    app = file_app(data_file, status_code=404)
    etag = get(file_app(data_file)).headers["etag"]
    r = get(app, {"If-None-Match": etag, "Range": "bytes=0-1"})
    assert r.status_code == 404
    assert r.body == DATA


def test_post_is_not_conditional(data_file: Path) -> None:
    app = file_app(data_file)
    etag = get(app).headers["etag"]
    r = get(app, {"If-None-Match": etag, "Range": "bytes=0-1"}, method="POST")
    assert r.status_code == 200
    assert r.body == DATA


# -- conditional requests ----------------------------------------------------------------


def test_if_none_match(data_file: Path) -> None:
    app = file_app(data_file, max_age=30)
    etag = get(app).headers["etag"]
    for value in (etag, "W/" + etag, f'"nope", {etag}', f'"a", W/"b",{etag} ', "*"):
        r = get(app, {"If-None-Match": value})
        assert r.status_code == 304, value
        assert r.body == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == "max-age=30"
        assert "content-type" not in r.headers
        assert "content-length" not in r.headers
    for value in ('"nope"', "W/" + etag.replace('"', "'"), etag[1:-1], "garbage"):
        assert get(app, {"If-None-Match": value}).status_code == 200, value
    assert get(app, {"If-None-Match": etag}, method="HEAD").status_code == 304
    assert open_fds(data_file) == 0


def test_if_none_match_over_several_header_lines(data_file: Path, sync: Sync) -> None:
    app = file_app(data_file)
    etag = get(app).headers["etag"]
    r = sync(app).get("/f", [("If-None-Match", '"x"'), ("If-None-Match", etag)])
    assert r.status_code == 304


def test_if_modified_since(data_file: Path) -> None:
    app = file_app(data_file)
    mtime = data_file.stat().st_mtime
    assert get(app, {"If-Modified-Since": http_date(mtime)}).status_code == 304
    assert get(app, {"If-Modified-Since": http_date(mtime + 3600)}).status_code == 304
    assert get(app, {"If-Modified-Since": http_date(mtime - 3600)}).status_code == 200
    assert get(app, {"If-Modified-Since": "not a date"}).status_code == 200
    assert get(app, {"If-Modified-Since": "x" * 10000}).status_code == 200
    # If-None-Match takes precedence, even when it does not match.
    later = {"If-Modified-Since": http_date(mtime + 3600), "If-None-Match": '"other"'}
    assert get(app, later).status_code == 200


def test_if_match_and_if_unmodified_since(data_file: Path) -> None:
    app = file_app(data_file)
    etag = get(app).headers["etag"]
    mtime = data_file.stat().st_mtime
    r = get(app, {"If-Match": '"other"'})
    assert r.status_code == 412
    assert r.body == b"Precondition failed"
    assert "etag" not in r.headers
    assert get(app, {"If-Match": "W/" + etag}).status_code == 412  # strong comparison
    assert get(app, {"If-Match": etag}).status_code == 200
    assert get(app, {"If-Match": "*"}).status_code == 200
    assert get(app, {"If-Unmodified-Since": http_date(mtime - 3600)}).status_code == 412
    assert get(app, {"If-Unmodified-Since": http_date(mtime)}).status_code == 200
    assert get(app, {"If-Unmodified-Since": "bogus"}).status_code == 200
    assert get(app, {"If-Match": '"x"'}, method="HEAD").body is None
    assert open_fds(data_file) == 0


# -- ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, len(DATA) - 1),
        ("bytes=-5", len(DATA) - 5, len(DATA) - 1),
        ("bytes=-99999999", 0, len(DATA) - 1),
        ("bytes=100-99999999999999999999999999", 100, len(DATA) - 1),
        ("BYTES = 3-3", 3, 3),
        ("bytes=5-7,", 5, 7),
        ("bytes=5-7, 999999-", 5, 7),
    ],
)
def test_single_range(data_file: Path, spec: str, first: int, last: int) -> None:
    r = get(file_app(data_file), {"Range": spec})
    assert r.status_code == 206
    assert r.body == DATA[first : last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.headers["content-type"] == "application/octet-stream"
    assert open_fds(data_file) == 0


@pytest.mark.parametrize("spec", [f"bytes={len(DATA)}-", "bytes=99999-100000", "bytes=-0"])
def test_unsatisfiable_range(data_file: Path, spec: str) -> None:
    r = get(file_app(data_file, max_age=60), {"Range": spec})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert "cache-control" not in r.headers  # a shared cache must not keep a 416
    assert DATA[:16] not in r.body
    assert open_fds(data_file) == 0


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=5-1",
        "bytes=abc",
        "bytes=1-2-3",
        "bytes=",
        "bytes=,",
        "items=0-1",
        "bytes 0-1",
        "bytes=-",
        "bytes=²-³",  # str.isdigit() is True for these, int() is not
        "bytes=0-1" + ",0-1" * 1000,  # longer than MAX_RANGE_HEADER
    ],
)
def test_invalid_range_is_ignored(data_file: Path, spec: str) -> None:
    r = get(file_app(data_file), {"Range": spec})
    assert r.status_code == 200
    assert r.body == DATA


def test_if_range(data_file: Path) -> None:
    app = file_app(data_file)
    full = get(app)
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    assert get(app, {"Range": "bytes=0-1", "If-Range": etag}).status_code == 206
    assert get(app, {"Range": "bytes=0-1", "If-Range": modified}).status_code == 206
    stale = {"Range": "bytes=0-1", "If-Range": '"old"'}
    assert get(app, stale).body == DATA
    weak = {"Range": "bytes=0-1", "If-Range": "W/" + etag}
    assert get(app, weak).status_code == 200
    earlier = http_date(data_file.stat().st_mtime - 10)
    assert get(app, {"Range": "bytes=0-1", "If-Range": earlier}).status_code == 200
    assert get(app, {"Range": "bytes=0-1", "If-Range": "nonsense"}).status_code == 200


def _parts(r: TestResponse) -> list[tuple[str, str, bytes]]:
    ctype = r.headers["content-type"]
    raw = f"Content-Type: {ctype}\r\n\r\n".encode() + r.body
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    assert message.is_multipart()
    out = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        out.append((str(part["Content-Type"]), str(part["Content-Range"]), payload))
    return out


def test_multiple_ranges_as_multipart(data_file: Path) -> None:
    r = get(file_app(data_file), {"Range": "bytes=0-1, 100-103,-3"})
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert r.headers["content-length"] == str(len(r.body))
    size = len(DATA)
    assert _parts(r) == [
        ("application/octet-stream", f"bytes 0-1/{size}", DATA[0:2]),
        ("application/octet-stream", f"bytes 100-103/{size}", DATA[100:104]),
        ("application/octet-stream", f"bytes {size - 3}-{size - 1}/{size}", DATA[-3:]),
    ]
    assert open_fds(data_file) == 0


def test_multipart_drops_unsatisfiable_ranges(data_file: Path) -> None:
    r = get(file_app(data_file), {"Range": "bytes=0-0,999999-,4-4"})
    assert r.status_code == 206
    assert [p[2] for p in _parts(r)] == [DATA[0:1], DATA[4:5]]


@pytest.mark.parametrize(
    "spec",
    [
        "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_RANGES + 1)),
        "bytes=0-5,3-8",
        "bytes=0-,0-",
        "bytes=-10,0-",
    ],
)
def test_too_many_or_overlapping_ranges_get_the_whole_file(data_file: Path, spec: str) -> None:
    r = get(file_app(data_file), {"Range": spec})
    assert r.status_code == 200
    assert r.body == DATA


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    app = file_app(empty)
    r = get(app)
    assert (r.status_code, r.body, r.headers["content-length"]) == (200, b"", "0")
    assert get(app, {"Range": "bytes=0-"}).status_code == 416
    assert get(app, {"Range": "bytes=-1"}).status_code == 416


# -- content type, encoding, attachment ----------------------------------------------------


def test_compressed_and_file_extension(tmp_path: Path, sync: Sync) -> None:
    (tmp_path / "app.js.gz").write_bytes(gzip.compress(b"alert(1)"))
    app = Junco()

    @app.get("/plain")
    async def plain(request: Request) -> Response:
        return send_file(str(tmp_path / "app.js.gz"))

    @app.get("/compressed")
    async def compressed(request: Request) -> Response:
        return send_file(str(tmp_path / "app.js.gz"), compressed=True)

    @app.get("/ext")
    async def ext(request: Request) -> Response:
        return send_file(str(tmp_path / "app.js"), compressed="gzip", file_extension=".gz")

    client = sync(app)
    r = client.get("/plain")
    assert r.headers["content-type"] == "application/gzip"
    assert "content-encoding" not in r.headers
    for url in ("/compressed", "/ext"):
        r = client.get(url)
        assert r.headers["content-type"] == "text/javascript; charset=UTF-8"
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(r.body) == b"alert(1)"


def test_explicit_content_type(data_file: Path) -> None:
    r = get(file_app(data_file, content_type="image/png"))
    assert r.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x.tar.gz", "application/gzip"),
        ("x.css", "text/css; charset=UTF-8"),
        ("x.svg", "image/svg+xml; charset=UTF-8"),
        ("x.unknown-ext", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("data:text,html", "application/octet-stream"),
    ],
)
def test_guess_content_type(name: str, expected: str) -> None:
    assert guess_content_type(name) == expected


def test_attachment(data_file: Path, tmp_path: Path) -> None:
    r = get(file_app(data_file, attachment=True))
    assert r.headers["content-disposition"] == 'attachment; filename="data.bin"'
    r = get(file_app(data_file, attachment="report 2024.pdf"))
    assert r.headers["content-disposition"] == 'attachment; filename="report 2024.pdf"'
    assert r.body == DATA


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", 'attachment; filename="a.txt"'),
        (
            "naïve résumé.pdf",
            'attachment; filename="naive resume.pdf"; '
            "filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf",
        ),
        ("日本.txt", "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt"),
        ("../../etc/passwd", 'attachment; filename="passwd"'),
        ("C:\\Users\\x\\secret.doc", 'attachment; filename="secret.doc"'),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        ("", 'attachment; filename="download"'),
    ],
)
def test_content_disposition(name: str, expected: str) -> None:
    assert content_disposition(name) == expected


@pytest.mark.parametrize(
    "hostile",
    [
        'evil"; filename="x.exe',
        "a\r\nSet-Cookie: x=1",
        "a\nb",
        "a\x00b",
        'x\\"y',
        "ok\u2028line",
    ],
)
def test_content_disposition_cannot_be_broken_out_of(hostile: str, data_file: Path) -> None:
    value = content_disposition(hostile)
    assert all(0x20 <= ord(c) < 0x7F for c in value)
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback
    assert "\\" not in fallback
    assert value.count('"') == 2
    r = get(file_app(data_file, attachment=hostile))
    assert r.status_code == 200
    assert r.headers.getlist("content-disposition") == [value]
    assert "set-cookie" not in r.headers


# -- streams, errors, replaced bodies -----------------------------------------------------


def test_stream_argument_is_sent_and_closed(tmp_path: Path) -> None:
    stream = io.BytesIO(b"from a stream")
    app = Junco()

    @app.get("/f")
    async def f(request: Request) -> Response:
        return send_file("report.txt", stream=stream, attachment=True)

    r = get(app)
    assert r.body == b"from a stream"
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"
    assert r.headers["content-disposition"] == 'attachment; filename="report.txt"'
    assert "accept-ranges" not in r.headers
    assert stream.closed


def test_missing_file_and_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileResponse(tmp_path / "nope")
    with pytest.raises(IsADirectoryError):
        FileResponse(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        FileResponse(tmp_path / "fifo")
    app = file_app(tmp_path / "nope")
    assert get(app).status_code == 500


def test_file_replaced_after_the_handler(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def rewrite(request: Request, response: Response) -> None:
        data_file.write_bytes(b"new and longer content")

    r = get(app)
    assert r.body == b"new and longer content"
    assert r.headers["content-length"] == str(len(b"new and longer content"))
    st = data_file.stat()
    assert r.headers["etag"] == f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


def test_file_removed_after_the_handler(data_file: Path) -> None:
    app = file_app(data_file, max_age=60)

    @app.after_request
    def remove(request: Request, response: Response) -> None:
        data_file.unlink()

    r = get(app)
    assert r.status_code == 404
    assert "cache-control" not in r.headers
    assert "etag" not in r.headers


def test_file_errors_go_through_the_error_renderer(data_file: Path) -> None:
    app = file_app(data_file, max_age=60, compressed=True)
    spec = {"Range": f"bytes={len(DATA)}-"}
    r = get(app, {**spec, "Accept": "application/json"})
    assert r.status_code == 416
    assert r.headers["content-type"].startswith("application/json")
    assert r.json == {
        "error": {
            "status": 416,
            "code": "range_not_satisfiable",
            "message": "Requested range not satisfiable",
        }
    }
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    assert r.headers["content-length"] == str(len(r.body or b""))
    assert r.headers["vary"] == "Accept-Encoding, Accept"  # the file's, and the error's
    assert "content-encoding" not in r.headers  # the error is not gzip
    r = get(app, spec)
    assert r.headers["content-type"] == "text/plain; charset=UTF-8"  # no Accept: text
    assert r.body == b"Requested range not satisfiable"

    @app.after_request
    def remove(request: Request, response: Response) -> None:
        if data_file.exists():
            data_file.unlink()

    r = get(app, {"Accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "Not Found" in (r.body or b"").decode()


def test_directory_swapped_in_after_the_handler(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def swap(request: Request, response: Response) -> None:
        data_file.unlink()
        data_file.mkdir()

    assert get(app).status_code == 404


def test_hook_replacing_the_response_leaves_nothing_open(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def replace(request: Request, response: Response) -> Response:
        return Response("replaced")

    assert get(app).body == b"replaced"
    assert open_fds(data_file) == 0


def test_hook_replacing_the_body(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def wrap(request: Request, response: Response) -> None:
        response.body_iter = iter([b"wrapped"])

    r = get(app)
    assert r.body == b"wrapped"
    assert open_fds(data_file) == 0


def test_hook_can_override_the_etag(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def tag(request: Request, response: Response) -> None:
        response.headers["ETag"] = '"custom"'

    assert get(app, {"If-None-Match": '"custom"'}).status_code == 304


def test_sync_handler(data_file: Path) -> None:
    app = Junco()

    @app.get("/f")
    def f(request: Request) -> Response:
        return Response.send_file(data_file)

    r = get(app, {"Range": "bytes=1-2"})
    assert (r.status_code, r.body) == (206, DATA[1:3])


def _drive(app: Junco, path: str, on_body: Callable[[int], bool]) -> int:
    """Run one GET over raw ASGI; disconnect when ``on_body(bytes so far)`` says so."""

    async def main() -> int:
        leave = asyncio.Event()
        received = 0

        async def receive() -> Message:
            await leave.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal received
            if message["type"] == "http.response.body":
                received += len(message.get("body", b""))
                if on_body(received):
                    leave.set()

        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test")],
        }
        await app(scope, receive, send)
        return received

    return asyncio.run(main())


def test_client_disconnect_closes_the_file(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 64))  # 64 chunks
    sent = _drive(file_app(big), "/f", lambda n: n > 0)
    assert 0 < sent < big.stat().st_size
    assert wait_closed(big) == 0


# -- pure helpers --------------------------------------------------------------------------


def test_etag_matches() -> None:
    assert etag_matches('"a"', '"a"', weak=False)
    assert etag_matches('W/"a"', '"a"', weak=True)
    assert not etag_matches('W/"a"', '"a"', weak=False)
    assert not etag_matches('"a"', 'W/"a"', weak=False)
    assert etag_matches('"a"', 'W/"a"', weak=True)
    assert etag_matches(' "x" , "a,b" ', '"a,b"', weak=True)
    assert etag_matches("*", '"z"', weak=False)
    assert not etag_matches("", '"a"', weak=True)
    assert not etag_matches("a", '"a"', weak=True)


def test_parse_http_date() -> None:
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777
    for bad in ("", "yesterday", "Sun, 99 Nov 1994 08:49:37 GMT", "9" * 100):
        assert parse_http_date(bad) is None
    assert http_date(784111777.9) == "Sun, 06 Nov 1994 08:49:37 GMT"


@given(st.text(max_size=200), st.integers(min_value=0, max_value=10_000))
def test_parse_range_is_total_and_bounded(header: str, size: int) -> None:
    ranges = parse_range(header, size)
    if ranges is None:
        return
    assert len(ranges) <= header.count(",") + 1
    for first, last in ranges:
        assert 0 <= first <= last < size


@given(
    st.lists(
        st.tuples(st.integers(0, 20_000), st.one_of(st.none(), st.integers(0, 20_000))),
        min_size=1,
        max_size=5,
    ),
    st.integers(min_value=1, max_value=10_000),
)
def test_parse_range_agrees_with_slicing(specs: list[tuple[int, int | None]], size: int) -> None:
    specs = [(a, b) for a, b in specs if b is None or b >= a]
    if not specs:
        return
    header = "bytes=" + ",".join(f"{a}-{'' if b is None else b}" for a, b in specs)
    expected = [(a, size - 1 if b is None else min(b, size - 1)) for a, b in specs if a < size]
    assert parse_range(header, size) == expected


def test_file_shrinking_mid_stream_ends_the_body_short(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(64 * 1024 * 8))

    def shrink(received: int) -> bool:
        if received and big.stat().st_size:
            big.write_bytes(b"")  # the server sees fewer bytes than Content-Length
        return False

    sent = _drive(file_app(big), "/f", shrink)
    assert 0 < sent < 64 * 1024 * 8
    assert wait_closed(big) == 0


def test_no_follow_refuses_a_final_symlink(data_file: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.bin"
    link.symlink_to(data_file)
    app = Junco()

    @app.get("/f")
    async def f(request: Request) -> Response:
        return FileResponse(link, follow_symlinks=False)

    @app.get("/g")
    async def g(request: Request) -> Response:
        return FileResponse(link)

    assert get(app).status_code == 404
    assert asyncio.run(TestClient(app).get("/g")).body == DATA  # followed by default


def test_fifo_swapped_in_does_not_hang(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def swap(request: Request, response: Response) -> None:
        data_file.unlink()
        os.mkfifo(data_file)  # opening it for reading would block without O_NONBLOCK

    assert get(app).status_code == 404


def test_headers_argument_and_path(data_file: Path) -> None:
    response = FileResponse(data_file, headers={"Content-Type": "text/csv", "X-A": "1"})
    assert response.path == str(data_file)
    assert response.headers["content-type"] == "text/csv"
    assert FileResponse("x.txt", stream=io.BytesIO(b"")).path is None


def test_not_modified_keeps_headers_added_by_hooks(data_file: Path) -> None:
    app = file_app(data_file)

    @app.after_request
    def mark(request: Request, response: Response) -> None:
        response.headers["X-Frame-Options"] = "DENY"

    etag = get(app).headers["etag"]
    r = get(app, {"If-None-Match": etag})
    assert (r.status_code, r.headers["x-frame-options"]) == (304, "DENY")
