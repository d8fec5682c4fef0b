# docs/examples/typed_handlers_1.py
import msgspec

from junco import Junco, Request


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


app = Junco()
ITEMS: dict[int, Item] = {}


@app.post("/items")
async def create(request: Request, item: Item) -> Item:
    """The JSON body (or a form) becomes an ``Item``; the ``Item`` goes back as JSON."""
    ITEMS[len(ITEMS) + 1] = item
    return item, 201


@app.get("/items/<int:id>")
async def show(request: Request, id: int, verbose: bool = False) -> dict[str, object]:
    """``id`` comes from the URL, ``verbose`` from the query string (?verbose=true)."""
    item = ITEMS.get(id)
    if item is None:
        return {"error": "no such item"}, 404
    return {"name": item.name, "tags": item.tags} if verbose else {"name": item.name}
