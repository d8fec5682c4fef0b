"""Checked by mypy, never run: junco's decorators keep the handler's own type.

If a decorator returned ``Any`` or a looser callable, the ``assert_type`` lines
would fail and the ``type: ignore`` comments would become unused (an error
under ``--strict``).
"""

from __future__ import annotations

from typing import Any, assert_type

from junco import Junco, Request, Response

app = Junco()


@app.route("/users/<int:id>", methods=["GET", "POST"])
async def user(request: Request, id: int) -> dict[str, int]:
    return {"id": id}


@app.get("/sync")
def sync_view(request: Request) -> str:
    return "sync"


@app.post("/p")
async def post_view(request: Request) -> tuple[str, int]:
    return "made", 201


@app.put("/u")
@app.patch("/u")
@app.delete("/u")
async def stacked(request: Request) -> None:
    return None


@app.post("/typed", response_model=dict)
@app.get("/typed")
async def typed_view(request: Request, page: int = 1) -> dict[str, int]:
    return {"page": page}


@app.before_request
def before(request: Request) -> Response | None:
    return None


@app.after_request
async def after(request: Request, response: Response) -> Response:
    return response


@app.after_error_request
def after_error(request: Request, response: Response) -> None:
    return None


@app.errorhandler(404)
def not_found(request: Request) -> tuple[str, int]:
    return "missing", 404


@app.errorhandler(KeyError)
async def key_error(request: Request, exc: KeyError) -> tuple[str, int]:
    return str(exc), 400


@app.on_startup
async def startup() -> None:
    return None


@app.on_shutdown
def shutdown(scope: dict[str, Any]) -> None:
    return None


async def check(request: Request, response: Response) -> None:
    assert_type(await user(request, 1), dict[str, int])
    assert_type(await user(request, id=2), dict[str, int])
    assert_type(sync_view(request), str)
    assert_type(await post_view(request), tuple[str, int])
    assert_type(await stacked(request), None)
    assert_type(await typed_view(request, page=2), dict[str, int])
    assert_type(before(request), Response | None)
    assert_type(await after(request, response), Response)
    assert_type(after_error(request, response), None)
    assert_type(not_found(request), tuple[str, int])
    assert_type(await key_error(request, KeyError("k")), tuple[str, int])
    assert_type(await startup(), None)
    assert_type(shutdown({}), None)

    # Wrong calls must still be type errors after decoration.
    _ = user(request, "not an int")  # type: ignore[arg-type]
    _ = user(request)  # type: ignore[call-arg]
    _ = sync_view()  # type: ignore[call-arg]
    _ = not_found(request, KeyError())  # type: ignore[call-arg]
    _ = after(request)  # type: ignore[call-arg]
    _ = startup(1)  # type: ignore[call-arg]
