# docs/examples/responses_1.py
from junco import Junco, Request, Response

app = Junco()


@app.get("/text")
async def text(request: Request) -> str:
    return "plain text"


@app.post("/things")
async def create(request: Request) -> tuple[str, int]:
    return "made a thing", 201


@app.get("/page")
async def page(request: Request) -> tuple[str, dict[str, str]]:
    return "<h1>Hi</h1>", {"Content-Type": "text/html; charset=UTF-8"}


@app.get("/teapot")
async def teapot(request: Request) -> tuple[str, int, dict[str, str]]:
    return "short and stout", 418, {"X-Brew": "never"}


@app.get("/data")
async def data(request: Request) -> dict[str, object]:
    return {"hello": "world", "numbers": [1, 2, 3]}


@app.post("/jobs")
async def enqueue(request: Request) -> int:
    return 202  # a status alone: empty body


@app.delete("/things/<int:thing_id>")
async def delete(request: Request, thing_id: int) -> None:
    return None  # 204 No Content


@app.get("/custom")
async def custom(request: Request) -> Response:
    return Response("built by hand", status_code=200, headers={"X-Custom": "yes"})
