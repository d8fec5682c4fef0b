"""junco.typed and uploaded files: FileUpload parameters and model fields, filled from
multipart bodies through the real ASGI path, under the app's multipart limits."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import httpx
import msgspec
import pydantic
import pytest

from junco import Junco, Request
from junco.multipart import FileUpload, configure
from junco.typed import binding_of
from tests.test_multipart import CT, FileSpec, encode

if TYPE_CHECKING:
    from tests.conftest import Sync


class Photo(msgspec.Struct):
    title: str
    image: FileUpload
    tags: list[str] = []


@dataclasses.dataclass
class Album:
    name: str
    pages: list[FileUpload] = dataclasses.field(default_factory=list)


async def describe(f: FileUpload) -> dict[str, Any]:
    data = (await f.read()).decode(errors="replace")
    return {"filename": f.filename, "type": f.content_type, "data": data}


def gallery(**app_options: Any) -> tuple[Junco, list[FileUpload]]:
    app = Junco(**app_options)
    seen: list[FileUpload] = []

    @app.post("/avatar")
    async def avatar(request: Request, avatar: FileUpload, note: FileUpload | None = None) -> Any:
        seen.append(avatar)
        return {"avatar": await describe(avatar), "note": note and await describe(note)}

    @app.post("/photos")
    async def photo(request: Request, photo: Photo) -> dict[str, Any]:
        seen.append(photo.image)
        return {"title": photo.title, "tags": photo.tags, "image": await describe(photo.image)}

    @app.post("/albums")
    async def album(request: Request, album: Album, cover: FileUpload | None = None) -> Any:
        seen.extend(album.pages)
        pages = [await describe(p) for p in album.pages]
        return {"name": album.name, "pages": pages, "cover": cover and cover.filename}

    return app, seen


def post(client: Any, path: str, body: bytes, **headers: str) -> Any:
    return client.post(path, body=body, headers={"Content-Type": CT, **headers})


def locs(r: Any) -> list[list[Any]]:
    assert r.status_code == 422, r.text
    return [e["loc"] for e in r.json["error"]["errors"]]


def test_a_file_parameter_gets_the_upload_and_it_is_closed_after(sync: Sync) -> None:
    app, seen = gallery()
    client = sync(app)
    body = encode([("x", "1"), ("avatar", ("me.png", b"\x89PNG...", "image/png"))])
    r = post(client, "/avatar", body)
    assert r.status_code == 200, r.text
    assert r.json == {
        "avatar": {"filename": "me.png", "type": "image/png", "data": "\ufffdPNG..."},
        "note": None,
    }
    assert seen[0].closed  # the response is done: the copy is released


def test_a_model_field_gets_the_upload(sync: Sync) -> None:
    app, _ = gallery()
    body = encode(
        [
            ("title", "sea"),
            ("tags", "blue"),
            ("tags", "wet"),
            ("image", ("sea.txt", b"waves", "text/plain")),
        ]
    )
    r = post(sync(app), "/photos", body)
    assert r.json == {
        "title": "sea",
        "tags": ["blue", "wet"],
        "image": {"filename": "sea.txt", "type": "text/plain", "data": "waves"},
    }


def test_lists_of_files_and_a_model_beside_a_file_parameter(sync: Sync) -> None:
    app, seen = gallery()
    # Built by httpx's encoder, not ours.
    request = httpx.Request(
        "POST",
        "http://test/albums",
        data={"name": "trip"},
        files=[
            ("pages", ("1.txt", b"one", "text/plain")),
            ("pages", ("2.txt", b"two", "text/plain")),
            ("cover", ("c.jpg", b"jpg", "image/jpeg")),
            ("unasked", ("big.bin", b"z" * 100_000, "application/octet-stream")),
        ],
    )
    body = request.read()
    r = sync(app).post(
        "/albums", body=body, headers={"Content-Type": request.headers["Content-Type"]}
    )
    assert r.status_code == 200, r.text
    assert r.json["name"] == "trip"
    assert [p["data"] for p in r.json["pages"]] == ["one", "two"]
    assert r.json["cover"] == "c.jpg"
    assert len(seen) == 2  # the undeclared file was skipped, never copied
    assert all(f.closed for f in seen)


def test_a_missing_file_is_a_422_at_its_field(sync: Sync) -> None:
    app, _ = gallery()
    client = sync(app)
    assert locs(post(client, "/avatar", encode([("x", "1")]))) == [["body", "avatar"]]
    # A browser's file input left empty: a part with no filename and no bytes.
    empty = encode([("avatar", ("", b"", "application/octet-stream"))])
    assert locs(post(client, "/avatar", empty)) == [["body", "avatar"]]
    # Text where a file belongs is no file either.
    assert locs(post(client, "/avatar", encode([("avatar", "not a file")]))) == [["body", "avatar"]]
    assert locs(post(client, "/photos", encode([("title", "t")]))) == [["body", "image"]]
    r = post(client, "/photos", encode([("image", "text")]))
    assert locs(r) == [["body", "title"], ["body", "image"]]
    # JSON or urlencoded bodies cannot carry a file.
    assert locs(client.post("/avatar", body={"avatar": "x"})) == [["body", "avatar"]]
    assert locs(client.post("/photos", body={"title": "t"})) == [["body", "image"]]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert locs(client.post("/avatar", body="avatar=x", headers=form)) == [["body", "avatar"]]


def test_a_browser_gets_the_page_for_a_missing_file(sync: Sync) -> None:
    app, _ = gallery()
    r = post(sync(app), "/avatar", encode([("x", "1")]), Accept="text/html")
    assert r.status_code == 422
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<code>body.avatar</code>: a file is required" in r.text


def test_a_file_over_the_limit_is_413_and_nothing_is_kept(sync: Sync) -> None:
    app, seen = gallery()
    configure(app, max_file_size=1000)
    client = sync(app)
    big = encode([("avatar", ("big.bin", b"x" * 5000, None))])
    assert post(client, "/avatar", big).status_code == 413
    big_photo = encode([("title", "t"), ("image", ("b", b"x" * 5000, None))])
    assert post(client, "/photos", big_photo).status_code == 413
    assert not seen  # no handler ran
    small = encode([("avatar", ("ok.bin", b"x" * 1000, None))])
    assert post(client, "/avatar", small).status_code == 200
    # The body limit caps everything, files included.
    app.max_content_length = 2000
    assert post(client, "/avatar", big).status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"--" + b"x" * 10 + b"\r\n",  # no part of this boundary
        encode([("avatar", ("a", b"x", None))])[:-10],  # cut before the closing delimiter
        encode([("a", "1")] * 2000),  # more parts than allowed
    ],
)
def test_hostile_multipart_bodies_are_4xx(sync: Sync, body: bytes) -> None:
    app, seen = gallery()
    r = post(sync(app), "/avatar", body)
    assert r.status_code in (400, 413)
    assert not seen


def test_uploads_are_closed_when_the_handler_raises(sync: Sync) -> None:
    app = Junco()
    kept: list[FileUpload] = []

    @app.post("/fail")
    async def fail(request: Request, doc: FileUpload) -> str:
        kept.append(doc)
        raise RuntimeError("boom")

    r = post(sync(app), "/fail", encode([("doc", ("d", b"data", None))]))
    assert r.status_code == 500
    assert kept[0].closed


def test_a_streamed_response_keeps_the_file_open_until_sent(sync: Sync) -> None:
    app = Junco()
    kept: list[FileUpload] = []

    @app.post("/echo")
    async def echo(request: Request, doc: FileUpload) -> Any:
        kept.append(doc)

        async def body() -> Any:
            assert not doc.closed
            while chunk := await doc.read(3):
                yield chunk

        return body()

    r = post(sync(app), "/echo", encode([("doc", ("d", b"streamed back", None))]))
    assert r.body == b"streamed back"
    assert kept[0].closed


def test_file_parameters_are_recorded_on_the_binding() -> None:
    app, _ = gallery()
    route = next(r for r in app.router.routes if r.pattern.url_pattern == "/avatar")
    binding = binding_of(route.handler)
    assert binding is not None
    assert [(p.name, p.source, p.required) for p in binding.files] == [
        ("avatar", "file", True),
        ("note", "file", False),
    ]
    assert binding.body_type is None


def test_controller_methods_take_files_too(sync: Sync) -> None:
    from junco.controllers import Controller, methods

    class Docs(Controller):
        @methods("POST")
        async def upload(self, request: Request, doc: FileUpload) -> dict[str, Any]:
            return await describe(doc)

    client = sync(Docs())
    r = post(client, "/upload", encode([("doc", ("a.txt", b"hi", "text/plain"))]))
    assert r.json == {"filename": "a.txt", "type": "text/plain", "data": "hi"}
    assert locs(post(client, "/upload", encode([("x", "1")]))) == [["body", "doc"]]


class PPhoto(pydantic.BaseModel):
    title: str
    image: FileUpload


def test_pydantic_models_hold_uploads_and_describe_them(sync: Sync) -> None:
    from openapi_spec_validator import validate

    from junco.openapi import OpenAPI

    app = Junco()
    OpenAPI(app)

    @app.post("/p")
    async def add(request: Request, photo: PPhoto) -> dict[str, Any]:
        return {"title": photo.title, "image": await describe(photo.image)}

    client = sync(app)
    r = post(client, "/p", encode([("title", "t"), ("image", ("a.txt", b"x", "text/plain"))]))
    assert r.json == {
        "title": "t",
        "image": {"filename": "a.txt", "type": "text/plain", "data": "x"},
    }
    r = post(client, "/p", encode([("title", "t"), ("image", "text")]))
    assert locs(r) == [["body", "image"]]
    doc = client.get("/openapi.json").json
    validate(doc)
    schema = doc["components"]["schemas"]["PPhoto"]
    assert schema["properties"]["image"]["contentMediaType"] == "application/octet-stream"
    assert list(doc["paths"]["/p"]["post"]["requestBody"]["content"]) == ["multipart/form-data"]


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", 'multipart/form-data; boundary="a'],
)
def test_a_multipart_type_without_a_usable_boundary_is_400(sync: Sync, content_type: str) -> None:
    app, seen = gallery()
    body = encode([("avatar", ("a", b"x", None))])
    r = sync(app).post("/avatar", body=body, headers={"Content-Type": content_type})
    assert r.status_code == 400
    assert not seen


def test_form_fields_of_a_typed_body_share_the_form_memory_budget(sync: Sync) -> None:
    app, seen = gallery()
    configure(app, max_form_memory=1000, max_field_size=800)
    client = sync(app)
    fields: list[tuple[str, str | FileSpec]] = [
        ("title", "t" * 600),
        ("tags", "x" * 600),
        ("image", ("i", b"i", None)),
    ]
    assert post(client, "/photos", encode(fields)).status_code == 413
    assert post(client, "/photos", encode(fields[::2])).status_code == 200
    assert len(seen) == 1
