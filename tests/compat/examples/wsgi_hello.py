"""A WSGI app, as Microdot's hello_wsgi example is written."""

# Microdot: from microdot.wsgi import Microdot
from junco.compat.microdot.wsgi import Microdot, Request

app = Microdot()


@app.route("/")
def index(request: Request) -> tuple[str, int, dict[str, str]]:
    return "<h1>Hello from WSGI</h1>", 200, {"Content-Type": "text/html"}


@app.route("/numbers/<int:n>")
def numbers(request: Request, n: int) -> dict[str, int]:
    return {"n": n, "square": n * n}
