# docs/examples/mounting_3.py
from junco import Junco, Request
from junco.types import Receive, Scope, Send


async def legacy(scope: Scope, receive: Receive, send: Send) -> None:
    """Any ASGI application: another framework, or a hand-written one like this."""
    text = f"legacy: path={scope['path']} root_path={scope['root_path']}"
    headers = [(b"content-type", b"text/plain; charset=UTF-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


app = Junco()


@app.get("/")
async def index(request: Request) -> str:
    return "junco"


app.mount(legacy, url_prefix="/legacy")
