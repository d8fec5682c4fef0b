# docs/examples/openapi_1.py
import msgspec

from junco import Junco, Request, abort
from junco.openapi import OpenAPI, operation
from junco.security.auth import TokenAuth

app = Junco()
OpenAPI(app, title="Shop", version="1.0")  # GET /openapi.json and GET /docs
auth = TokenAuth()
USERS_BY_TOKEN = {"let-me-in": "admin"}  # a real app looks tokens up in its store


@auth.authenticate
async def verify(request: Request, token: str) -> str | None:
    return USERS_BY_TOKEN.get(token)


class Item(msgspec.Struct):
    name: str
    price: float


STOCK = {1: Item("pen", 1.5)}


@app.get("/items/<int:id>")
@operation(responses={404: "no such item"})
async def show(request: Request, id: int) -> Item:
    """Show one item.

    The docstring's first line is the summary; the rest is the description.
    """
    if id not in STOCK:
        abort(404)
    return STOCK[id]


@app.post("/items")
@auth
@operation(status=201)
async def create(request: Request, item: Item) -> Item:
    """Add an item (needs a bearer token)."""
    STOCK[len(STOCK) + 1] = item
    return item, 201


@app.get("/internal/stats")
@operation(exclude=True)
async def stats(request: Request) -> dict[str, int]:
    return {"items": len(STOCK)}
