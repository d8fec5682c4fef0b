"""multipart/form-data: the pure parser, FormDataIter, FileUpload and with_form_data."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from junco import HTTPException, Junco, Request, Response
from junco.multipart import (
    FileUpload,
    FormDataIter,
    MultipartLimits,
    configure,
    with_form_data,
)
from junco.multipart.parser import (
    PART_END,
    FormDataParser,
    Part,
    boundary_from_content_type,
    parse_content_disposition,
    secure_filename,
)
from junco.testing import TestClient, TestResponse

B = b"----WebKitFormBoundary7MA4YWxkTrZu0gW"
CT = "multipart/form-data; boundary=" + B.decode()
FileSpec = tuple[str, bytes, str | None]


def encode(parts: Iterable[tuple[str, str | FileSpec]], boundary: bytes = B) -> bytes:
    """A multipart body the way browsers write it (CRLF, quoted names)."""
    out = []
    for name, value in parts:
        out.append(b"--" + boundary + b"\r\n")
        if isinstance(value, str):
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            out.append(head.encode() + value.encode() + b"\r\n")
        else:
            filename, data, ctype = value
            head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            if ctype:
                head += f"Content-Type: {ctype}\r\n"
            out.append(head.encode() + b"\r\n" + data + b"\r\n")
    out.append(b"--" + boundary + b"--\r\n")
    return b"".join(out)


Parsed = list[tuple[str, str | None, str | None, bytes]]


def parse(body: bytes, chunks: Iterable[bytes] | None = None, **limits: Any) -> Parsed:
    """Run the pure parser over ``body`` (or ``chunks``) and collect the parts."""
    parser = FormDataParser(B, **limits)
    out: Parsed = []
    current: Part | None = None
    data = bytearray()
    for chunk in chunks if chunks is not None else [body]:
        for event in parser.feed(chunk):
            if isinstance(event, Part):
                current, data = event, bytearray()
            elif event is PART_END:
                assert current is not None
                out.append((current.name, current.filename, current.content_type, bytes(data)))
            else:
                assert isinstance(event, bytes)
                data += event
    parser.close()
    return out


def status_of(fn: Callable[[], object]) -> int:
    with pytest.raises(HTTPException) as info:
        fn()
    return info.value.status_code


SIMPLE = encode([("a", "1"), ("a", "2"), ("doc", ("r.txt", b"hello\r\nworld", "text/plain"))])
SIMPLE_PARSED: Parsed = [
    ("a", None, None, b"1"),
    ("a", None, None, b"2"),
    ("doc", "r.txt", "text/plain", b"hello\r\nworld"),
]


# -- the pure parser ---------------------------------------------------------------------


def test_parse_simple_body() -> None:
    assert parse(SIMPLE) == SIMPLE_PARSED


def test_every_two_chunk_split_gives_the_same_parts() -> None:
    for i in range(len(SIMPLE) + 1):
        assert parse(b"", [SIMPLE[:i], SIMPLE[i:]]) == SIMPLE_PARSED, i


def test_byte_by_byte_feeding() -> None:
    assert parse(b"", [SIMPLE[i : i + 1] for i in range(len(SIMPLE))]) == SIMPLE_PARSED


def test_data_that_looks_like_a_boundary_survives_chunking() -> None:
    tricky = b"\r\n--" + B[:10] + b"\r\n-" + B + b"\r\r\n--" + B[:-1] + b"\r\n"
    body = encode([("f", ("t.bin", tricky, None))])
    for i in range(0, len(body), 7):
        assert parse(b"", [body[:i], body[i:]]) == [("f", "t.bin", None, tricky)]


def test_round_trip_through_httpx_encoder() -> None:
    payload = os.urandom(200_000)
    req = httpx.Request(
        "POST",
        "http://t/",
        data={"title": "naïve ☃", "tag": ["x", "y"]},
        files={"upload": ("ünï.bin", payload, "application/octet-stream")},
    )
    body = req.read()
    boundary = boundary_from_content_type(req.headers["content-type"])
    parser = FormDataParser(boundary, max_file_size=1 << 20)
    events = [e for i in range(0, len(body), 1000) for e in parser.feed(body[i : i + 1000])]
    parser.close()
    parts = [e for e in events if isinstance(e, Part)]
    assert [(p.name, p.filename) for p in parts] == [
        ("title", None),
        ("tag", None),
        ("tag", None),
        ("upload", "ünï.bin"),
    ]
    data = b"".join(e for e in events if isinstance(e, bytes))
    assert data == "naïve ☃".encode() + b"xy" + payload


CHROME_BODY = (
    b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
    b'Content-Disposition: form-data; name="comment"\r\n'
    b"\r\n"
    b"caf\xc3\xa9 \xe2\x82\xac\r\n"
    b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
    b'Content-Disposition: form-data; name="photos"; '
    b'filename="%22quoted%22 r\xc3\xa9sum\xc3\xa9.png"\r\n'
    b"Content-Type: image/png\r\n"
    b"\r\n"
    b"\x89PNG\r\n\x1a\n\x00\x00\r\n"
    b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
    b'Content-Disposition: form-data; name="photos"; filename=""\r\n'
    b"Content-Type: application/octet-stream\r\n"
    b"\r\n"
    b"\r\n"
    b"------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"
)


def test_chrome_like_body() -> None:
    assert parse(CHROME_BODY) == [
        ("comment", None, None, "café €".encode()),
        ("photos", "%22quoted%22 résumé.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\x00"),
        ("photos", "", "application/octet-stream", b""),
    ]


FIREFOX_BOUNDARY = b"----geckoformboundary3c0b8d1e6f6a2f1e9d8e0c2a7b4f5e61"
FIREFOX_BODY = (
    b"------geckoformboundary3c0b8d1e6f6a2f1e9d8e0c2a7b4f5e61\r\n"
    b'Content-Disposition: form-data; name="user"\r\n'
    b"\r\n"
    b"ada\r\n"
    b"------geckoformboundary3c0b8d1e6f6a2f1e9d8e0c2a7b4f5e61\r\n"
    b'Content-Disposition: form-data; name="cv"; filename="cv.txt"\r\n'
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"line 1\nline 2\n\r\n"
    b"------geckoformboundary3c0b8d1e6f6a2f1e9d8e0c2a7b4f5e61--\r\n"
)


def test_firefox_like_body() -> None:
    parser = FormDataParser(FIREFOX_BOUNDARY)
    events = parser.feed(FIREFOX_BODY)
    parser.close()
    parts = [e for e in events if isinstance(e, Part)]
    assert [(p.name, p.filename, p.content_type) for p in parts] == [
        ("user", None, None),
        ("cv", "cv.txt", "text/plain"),
    ]
    assert [e for e in events if isinstance(e, bytes)] == [b"ada", b"line 1\nline 2\n"]
    assert parts[1].headers["content-disposition"].startswith("form-data")


def part_headers(*lines: str) -> bytes:
    return b"--" + B + b"\r\n" + "".join(x + "\r\n" for x in lines).encode() + b"\r\n"


def one_part(*lines: str, data: bytes = b"x") -> bytes:
    return part_headers(*lines) + data + b"\r\n--" + B + b"--\r\n"


def test_filename_escapes_and_extended_filename() -> None:
    body = one_part('Content-Disposition: form-data; name="f"; filename="a \\"b\\" c\\\\d\\e"')
    assert parse(body)[0][1] == 'a "b" c\\d\\e'
    body = one_part(
        'Content-Disposition: form-data; name=f; filename="plain.txt"; '
        "filename*=UTF-8''%E2%82%AC%20rate.txt"
    )
    assert parse(body)[0][:2] == ("f", "€ rate.txt")
    body = one_part("Content-Disposition: form-data; name=f; filename*=iso-8859-1'en'%E9t%E9")
    assert parse(body)[0][1] == "été"


@pytest.mark.parametrize(
    "disposition",
    [
        "Content-Disposition: form-data; name=f; filename*=UTF-8''%FF",
        "Content-Disposition: form-data; name=f; filename*=koi8-r''abc",
        "Content-Disposition: form-data; name=f; filename*=abc",
        "Content-Disposition: form-data; name=f; filename*=UTF-8''a%00b",
    ],
)
def test_bad_extended_filename_is_400(disposition: str) -> None:
    assert status_of(lambda: parse(one_part(disposition))) == 400


def test_empty_file_and_empty_form() -> None:
    body = one_part('Content-Disposition: form-data; name="f"; filename="e.txt"', data=b"")
    assert parse(body) == [("f", "e.txt", None, b"")]
    assert parse(b"--" + B + b"--\r\n") == []


def test_many_small_parts_up_to_the_limit() -> None:
    fields = [(f"k{i}", str(i)) for i in range(1000)]
    parsed = parse(encode(fields))
    assert len(parsed) == 1000
    assert parsed[999] == ("k999", None, None, b"999")
    assert status_of(lambda: parse(encode([*fields, ("one", "more")]))) == 413
    assert status_of(lambda: parse(encode(fields[:11]), max_parts=10)) == 413


def test_field_and_file_size_limits() -> None:
    assert parse(encode([("a", "x" * 100)]), max_field_size=100)[0][3] == b"x" * 100
    assert status_of(lambda: parse(encode([("a", "x" * 101)]), max_field_size=100)) == 413
    ok = encode([("f", ("f.bin", b"y" * 100, None))])
    assert parse(ok, max_file_size=100, max_field_size=1)[0][3] == b"y" * 100
    big = encode([("f", ("f.bin", b"y" * 101, None))])
    assert status_of(lambda: parse(big, max_file_size=100)) == 413


def test_part_header_limits() -> None:
    lines = ['Content-Disposition: form-data; name="a"'] + [f"X-H{i}: v" for i in range(31)]
    assert parse(one_part(*lines))[0][0] == "a"
    assert status_of(lambda: parse(one_part(*lines, "X-One: more"))) == 400
    long = 'Content-Disposition: form-data; name="a"; filename="' + "n" * 9000 + '"'
    assert status_of(lambda: parse(one_part(long))) == 400
    many = ['Content-Disposition: form-data; name="a"'] + ["X: " + "v" * 500] * 20
    assert status_of(lambda: parse(one_part(*many))) == 400
    assert status_of(lambda: parse(one_part(*many), max_header_lines=100)) == 400


@pytest.mark.parametrize(
    "lines",
    [
        ["Content-Type: text/plain"],
        ["Content-Disposition: form-data"],
        ['Content-Disposition: form-data; filename="x"'],
        ['Content-Disposition: attachment; name="a"'],
        ['Content-Disposition: form-data; name="a"; name="b"'],
        ['Content-Disposition: form-data; name="a"', 'Content-Disposition: form-data; name="b"'],
        ['Content-Disposition: form-data; name="a\x01"'],
        ['Content-Disposition: form-data; name="a"; junk'],
        ['Content-Disposition: form-data; name="unterminated'],
        ["Content-Disposition: ;"],
        ["Bad Header: x"],
        [": empty name"],
        ['Content-Disposition: form-data; name="a"\nX: y'],
    ],
)
def test_bad_part_headers_are_400(lines: list[str]) -> None:
    assert status_of(lambda: parse(one_part(*lines))) == 400


@pytest.mark.parametrize(
    "body",
    [
        b"",  # no delimiter at all
        b"--" + B + b"\r\n",  # stops inside the first part's headers
        SIMPLE[:-8],  # no closing delimiter
        SIMPLE.replace(b"--\r\n", b"\r\n"),  # a delimiter, not the closing one
        b"preamble\r\n" + SIMPLE,  # python-multipart accepts blank lines only
        b"--" + B + b"X\r\n",  # wrong boundary
        b"--" + B + b"\n" + SIMPLE[len(B) + 4 :],  # LF only after the delimiter
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    assert status_of(lambda: parse(body)) == 400


def test_blank_preamble_is_bounded() -> None:
    assert parse(b"\r\n" * 100 + SIMPLE) == SIMPLE_PARSED
    parser = FormDataParser(B)
    crlf = b"\r\n" * 32 * 1024
    assert status_of(lambda: parser.feed(crlf)) == 400
    # Chunk by chunk, it fails as soon as the bound is passed.
    parser = FormDataParser(B, max_preamble=100)
    fed = 0

    def feed_blank_lines() -> None:
        nonlocal fed
        for _ in range(1000):
            parser.feed(b"\r\n" * 16)
            fed += 32

    assert status_of(feed_blank_lines) == 400
    assert fed < 200


def test_epilogue_is_ignored() -> None:
    parser = FormDataParser(B)
    assert parser.feed(SIMPLE + b"epilogue\r\n" * 10)
    assert parser.done
    assert parser.feed(b"more epilogue") == []
    parser.close()


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 415),
        ("application/json", 415),
        ("multipart/mixed; boundary=abc", 415),
        ("multipart/form-data", 400),
        ("multipart/form-data; boundary=", 400),
        ("multipart/form-data; boundary=" + "a" * 71, 400),
        ('multipart/form-data; boundary="a b "', 400),
        ("multipart/form-data; boundary=a\x00b", 400),
        ("multipart/form-data; boundary=a{b", 400),
    ],
)
def test_bad_content_types(content_type: str | None, status: int) -> None:
    assert status_of(lambda: boundary_from_content_type(content_type)) == status


def test_good_content_types() -> None:
    assert boundary_from_content_type("Multipart/Form-Data; boundary=" + "a" * 70) == b"a" * 70
    assert boundary_from_content_type('multipart/form-data; charset=UTF-8; boundary="a b:c"') == (
        b"a b:c"
    )


def test_parse_content_disposition() -> None:
    assert parse_content_disposition('form-data; name="a;b"; filename=x.txt') == (
        "form-data",
        {"name": "a;b", "filename": "x.txt"},
    )
    assert parse_content_disposition("Form-Data ; NAME = a ;") == ("form-data", {"name": "a"})
    assert parse_content_disposition('form-data; name=""') == ("form-data", {"name": ""})


def test_secure_filename() -> None:
    assert secure_filename("../../etc/passwd") == "passwd"
    assert secure_filename("C:\\Windows\\system32\\cmd.exe") == "cmd.exe"
    assert secure_filename("résumé final (2).pdf") == "resume_final_2_.pdf"
    assert secure_filename("..") == ""
    assert secure_filename(".bashrc") == "bashrc"
    assert secure_filename("con.txt") == "_con.txt"
    assert secure_filename("☃") == ""
    assert len(secure_filename("a" * 500)) == 200


def test_limits_are_checked() -> None:
    with pytest.raises(TypeError):
        MultipartLimits(max_partz=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="max_parts"):
        MultipartLimits(max_parts=-1)
    with pytest.raises(ValueError, match="max_file_size"):
        MultipartLimits(max_file_size="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        with_form_data(max_partz=3)
    app = Junco()
    assert configure(app, max_parts=5).max_parts == 5
    limits = configure(app, max_field_size=10)
    assert (limits.max_parts, limits.max_field_size) == (5, 10)
    assert app.extensions["multipart"] == {"max_parts": 5, "max_field_size": 10}
    with pytest.raises(ValueError, match="max_parts"):
        configure(app, max_parts=-5)
    assert app.extensions["multipart"]["max_parts"] == 5  # unchanged by the refused call


# -- through the app ---------------------------------------------------------------------


def run(coro: Awaitable[TestResponse]) -> TestResponse:
    async def main() -> TestResponse:
        return await coro

    return asyncio.run(main())


def post(
    app: Junco,
    path: str,
    body: bytes | None = None,
    content_type: str | None = CT,
    stream: Iterable[bytes] | AsyncIterator[bytes] | None = None,
) -> TestResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    return run(TestClient(app).post(path, headers=headers, body=body, stream=stream))


def upload_of(request: Request, name: str) -> FileUpload:
    assert request.files is not None
    value: object = request.files[name]
    assert isinstance(value, FileUpload)
    return value


def temp_fds(directory: Path) -> list[str]:
    """Open file descriptors of this process pointing into ``directory``."""
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory)):
            out.append(target)
    return out


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")


def form_app(**app_options: Any) -> Junco:
    app = Junco(**app_options)

    @app.post("/form")
    @with_form_data
    async def form(request: Request) -> dict[str, Any]:
        if request.form is None:  # no body at all: no form, as in Microdot
            assert request.files is None
            return {"form": None, "files": None}
        assert request.files is not None
        files = {}
        for name in request.files:
            f = upload_of(request, name)
            files[name] = [f.filename, f.content_type, (await f.read()).decode(), f.size]
        return {"form": request.form.to_dict(flat=False), "files": files}

    return app


def test_with_form_data_fills_form_and_files() -> None:
    r = post(form_app(), "/form", SIMPLE)
    assert r.status_code == 200
    assert r.json == {
        "form": {"a": ["1", "2"]},
        "files": {"doc": ["r.txt", "text/plain", "hello\r\nworld", 12]},
    }


def test_with_form_data_in_chunks_that_split_the_boundary() -> None:
    app = form_app(max_body_length=0)  # everything goes through request.stream
    cut = SIMPLE.index(B, 10) + 5  # inside the second delimiter
    for chunks in ([SIMPLE[:cut], SIMPLE[cut:]], [SIMPLE[i : i + 3] for i in range(0, 400, 3)]):
        r = post(app, "/form", stream=chunks)
        assert r.status_code == 200
        assert r.json["form"] == {"a": ["1", "2"]}
        assert r.json["files"]["doc"][2] == "hello\r\nworld"


def test_urlencoded_and_empty_bodies_keep_working() -> None:
    app = form_app()
    r = run(TestClient(app).post("/form", form={"x": "1"}))
    assert r.json == {"form": {"x": ["1"]}, "files": {}}
    assert post(app, "/form", content_type=None).json == {"form": None, "files": None}


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{}", 415),
        (None, b"data", 415),
        ("multipart/form-data", SIMPLE, 400),
        (CT, SIMPLE[:-10], 400),
        (CT, b"junk" * 100, 400),
        (CT, encode([("f", ("a", b"x", None))]).replace(b"name=", b"nom="), 400),
        (CT, encode([("a", "ok")]).replace(b"ok", b"\xff\xfe"), 400),
    ],
)
def test_bad_requests(content_type: str | None, body: bytes, status: int) -> None:
    r = post(form_app(), "/form", body, content_type)
    assert r.status_code == status
    assert "Traceback" not in r.text


def test_caps_from_app_config_and_decorator() -> None:
    app = Junco(max_content_length=10_000)
    configure(app, max_parts=3, max_field_size=50)

    @app.post("/app")
    @with_form_data
    async def by_app(request: Request) -> str:
        return "ok"

    @app.post("/tight")
    @with_form_data(max_parts=1)
    async def tight(request: Request) -> str:
        return "ok"

    three = encode([("a", "1"), ("b", "2"), ("c", "3")])
    assert post(app, "/app", three).status_code == 200
    assert post(app, "/app", encode([("a", "1")] * 4)).status_code == 413
    assert post(app, "/app", encode([("a", "x" * 51)])).status_code == 413
    assert post(app, "/tight", three).status_code == 413
    assert post(app, "/tight", encode([("a", "1")])).status_code == 200
    # No max_file_size: the app's max_content_length is the cap, streamed or declared.
    big = encode([("f", ("f", b"z" * 10_001, None))])
    assert post(app, "/app", big).status_code == 413
    chunks = [big[i : i + 1000] for i in range(0, len(big), 1000)]
    assert post(app, "/app", stream=chunks).status_code == 413


def test_form_memory_budget() -> None:
    app = Junco()
    seen: dict[str, bool] = {}

    @app.post("/")
    @with_form_data(max_form_memory=1000)
    async def handler(request: Request) -> str:
        assert request.files is not None
        for name in request.files:
            seen[name] = upload_of(request, name).in_memory
        return "ok"

    fields = [("a", "x" * 600), ("b", "y" * 600)]
    assert post(app, "/", encode(fields)).status_code == 413
    files = [("f1", ("1", b"1" * 600, None)), ("f2", ("2", b"2" * 600, None))]
    assert post(app, "/", encode(files)).status_code == 200
    assert seen == {"f1": True, "f2": False}  # the second one did not fit in memory


def test_sync_handler_reads_the_file_object() -> None:
    app = Junco()

    @app.post("/")
    @with_form_data
    def handler(request: Request) -> dict[str, Any]:
        f = upload_of(request, "doc")
        return {
            "data": f.file.read().decode(),
            "a": request.form.getlist("a") if request.form else [],
        }

    assert post(app, "/", SIMPLE).json == {"data": "hello\r\nworld", "a": ["1", "2"]}


@needs_proc
def test_temporary_files_are_released_after_the_request(tmp_path: Path) -> None:
    app = Junco()
    seen: list[FileUpload] = []
    during: list[list[str]] = []

    @app.post("/")
    @with_form_data(max_memory_size=1000, tmp_dir=str(tmp_path))
    async def handler(request: Request) -> str:
        f = upload_of(request, "big")
        seen.append(f)
        during.append(temp_fds(tmp_path))
        return f"{f.size} {f.in_memory}"

    data = os.urandom(300_000)
    r = post(app, "/", encode([("big", ("b.bin", data, None)), ("small", ("s", b"s", None))]))
    assert r.text == "300000 False"
    assert len(during[0]) == 1
    assert "(deleted)" in during[0][0]
    assert seen[0].closed
    assert temp_fds(tmp_path) == []
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        asyncio.run(seen[0].read())


@needs_proc
def test_files_are_released_when_the_handler_raises(tmp_path: Path) -> None:
    app = Junco()
    seen: list[FileUpload] = []

    @app.post("/")
    @with_form_data(max_memory_size=0, tmp_dir=str(tmp_path))
    async def handler(request: Request) -> str:
        seen.append(upload_of(request, "f"))
        raise RuntimeError("boom")

    r = post(app, "/", encode([("f", ("f", b"data" * 100, None))]))
    assert r.status_code == 500
    assert seen[0].closed
    assert not seen[0].in_memory
    assert temp_fds(tmp_path) == []


@needs_proc
def test_files_are_released_when_parsing_fails(tmp_path: Path) -> None:
    app = Junco()

    @app.post("/")
    @with_form_data(max_memory_size=0, tmp_dir=str(tmp_path), max_parts=2)
    async def handler(request: Request) -> str:
        return "unreachable"

    body = encode([("f", ("f", b"1" * 1000, None)), ("g", ("g", b"2" * 1000, None)), ("h", "3")])
    assert post(app, "/", body).status_code == 413
    assert temp_fds(tmp_path) == []


@needs_proc
def test_a_streamed_response_can_read_the_upload(tmp_path: Path) -> None:
    app = Junco()
    seen: list[FileUpload] = []

    @app.post("/echo")
    @with_form_data(max_memory_size=10, tmp_dir=str(tmp_path))
    async def echo(request: Request) -> Response:
        f = upload_of(request, "f")
        seen.append(f)

        async def body() -> AsyncIterator[bytes]:
            assert not f.closed
            while chunk := await f.read(1000):
                yield chunk

        return Response(body(), headers={"Content-Type": "application/octet-stream"})

    data = os.urandom(50_000)
    r = post(app, "/echo", encode([("f", ("f", data, None))]))
    assert r.status_code == 200
    assert r.body == data
    assert seen[0].closed
    assert temp_fds(tmp_path) == []


def test_form_data_iter_streams_fields_before_the_body_ends() -> None:
    app = Junco(max_body_length=0)
    got_first = asyncio.Event()
    items: list[Any] = []

    @app.post("/")
    async def handler(request: Request) -> list[Any]:
        async for name, value in FormDataIter(request):
            if isinstance(value, FileUpload):
                items.append([name, value.filename, (await value.read()).decode()])
            else:
                items.append([name, value])
            got_first.set()
        return items

    cut = SIMPLE.index(b"--" + B, 10) + len(B) + 4  # just after the second delimiter line
    head, rest = SIMPLE[:cut], SIMPLE[cut:]

    async def chunks() -> AsyncIterator[bytes]:
        yield head[:20]
        yield head[20:]
        # The handler sees field "a" while the rest of the body is still unsent.
        await asyncio.wait_for(got_first.wait(), 10)
        yield rest

    async def main() -> TestResponse:
        return await TestClient(app).post("/", headers={"Content-Type": CT}, stream=chunks())

    r = asyncio.run(main())
    assert r.status_code == 200
    assert r.json == [["a", "1"], ["a", "2"], ["doc", "r.txt", "hello\r\nworld"]]


def iter_app(handler: Callable[[Request], Awaitable[Any]]) -> Junco:
    app = Junco()
    app.post("/")(handler)
    return app


THREE_FILES = encode(
    [
        ("one", ("1.txt", b"first file", None)),
        ("two", ("2.txt", b"second file", None)),
        ("three", ("3.txt", b"third", None)),
        ("after", "field"),
    ]
)


def test_unread_files_are_skipped_and_cannot_be_read_later() -> None:
    async def handler(request: Request) -> list[Any]:
        out: list[Any] = []
        kept: list[FileUpload] = []
        async for name, value in FormDataIter(request):
            if name == "one":
                assert isinstance(value, FileUpload)
                kept.append(value)  # never read before moving on
            elif name == "two":
                assert isinstance(value, FileUpload)
                out.append((await value.read(6)).decode())  # half read
                kept.append(value)
            elif name == "three":
                assert isinstance(value, FileUpload)
                out.append((await value.read()).decode())  # fully read
                kept.append(value)
            else:
                out.append(value)
        for upload in kept[:2]:
            with pytest.raises(RuntimeError, match="skipped"):
                await upload.read()
        assert await kept[2].read() == b""
        return out

    r = post(iter_app(handler), "/", THREE_FILES)
    assert r.json == ["second", "third", "field"]


def test_copy_keeps_a_file_past_the_iteration() -> None:
    async def handler(request: Request) -> list[str]:
        kept = []
        async for _name, value in FormDataIter(request):
            if isinstance(value, FileUpload):
                assert await value.copy() is value
                assert await value.copy() is value  # idempotent
                kept.append(value)
        out = [(await f.read()).decode() for f in kept]
        for f in kept:
            await f.close()
            await f.close()
            with pytest.raises(ValueError, match="closed"):
                await f.copy()
        return out

    r = post(iter_app(handler), "/", THREE_FILES)
    assert r.json == ["first file", "second file", "third"]


def test_read_in_small_pieces_and_copy_after_a_partial_read() -> None:
    async def handler(request: Request) -> list[Any]:
        out: list[Any] = []
        async for _name, value in FormDataIter(request):
            if isinstance(value, FileUpload):
                first = await value.read(1)
                await value.copy(max_memory_size=2)
                out.append([first.decode(), (await value.read()).decode(), value.size])
                out.append(value.in_memory)
                await value.close()
        return out

    r = post(iter_app(handler), "/", encode([("f", ("f", b"abcdef", None))]))
    assert r.json == [["a", "bcdef", 6], False]


def test_save_to_a_path_and_to_file_objects(tmp_path: Path) -> None:
    data = os.urandom(200_000)

    class AsyncWriter:
        def __init__(self) -> None:
            self.data = bytearray()

        async def write(self, chunk: bytes) -> None:
            self.data += chunk

    async def handler(request: Request) -> str:
        async for name, value in FormDataIter(request):
            assert isinstance(value, FileUpload)
            if name == "path":
                await value.save(tmp_path / "saved.bin")
            elif name == "str":
                await value.save(str(tmp_path / "saved2.bin"))
            elif name == "bytesio":
                buf = io.BytesIO()
                await value.save(buf)
                assert buf.getvalue() == data
            elif name == "async":
                writer = AsyncWriter()
                await value.save(writer)  # type: ignore[arg-type]
                assert writer.data == data
            else:
                await value.copy(max_memory_size=1000)
                f = await asyncio.to_thread(open, tmp_path / "copied.bin", "wb")
                await value.save(f)
                f.close()
                await value.close()
        return "ok"

    names = ["path", "str", "bytesio", "async", "copied"]
    r = post(iter_app(handler), "/", encode([(n, ("x", data, None)) for n in names]))
    assert r.text == "ok"
    for saved in ("saved.bin", "saved2.bin", "copied.bin"):
        assert (tmp_path / saved).read_bytes() == data


def test_a_failed_save_removes_the_partial_file(tmp_path: Path) -> None:
    app = Junco(max_body_length=0)

    @app.post("/")
    async def handler(request: Request) -> str:
        async for _name, value in FormDataIter(request, max_file_size=100_000):
            assert isinstance(value, FileUpload)
            await value.save(tmp_path / "partial.bin")
        return "ok"

    body = encode([("f", ("f", b"q" * 300_000, None))])
    r = post(app, "/", stream=[body[i : i + 50_000] for i in range(0, len(body), 50_000)])
    assert r.status_code == 413
    assert os.listdir(tmp_path) == []


def test_form_data_iter_refuses_other_bodies() -> None:
    async def handler(request: Request) -> str:
        async for _ in FormDataIter(request):
            pass
        return "ok"

    app = iter_app(handler)
    assert run(TestClient(app).post("/", json={"a": 1})).status_code == 415
    assert post(app, "/", b"", "multipart/form-data; boundary=abc").status_code == 400
    assert post(app, "/", b"--abc--\r\n", "multipart/form-data; boundary=abc").text == "ok"


def test_a_bare_file_upload() -> None:
    async def main() -> None:
        f = FileUpload("name.txt", "text/plain")
        assert f.filename == "name.txt"
        assert f.headers == {}
        assert await f.read() == b""
        with pytest.raises(RuntimeError, match="copy"):
            f.file  # noqa: B018
        await f.copy()
        assert f.file.read() == b""
        assert "name.txt" in repr(f)
        await f.close()
        assert f.closed

    asyncio.run(main())


def test_hostile_preamble_stops_reading_early() -> None:
    app = Junco(max_content_length=64 * 1024 * 1024, max_body_length=0)
    pulled = []

    @app.post("/")
    @with_form_data
    async def handler(request: Request) -> str:
        return "unreachable"

    def chunks() -> Iterable[bytes]:
        for _ in range(1000):  # up to 64 MiB of blank lines
            pulled.append(1)
            yield b"\r\n" * 32 * 1024

    r = post(app, "/", stream=chunks())
    assert r.status_code == 400
    assert len(pulled) <= 2


def test_hostile_header_flood_is_400() -> None:
    endless = b"--" + B + b'\r\nContent-Disposition: form-data; name="a"\r\nX-Y: ' + b"v" * 200_000
    assert post(form_app(), "/form", endless + b"\r\n\r\n").status_code == 400
    lines = part_headers(*[f"X-{i}: v" for i in range(5000)]) + b"x\r\n--" + B + b"--\r\n"
    assert post(form_app(), "/form", lines).status_code == 400


def test_streamed_sync_generator_and_replaced_responses_release_files(tmp_path: Path) -> None:
    app = Junco()
    seen: list[FileUpload] = []

    @app.post("/gen")
    @with_form_data(max_memory_size=0, tmp_dir=str(tmp_path))
    def gen(request: Request) -> Iterable[bytes]:
        f = upload_of(request, "doc")
        seen.append(f)
        yield f.file.read()

    @app.post("/replaced")
    @with_form_data(max_memory_size=0, tmp_dir=str(tmp_path))
    async def replaced(request: Request) -> Response:
        f = upload_of(request, "doc")
        seen.append(f)
        return Response(f.file)

    @app.after_request
    def swap(request: Request, response: Response) -> Response | None:
        if request.path == "/replaced":
            return Response("replaced")
        return None

    assert post(app, "/gen", SIMPLE).body == b"hello\r\nworld"
    assert post(app, "/replaced", SIMPLE).text == "replaced"
    assert [f.closed for f in seen] == [True, True]
    if os.path.isdir("/proc/self/fd"):
        assert temp_fds(tmp_path) == []


def test_decorated_handler_keeps_its_name_and_is_async() -> None:
    async def original(request: Request) -> str:
        return "x"

    wrapped = with_form_data(original)
    assert wrapped.__name__ == "original"
    assert asyncio.iscoroutinefunction(wrapped)


@needs_proc
def test_temporary_files_go_to_the_system_temp_dir_by_default() -> None:
    app = Junco()
    during: list[list[str]] = []

    @app.post("/")
    @with_form_data(max_memory_size=0)
    async def handler(request: Request) -> str:
        during.append(temp_fds(Path(tempfile.gettempdir())))
        return "ok"

    before = temp_fds(Path(tempfile.gettempdir()))
    assert post(app, "/", encode([("f", ("f", b"x" * 10, None))])).text == "ok"
    new = [link for link in during[0] if link not in before]
    assert len(new) == 1
    assert os.path.dirname(new[0]) == tempfile.gettempdir()
    assert temp_fds(Path(tempfile.gettempdir())) == before


# -- the examples in docs/multipart.md and docs/forms.md run as documented ---------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"
_FENCE = re.compile(r"^```python\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def doc_example(page: str, name: str) -> dict[str, Any]:
    """Execute the python block of ``docs/page`` that starts with ``# example: name``."""
    for block in _FENCE.finditer((DOCS / page).read_text(encoding="utf-8")):
        code = block.group(1)
        if code.startswith(f"# example: {name}\n"):
            namespace: dict[str, Any] = {"__name__": f"docs_{name}"}
            exec(compile(code, f"docs/{page}:{name}", "exec"), namespace)
            return namespace
    raise AssertionError(f"docs/{page} has no example {name!r}")


