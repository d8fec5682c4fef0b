"""junco.typed: parameters bound by annotation, 422s that list every error, plain
handlers untouched."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

import msgspec
import pydantic
import pytest

from junco import Junco, Request, Response
from junco.controllers import Controller, methods
from junco.security.auth import TokenAuth
from junco.typed import Cookie, Header, Query, ValidationError, binding_of

if TYPE_CHECKING:
    from tests.conftest import Sync


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Pair(TypedDict):
    a: int
    b: str


class PItem(pydantic.BaseModel):
    name: str
    price: float


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def shop() -> Junco:
    app = Junco()

    @app.post("/items")
    async def create(request: Request, item: Item) -> Item:
        return item, 201  # type: ignore[return-value]

    @app.get("/items/<int:id>")
    async def show(
        request: Request,
        id: int,
        verbose: bool = False,
        tag: list[str] = [],  # noqa: B006 - never mutated
        token: Annotated[str | None, Header("X-Token")] = None,
        theme: Annotated[str, Cookie()] = "light",
        q: Annotated[int | None, Query("page")] = None,
    ) -> dict[str, Any]:
        return {"id": id, "verbose": verbose, "tag": tag, "token": token, "theme": theme, "q": q}

    return app


def errors_of(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    error = r.json["error"]
    assert error["code"] == "validation_failed"
    assert error["status"] == 422
    return error["errors"]  # type: ignore[no-any-return]


def test_json_body_is_decoded_and_the_return_type_serialised(sync: Sync) -> None:
    r = sync(shop()).post("/items", body={"name": "pen", "price": 1.5})
    assert r.status_code == 201
    assert r.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert r.json == {"name": "pen", "price": 1.5, "tags": []}


def test_every_body_error_is_listed_with_its_location(sync: Sync) -> None:
    r = sync(shop()).post("/items", body={"name": 3, "tags": ["a", 2]})
    errors = errors_of(r)
    assert [e["loc"] for e in errors] == [["body", "name"], ["body", "price"], ["body", "tags", 1]]
    assert all(e["msg"] for e in errors)


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{bad", 400), (b"[" * 100 + b"]" * 100, 400), (b'{"name": "a"', 400), (b"[1, 2]", 422)],
)
def test_malformed_and_deep_json_is_400_before_validation(
    sync: Sync, body: bytes, status: int
) -> None:
    r = sync(shop()).post("/items", body=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status


def test_body_limit_applies_first(sync: Sync) -> None:
    app = shop()
    app.max_content_length = 10
    r = sync(app).post("/items", body={"name": "long enough", "price": 1})
    assert r.status_code == 413


def test_missing_body_and_wrong_content_type(sync: Sync) -> None:
    client = sync(shop())
    assert errors_of(client.post("/items"))[0]["loc"] == ["body"]
    r = client.post("/items", body=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415


def test_urlencoded_and_multipart_forms_fill_flat_models(sync: Sync) -> None:
    client = sync(shop())
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/items", body="name=a&price=2&tags=x&tags=y", headers=form)
    assert r.json == {"name": "a", "price": 2.0, "tags": ["x", "y"]}
    r = client.post("/items", body="name=a&price=cheap", headers=form)
    assert [e["loc"] for e in errors_of(r)] == [["body", "price"]]
    boundary = "XyZ"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in [("name", "b"), ("price", "3.5")]
    )
    r = client.post(
        "/items",
        body=parts + f"--{boundary}--\r\n",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 201
    assert r.json["price"] == 3.5


def test_query_header_cookie_parameters(sync: Sync) -> None:
    client = sync(shop())
    r = client.get(
        "/items/7?verbose=true&tag=a&tag=b&page=2",
        headers={"X-Token": "t", "Cookie": "theme=dark"},
    )
    assert r.json == {
        "id": 7,
        "verbose": True,
        "tag": ["a", "b"],
        "token": "t",
        "theme": "dark",
        "q": 2,
    }
    r = client.get("/items/7")
    assert r.json["verbose"] is False
    assert r.json["token"] is None
    assert r.json["theme"] == "light"
    r = client.get("/items/7?verbose=maybe&page=x")
    assert [e["loc"] for e in errors_of(r)] == [["query", "verbose"], ["query", "page"]]


def test_rich_scalars_and_required_parameters(sync: Sync) -> None:
    app = Junco()

    @app.get("/r")
    async def rich(
        request: Request,
        id: uuid.UUID,
        when: datetime.date,
        color: Color,
        mode: Literal["a", "b"] = "a",
        api_key: Annotated[str, Header()] = "",
    ) -> dict[str, Any]:
        return {"id": str(id), "when": when.isoformat(), "color": color.value, "mode": mode}

    client = sync(app)
    u = uuid.uuid4()
    r = client.get(f"/r?id={u}&when=2024-02-29&color=red&mode=b", headers={"Api-Key": "k"})
    assert r.json == {"id": str(u), "when": "2024-02-29", "color": "red", "mode": "b"}
    r = client.get("/r?id=nope&color=green&mode=c")
    assert [e["loc"] for e in errors_of(r)] == [
        ["query", "id"],
        ["query", "when"],
        ["query", "color"],
        ["query", "mode"],
    ]
    assert errors_of(r)[1]["msg"] == "field required"


def test_dataclass_typeddict_and_pydantic_bodies(sync: Sync) -> None:
    app = Junco()

    @app.post("/point")
    async def point(request: Request, p: Point) -> Point:
        return Point(p.x * 2, p.y)

    @app.post("/same-point")
    async def same_point(request: Request, p: Point) -> Point:
        return p

    @app.post("/maybe")
    async def maybe(request: Request, p: Point | None = None) -> dict[str, Any]:
        return {"got": None if p is None else p.x}

    @app.post("/pair")
    def pair(request: Request, p: Pair) -> dict[str, Any]:  # sync: runs in a thread
        return {"got": p}

    @app.post("/p")
    async def pyd(request: Request, item: PItem) -> PItem:
        return item

    client = sync(app)
    assert client.post("/point", body={"x": 2}).json == {"x": 4, "y": 0}
    assert client.post("/same-point", body={"x": 2}).json == {"x": 2, "y": 0}
    assert client.post("/maybe").json == {"got": None}
    assert client.post("/maybe", body={"x": 5}).json == {"got": 5}
    assert errors_of(client.post("/maybe", body={"x": "five"}))[0]["loc"] == ["body", "x"]
    assert client.post("/pair", body={"a": 1, "b": "x"}).json == {"got": {"a": 1, "b": "x"}}
    assert errors_of(client.post("/pair", body={"a": "x"}))[0]["loc"] == ["body", "a"]
    assert client.post("/p", body={"name": "n", "price": 2}).json == {"name": "n", "price": 2.0}
    errors = errors_of(client.post("/p", body={"price": "x"}))
    assert [e["loc"] for e in errors] == [["body", "name"], ["body", "price"]]
    r = client.post("/p", body=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


def test_response_model_validates_and_converts(sync: Sync) -> None:
    app = Junco()

    @app.get("/one", response_model=Item)
    async def one(request: Request) -> Any:
        return {"name": "n", "price": 1, "secret": "dropped"}

    @app.get("/many")
    async def many(request: Request) -> list[Item]:
        return [Item("a", 1.0), Item("b", 2.0)]

    @app.get("/bad", response_model=Item)
    async def bad(request: Request) -> Any:
        return {"name": 1}

    @app.get("/raw")
    async def raw(request: Request) -> Item:
        return Response("kept", 202)  # type: ignore[return-value]

    client = sync(app)
    assert client.get("/one").json == {"name": "n", "price": 1.0, "tags": []}
    assert [i["name"] for i in client.get("/many").json] == ["a", "b"]
    assert client.get("/bad").status_code == 500  # the handler's bug, not the client's
    r = client.get("/raw")
    assert (r.status_code, r.text) == (202, "kept")


def test_plain_handlers_are_not_wrapped() -> None:
    app = Junco()

    async def plain(request: Request, id: int) -> str:
        return "x"

    def untyped(request, name="x"):  # type: ignore[no-untyped-def]
        return name

    for pattern, handler in [("/u/<int:id>", plain), ("/v", untyped)]:
        route = app.add_route(pattern, handler)
        assert route.handler is handler
        assert binding_of(route.handler) is None


def test_registration_errors() -> None:
    app = Junco()

    async def unfillable(request: Request, thing, n: int = 1):  # type: ignore[no-untyped-def]
        return ""

    with pytest.raises(TypeError, match="'thing' is not a URL argument"):
        app.add_route("/a", unfillable)

    def microdot_style(request, id, extra):  # type: ignore[no-untyped-def]
        return ""

    with pytest.raises(TypeError, match="'extra' is not a URL argument"):
        app.add_route("/a/<id>", microdot_style)  # no annotations at all: still caught

    async def two_bodies(request: Request, a: Item, b: Point) -> str:
        return ""

    with pytest.raises(TypeError, match="one body"):
        app.add_route("/b", two_bodies)

    async def dict_query(request: Request, a: dict[str, int]) -> str:
        return ""

    with pytest.raises(TypeError, match="cannot be read"):
        app.add_route("/c", dict_query)

    async def bad_header(request: Request, a: Annotated[list[int], Header()]) -> str:
        return ""

    with pytest.raises(TypeError, match="header value"):
        app.add_route("/d", bad_header)


def test_guards_pass_bound_parameters_through(sync: Sync) -> None:
    app = Junco()
    auth = TokenAuth()

    @auth.authenticate
    async def verify(request: Request, token: str) -> Any:
        return "user" if token == "good" else None

    @app.post("/secret")
    @auth
    async def secret(request: Request, item: Item) -> Item:
        return item

    client = sync(app)
    assert client.post("/secret", body={"name": "a", "price": 1}).status_code == 401
    good = {"Authorization": "Bearer good"}
    assert client.post("/secret", body={"name": "a", "price": 1}, headers=good).status_code == 200
    assert client.post("/secret", body={"name": "a"}, headers=good).status_code == 422


class Notes(Controller):
    @methods("POST")
    async def add(self, request: Request, note: Item, dry: bool = False) -> Item:
        return note

    async def page(self, request: Request, n: int = 1) -> str:
        return f"page {n}"


def test_controllers_get_the_same_binding(sync: Sync) -> None:
    client = sync(Notes())
    assert client.post("/add", body={"name": "a", "price": 1}).json["name"] == "a"
    assert [e["loc"] for e in errors_of(client.post("/add?dry=x", body={}))] == [
        ["query", "dry"],
        ["body", "name"],
        ["body", "price"],
    ]
    # A method with plain scalars keeps the controller's own binding (400s).
    assert client.get("/page?n=x").status_code == 400


def test_validation_error_is_an_http_exception() -> None:
    exc = ValidationError([{"loc": ["query", "a"], "msg": "bad"}])
    assert exc.status_code == 422
    assert exc.code == "validation_failed"
    assert exc.extra == {"errors": [{"loc": ["query", "a"], "msg": "bad"}]}
    assert "query.a: bad" in exc.reason


def test_controller_annotations_under_type_checking(sync: Sync) -> None:
    """``request: Request`` may name a type imported only for type checkers."""
    namespace: dict[str, Any] = {"Controller": Controller, "methods": methods, "Item": Item}
    source = (
        "from __future__ import annotations\n"
        "class Shop(Controller):\n"
        "    @methods('POST')\n"
        "    async def buy(self, request: NotImportedHere, item: Item) -> Item:\n"
        "        return item\n"
    )
    exec(compile(source, "<shop>", "exec"), namespace)
    client = sync(namespace["Shop"]())
    assert client.post("/buy", body={"name": "a", "price": 1}).json["name"] == "a"
    assert client.post("/buy", body={"name": "a"}).status_code == 422


BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_a_browser_gets_the_error_page_listing_every_field(sync: Sync) -> None:
    """A form posted from a browser: the 422 is the HTML page, input escaped."""
    app = Junco()

    @app.post("/pick")
    async def pick(request: Request, item: Item, sort: Literal["new", "old"] = "new") -> Item:
        return item

    r = sync(app).post(
        "/pick?sort=<script>x</script>",
        body="name=a&price=cheap",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": BROWSER},
    )
    assert r.status_code == 422
    assert r.headers["Content-Type"].lower() == "text/html; charset=utf-8"
    assert "Accept" in r.headers["Vary"]
    page = r.text
    assert "<code>query.sort</code>: " in page
    assert "<code>body.price</code>: Expected `float`, got `str`" in page
    assert "<script>" not in page
    assert "&lt;script&gt;" in page  # msgspec quotes the bad value; the page escapes it
    assert "Traceback" not in page


def test_an_api_client_gets_json_for_the_same_request(sync: Sync) -> None:
    app = shop()
    client = sync(app)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for accept in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        r = client.post("/items", body="name=a&price=cheap", headers={**form, **accept})
        assert [e["loc"] for e in errors_of(r)] == [["body", "price"]]
    # A JSON request asking for anything is answered in JSON too.
    r = client.post("/items", body={"name": "a"}, headers={"Accept": "text/plain"})
    assert [e["loc"] for e in errors_of(r)] == [["body", "price"]]


class Order(msgspec.Struct):
    item: Item
    quantity: int = 1


def test_a_nested_model_takes_json_only(sync: Sync) -> None:
    """A form is flat text: a model with a nested model cannot come from one (415)."""
    app = Junco()

    @app.post("/orders")
    async def order(request: Request, order: Order) -> Order:
        return order

    client = sync(app)
    r = client.post("/orders", body={"item": {"name": "a", "price": 1}})
    assert r.json == {"item": {"name": "a", "price": 1.0, "tags": []}, "quantity": 1}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/orders", body="item=a&quantity=2", headers=form)
    assert r.status_code == 415
    assert "expected a JSON body (application/json)" in r.text
