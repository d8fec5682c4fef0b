"""junco.openapi: the document validates as OpenAPI 3.1 and says what the routes do;
/docs is served from the installed Swagger UI with the request's CSP nonce."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
import pydantic
import pytest
from openapi_spec_validator import validate

from junco import Junco, Request
from junco.controllers import Controller, methods
from junco.multipart import FileUpload
from junco.openapi import OpenAPI, operation
from junco.security.auth import BasicAuth, TokenAuth
from junco.security.login import Login
from junco.security.stack import secure_stack
from junco.typed import Cookie, Header
from junco.websocket import WebSocket, with_websocket

if TYPE_CHECKING:
    from tests.conftest import Sync


class Item(msgspec.Struct):
    name: str
    price: float


class PUser(pydantic.BaseModel):
    name: str
    age: int = 0


class Shelf(Controller):
    @methods("POST")
    async def stock(self, request: Request, item: Item) -> Item:
        """Put an item on the shelf."""
        return item


def build() -> tuple[Junco, OpenAPI]:
    app = Junco()
    api = OpenAPI(app, title="Shop", version="2.0", description="The shop.", exclude=["/admin"])
    app.register_type("slug", "[a-z-]+", schema={"type": "string", "pattern": "^[a-z-]+$"})
    basic, token, login = BasicAuth(), TokenAuth(header="X-Key"), Login()

    @app.post("/items")
    @operation(status=201, responses={409: "exists"})
    async def create(request: Request, item: Item) -> Item:
        """Create an item.

        It goes on sale at once.
        """
        return item

    @app.get("/items/<int:id>/<slug:name>/<re:[0-9]{4}:year>/<path:rest>")
    @basic
    async def show(
        request: Request,
        id: int,
        name: str,
        year: str,
        rest: str,
        limit: int = 10,
        tags: list[str] | None = None,
        key: Annotated[str, Header("X-Key")] = "",
        theme: Annotated[str | None, Cookie()] = None,
    ) -> list[Item]:
        return []

    @app.put("/keyed")
    @token
    async def keyed(request: Request, user: PUser) -> PUser:
        return user

    @app.get("/mine")
    @login
    async def mine(request: Request) -> str:
        return ""

    @app.get("/plain")
    async def plain(request):  # type: ignore[no-untyped-def]
        return "x"

    @app.get("/hidden")
    @operation(exclude=True)
    async def hidden(request: Request) -> str:
        return ""

    @app.get("/admin/panel")
    async def panel(request: Request) -> str:
        return ""

    @app.route("/ws")
    @with_websocket
    async def ws(request: Request, ws: WebSocket) -> None:
        await ws.close()

    sub = Junco()

    @sub.get("/ping")
    async def ping(request: Request) -> str:
        return "pong"

    app.mount(sub, "/sub")
    app.mount(Shelf(), "/shelf")
    return app, api


def test_the_document_is_valid_openapi_3_1(sync: Sync) -> None:
    app, _ = build()
    doc = sync(app).get("/openapi.json").json
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"] == {"title": "Shop", "version": "2.0", "description": "The shop."}


def test_paths_parameters_and_types() -> None:
    _, api = build()
    doc = api.document()
    paths = doc["paths"]
    assert "/items/{id}/{name}/{year}/{rest}" in paths
    show = paths["/items/{id}/{name}/{year}/{rest}"]["get"]
    by_name = {p["name"]: p for p in show["parameters"]}
    assert by_name["id"]["schema"]["type"] == "integer"
    assert by_name["name"]["schema"] == {"type": "string", "pattern": "^[a-z-]+$"}
    assert by_name["year"]["schema"]["pattern"] == "^(?:[0-9]{4})$"
    assert by_name["limit"] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer"},
    }
    assert by_name["tags"]["style"] == "form"
    assert by_name["X-Key"]["in"] == "header"
    assert by_name["theme"]["in"] == "cookie"
    ok = show["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}


def test_bodies_statuses_and_docstrings() -> None:
    _, api = build()
    create = api.document()["paths"]["/items"]["post"]
    assert create["summary"] == "Create an item."
    assert create["description"] == "It goes on sale at once."
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"
    }
    assert {"201", "409", "422", "400"} <= set(create["responses"])
    error = create["responses"]["422"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}


def test_security_schemes_from_guards() -> None:
    _, api = build()
    doc = api.document()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["BasicAuth"] == {"type": "http", "scheme": "basic"}
    assert schemes["TokenAuth"] == {"type": "apiKey", "in": "header", "name": "X-Key"}
    assert schemes["Login"] == {"type": "apiKey", "in": "cookie", "name": "session"}
    paths = doc["paths"]
    show = paths["/items/{id}/{name}/{year}/{rest}"]["get"]
    assert show["security"] == [{"BasicAuth": []}]
    assert "401" in show["responses"]
    assert {"401", "403"} <= set(paths["/mine"]["get"]["responses"])
    assert "security" not in paths["/plain"]["get"]


def test_pydantic_models_mounts_and_exclusions() -> None:
    _, api = build()
    doc = api.document()
    assert doc["components"]["schemas"]["PUser"]["properties"]["name"] == {
        "title": "Name",
        "type": "string",
    }
    paths = doc["paths"]
    assert paths["/sub/ping"]["get"]["tags"] == ["sub"]
    assert paths["/shelf/stock"]["post"]["tags"] == ["Shelf"]
    assert paths["/shelf/stock"]["post"]["summary"] == "Put an item on the shelf."
    for gone in ("/ws", "/hidden", "/admin/panel", "/openapi.json", "/docs", "/docs/{asset}"):
        assert gone not in paths
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_document_follows_new_routes_and_root_path(sync: Sync) -> None:
    app, api = build()

    @app.get("/late")
    async def late(request: Request) -> str:
        return ""

    assert "/late" in api.document()["paths"]
    outer = Junco()
    outer.mount(app, "/v2")
    doc = sync(outer).get("/v2/openapi.json").json
    assert doc["servers"] == [{"url": "/v2"}]
    assert "servers" not in sync(app).get("/openapi.json").json


def test_servers_follow_the_root_path() -> None:
    app, _ = build()
    sent: list[MutableMapping[str, Any]] = []
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/shop/openapi.json",
        "raw_path": b"/shop/openapi.json",
        "root_path": "/shop",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"])["servers"] == [{"url": "/shop"}]


def test_docs_page_uses_the_installed_assets_and_the_nonce(sync: Sync) -> None:
    app, _ = build()
    secure_stack(app, secret_key="k" * 32, allowed_hosts=["localhost"], csrf_tokens=False)
    client = sync(app)
    r = client.get("/docs", headers={"Host": "localhost"})
    assert r.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", r.headers["Content-Security-Policy"])
    assert nonce is not None
    scripts = re.findall(r'<script nonce="([^"]+)" src="([^"]+)"></script>', r.text)
    assert [src for _, src in scripts] == ["/docs/swagger-ui-bundle.js", "/docs/init.js"]
    assert {n for n, _ in scripts} == {nonce.group(1)}
    assert "http" not in r.text  # nothing from another origin
    bundle = client.get("/docs/swagger-ui-bundle.js", headers={"Host": "localhost"})
    assert bundle.headers["Content-Type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.body
    assert client.get("/docs/init.js", headers={"Host": "localhost"}).status_code == 200
    for bad in ("swagger-editor.js", "..%2f..%2fetc", "LICENSE"):
        assert client.get(f"/docs/{bad}", headers={"Host": "localhost"}).status_code in (400, 404)


@pytest.mark.parametrize("value", ["<script>", '"quoted"'])
def test_the_title_is_escaped_on_the_page(sync: Sync, value: str) -> None:
    app = Junco()
    OpenAPI(app, title=value)
    text = sync(app).get("/docs").text
    assert value not in text


class Opaque:
    """A type msgspec cannot describe."""


def test_types_without_a_msgspec_schema_still_make_a_valid_document(sync: Sync) -> None:
    app = Junco()
    OpenAPI(app)

    @app.get("/people")
    async def people(request: Request) -> list[PUser]:
        return [PUser(name="a")]

    @app.get("/maybe", response_model=PUser | None)
    async def maybe(request: Request) -> Any:
        return None

    @app.get("/odd", response_model=list[Opaque])
    async def odd(request: Request) -> Any:
        return []

    client = sync(app)
    doc = client.get("/openapi.json").json
    validate(doc)
    paths = doc["paths"]
    ok = paths["/people"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"type": "array", "items": {"$ref": "#/components/schemas/PUser"}}
    assert client.get("/people").json == [{"name": "a", "age": 0}]
    assert client.get("/maybe").status_code == 204


def test_without_docs_or_document() -> None:
    app = Junco()
    OpenAPI(app, path=None, docs_path=None)
    assert app.router.routes == []
    doc: dict[str, Any] = OpenAPI(Junco()).document()
    assert doc["paths"] == {}


FILE = {"type": "string", "format": "binary", "contentMediaType": "application/octet-stream"}
FORMS = ["application/x-www-form-urlencoded", "multipart/form-data"]


class Upload(msgspec.Struct):
    title: str
    image: FileUpload
    extra: list[FileUpload] = []


class Nested(msgspec.Struct):
    item: Item
    count: int = 1


def form_app() -> tuple[Junco, OpenAPI]:
    app = Junco()
    api = OpenAPI(app)

    @app.post("/flat")
    async def flat(request: Request, item: Item) -> Item:
        return item

    @app.post("/pflat")
    async def pflat(request: Request, user: PUser) -> PUser:
        return user

    @app.post("/nested")
    async def nested(request: Request, n: Nested) -> Nested:
        return n

    @app.post("/upload")
    async def upload(request: Request, u: Upload) -> str:
        return u.title

    @app.post("/avatar")
    async def avatar(
        request: Request, avatar: FileUpload, more: list[FileUpload] | None = None
    ) -> str:
        return avatar.filename or ""

    @app.post("/both")
    async def both(request: Request, item: Item, doc: FileUpload | None = None) -> str:
        return item.name

    return app, api


def test_form_media_types_for_flat_models(sync: Sync) -> None:
    app, _ = form_app()
    doc = sync(app).get("/openapi.json").json
    validate(doc)
    body = {p: op["post"]["requestBody"] for p, op in doc["paths"].items()}
    ref = {"$ref": "#/components/schemas/Item"}
    assert body["/flat"] == {
        "required": True,
        "content": {"application/json": {"schema": ref}} | {f: {"schema": ref} for f in FORMS},
    }
    assert list(body["/pflat"]["content"]) == ["application/json", *FORMS]
    # A nested model cannot come from a form (the binder answers 415): JSON only.
    assert list(body["/nested"]["content"]) == ["application/json"]
    assert (
        sync(app).post("/nested", body="count=2", headers={"Content-Type": FORMS[0]}).status_code
        == 415
    )


def test_files_are_binary_strings_in_multipart_bodies(sync: Sync) -> None:
    app, _ = form_app()
    doc = sync(app).get("/openapi.json").json
    validate(doc)
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    upload = paths["/upload"]["post"]["requestBody"]
    assert upload == {
        "required": True,
        "content": {"multipart/form-data": {"schema": {"$ref": "#/components/schemas/Upload"}}},
    }
    assert schemas["Upload"]["properties"]["image"] == FILE
    assert schemas["Upload"]["properties"]["extra"]["items"] == FILE
    assert schemas["Upload"]["required"] == ["title", "image"]
    avatar = paths["/avatar"]["post"]
    assert avatar["requestBody"] == {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"avatar": FILE, "more": {"type": "array", "items": FILE}},
                    "required": ["avatar"],
                }
            }
        },
    }
    assert {"413", "415", "422"} <= set(avatar["responses"])
    both = paths["/both"]["post"]["requestBody"]
    assert both["required"] is True
    assert both["content"]["multipart/form-data"]["schema"] == {
        "allOf": [
            {"$ref": "#/components/schemas/Item"},
            {"type": "object", "properties": {"doc": FILE}},
        ]
    }
