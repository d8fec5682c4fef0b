# docs/examples/testing_1.py
from typing import Any

from junco import Junco, Request
from junco.testing import TestClient

app = Junco()


@app.get("/")
async def index(request: Request) -> str:
    return "Hello, world!"


@app.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    return {"you sent": request.json}


def test_index() -> None:
    with TestClient(app).sync as client:
        response = client.get("/")
        assert response.status_code == 200
        assert response.text == "Hello, world!"
        assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"


def test_echo() -> None:
    with TestClient(app).sync as client:
        response = client.post("/echo", json={"a": 1})
        assert response.json == {"you sent": {"a": 1}}