def httpx_multipart(data: dict[str, Any], files: dict[str, Any]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://test/", data=data, files=files)
    return request.read(), request.headers["Content-Type"]


def test_docs_multipart_collect_example() -> None:
    app = doc_example("multipart.md", "collect")["app"]
    body, ctype = httpx_multipart(
        {"title": "Trip", "tag": ["sea", "sun"]},
        {"photo": ("a.jpg", b"jpeg bytes", "image/jpeg")},
    )
    r = post(app, "/photos", body, ctype)
    assert r.json == {
        "title": "Trip",
        "tags": ["sea", "sun"],
        "photos": [
            {
                "name": "a.jpg",
                "type": "image/jpeg",
                "bytes": 10,
                "sha256": hashlib.sha256(b"jpeg bytes").hexdigest(),
            }
        ],
    }


def test_docs_multipart_stream_example(tmp_path: Path) -> None:
    namespace = doc_example("multipart.md", "stream")
    namespace["UPLOADS"] = str(tmp_path)
    data = os.urandom(300_000)
    body, ctype = httpx_multipart({"album": "x"}, {"file": ("../../evil.tar.gz", data, None)})
    r = post(namespace["app"], "/upload", body, ctype)
    assert r.json["album"] == "x"
    stored = Path(r.json["file"]["path"])
    assert stored.parent == tmp_path
    assert stored.suffix == ".gz"
    assert stored.read_bytes() == data
    assert r.json["file"]["bytes"] == len(data)


def test_docs_forms_examples() -> None:
    app = doc_example("forms.md", "signup")["app"]
    signup_as_ada = doc_example("forms.md", "testing")["signup_as_ada"]
    with_file, urlencoded = asyncio.run(signup_as_ada(app))
    assert with_file == {
        "name": "Ada",
        "age": 36,
        "interests": ["birds", "trees"],
        "avatar": "ada.png",
    }
    assert urlencoded == {"name": "Ada", "age": 36, "interests": [], "avatar": None}
    body, ctype = httpx_multipart({"name": "Ada", "age": "old"}, {"avatar": ("", b"", None)})
    assert post(app, "/signup", body, ctype).status_code == 400
    body, ctype = httpx_multipart({"name": "Ada", "age": "3"}, {"avatar": ("", b"", None)})
    assert post(app, "/signup", body, ctype).json["avatar"] is None
