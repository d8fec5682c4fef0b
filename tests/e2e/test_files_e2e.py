"""Files through a real uvicorn: hostile request lines on raw sockets; Range and ETag via httpx."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from junco import Junco, Request, Response, send_file
from junco.staticfiles import StaticFiles
from tests.servers import serve
from tests.test_files import open_fds, wait_closed

pytestmark = pytest.mark.e2e
SECRET = b"E2E-SECRET-CONTENT"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e")
    public = root / "public"
    (public / "sub").mkdir(parents=True)
    (public / "evil.com").mkdir()
    (public / "app.js").write_text("console.log(1)")
    (public / "sub" / "index.html").write_text("<h1>sub</h1>")
    (public / "evil.com" / "index.html").write_text("not evil")
    (public / ".env").write_bytes(SECRET)
    (public / "big.bin").write_bytes(os.urandom(8 * 1024 * 1024))
    (public / "link_out").symlink_to(root / "secret.txt")
    (root / "secret.txt").write_bytes(SECRET)
    (root / "public-secret").mkdir()
    (root / "public-secret" / "x.txt").write_bytes(SECRET)
    return public


def build_app(public: Path) -> Junco:
    app = Junco()
    StaticFiles(public).attach(app)
    app.mount(StaticFiles(public), url_prefix="/mnt")

    @app.get("/download")
    async def download(request: Request) -> Response:
        return send_file(str(public / "app.js"), attachment="naïve.js")

    return app


@pytest.fixture(scope="module", params=["httptools", "h11"])
def base(request: pytest.FixtureRequest, site: Path) -> Iterator[str]:
    with serve(build_app(site), http=request.param) as url:
        yield url


def raw_request(
    base: str, request_line: bytes, extra: bytes = b"", body: bytes = b""
) -> tuple[int, bytes, bytes]:
    """Send one hand-written request; return (status, header block, body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            request_line + b"\r\nHost: localhost\r\nConnection: close\r\n" + extra + b"\r\n" + body
        )
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head, body


# Not canonical: junco refuses them with 400 before routing (junco.paths).
NON_CANONICAL = [
    b"GET /static/..%2f..%2fsecret.txt HTTP/1.1",
    b"GET /static/..%2F..%2Fsecret.txt HTTP/1.1",
    b"GET /static/%2e%2e/secret.txt HTTP/1.1",
    b"GET /static/%2e%2e%2fsecret.txt HTTP/1.1",
    b"GET /static/../secret.txt HTTP/1.1",
    b"GET /static/../../../../etc/passwd HTTP/1.1",
    b"GET /static/..%5csecret.txt HTTP/1.1",
    b"GET /static/%5c..%5csecret.txt HTTP/1.1",
    b"GET /static//etc/passwd HTTP/1.1",
    b"GET /static/C:%5csecret.txt HTTP/1.1",
    b"GET /static/%00 HTTP/1.1",
    b"GET /static/app.js%00.png HTTP/1.1",
    b"GET /static/%0d%0aSet-Cookie:%20x=1 HTTP/1.1",
    b"GET /static/../public-secret/x.txt HTTP/1.1",
    b"GET http://localhost/static/../secret.txt HTTP/1.1",
    b"GET /mnt/..%2f..%2fsecret.txt HTTP/1.1",
    b"GET /mnt/%2e%2e/secret.txt HTTP/1.1",
    b"GET /mnt/../secret.txt HTTP/1.1",
]
# Canonical: they reach StaticFiles, which answers 404 whether or not the target exists.
HOSTILE = [
    b"GET /static/..%252fsecret.txt HTTP/1.1",
    b"GET /static/.env HTTP/1.1",
    b"GET /static/%2eenv HTTP/1.1",
    b"GET /static/link_out HTTP/1.1",
    b"GET /static-secret/x.txt HTTP/1.1",
    b"GET /mnt/.env HTTP/1.1",
    b"GET /mnt/link_out HTTP/1.1",
]


@pytest.mark.parametrize(
    "line", NON_CANONICAL + HOSTILE, ids=[h.decode() for h in NON_CANONICAL + HOSTILE]
)
def test_hostile_request_lines(base: str, line: bytes) -> None:
    status, head, body = raw_request(base, line)
    assert status == (400 if line in NON_CANONICAL else 404), (status, head)
    assert SECRET not in body
    assert b"root:" not in body
    assert b"set-cookie" not in head.lower()


def test_files_and_directories(base: str) -> None:
    status, head, body = raw_request(base, b"GET /static/app.js HTTP/1.1")
    assert (status, body) == (200, b"console.log(1)")
    assert b"x-content-type-options: nosniff" in head.lower()
    for prefix in (b"/static", b"/mnt"):
        status, head, _ = raw_request(base, b"GET " + prefix + b"/sub HTTP/1.1")
        assert status == 308
        assert b"location: " + prefix + b"/sub/\r" in head.lower() + b"\r"


def test_no_protocol_relative_redirect(site: Path) -> None:
    with serve(StaticFiles(site)) as url:
        for line in (b"GET //evil.com HTTP/1.1", b"GET ///evil.com HTTP/1.1"):
            status, head, _ = raw_request(url, line)
            assert status == 400
            assert b"location:" not in head.lower()
        status, head, _ = raw_request(url, b"GET /evil.com HTTP/1.1")
        location = [h for h in head.split(b"\r\n") if h.lower().startswith(b"location:")]
        assert (status, location) == (308, [b"location: /evil.com/"])
        status, _, _ = raw_request(url, b"GET /%5cevil.com HTTP/1.1")
        assert status == 400


def test_range_etag_and_head_with_httpx(base: str, site: Path) -> None:
    with httpx.Client(base_url=base) as client:
        r = client.get("/static/app.js")
        etag = r.headers["etag"]
        assert client.get("/static/app.js", headers={"If-None-Match": etag}).status_code == 304
        r = client.get("/mnt/app.js", headers={"Range": "bytes=8-13"})
        assert (r.status_code, r.content) == (206, b"log(1)")
        assert r.headers["content-range"] == "bytes 8-13/14"
        r = client.get("/static/app.js", headers={"Range": "bytes=0-1,8-10"})
        assert r.status_code == 206
        assert r.headers["content-type"].startswith("multipart/byteranges")
        assert b"\r\n\r\nco\r\n" in r.content
        assert b"\r\n\r\nlog\r\n" in r.content
        assert client.get("/static/app.js", headers={"Range": "bytes=99-"}).status_code == 416
        r = client.head("/static/big.bin")
        assert (r.status_code, r.content) == (200, b"")
        assert r.headers["content-length"] == str(8 * 1024 * 1024)
        r = client.get("/download")
        assert r.headers["content-disposition"] == (
            "attachment; filename=\"naive.js\"; filename*=UTF-8''na%C3%AFve.js"
        )
        big = client.get("/static/big.bin", headers={"Range": "bytes=-1000"})
        assert big.content == (site / "big.bin").read_bytes()[-1000:]
    assert open_fds(site / "app.js") == 0


def test_client_leaving_mid_download_closes_the_file(base: str, site: Path) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert wait_closed(site / "big.bin") == 0
