# docs/examples/typed_handlers_2.py
import dataclasses
import uuid
from typing import Annotated, Literal

from junco import Junco, Request
from junco.controllers import Controller, methods
from junco.typed import Cookie, Header

app = Junco()


@dataclasses.dataclass
class Order:
    item: uuid.UUID
    quantity: int = 1


@app.get("/search")
async def search(
    request: Request,
    q: str,  # required: missing is a 422
    page: int = 1,
    sort: Literal["new", "old"] = "new",
    tag: list[str] | None = None,  # ?tag=a&tag=b
    api_key: Annotated[str | None, Header("X-Api-Key")] = None,
    theme: Annotated[str, Cookie()] = "light",
) -> dict[str, object]:
    return {"q": q, "page": page, "sort": sort, "tags": tag or [], "theme": theme}


class Orders(Controller):
    @methods("POST")
    async def place(self, request: Request, order: Order) -> Order:
        """Controllers bind the same way: ``POST /orders/place`` takes an ``Order``."""
        return order


app.mount(Orders(), url_prefix="/orders")
