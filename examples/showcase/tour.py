"""A tour of junco's core, mounted at ``/tour``: typed routes, query arguments, hooks, errors.

It is a junco app of its own, mounted with ``local=True``: its hooks and
error handlers apply to its own routes only, and links are built from
``request.url_prefix``, so it works wherever it is mounted. It is read-only,
so every worker of a multi-process server answers the same.
"""

from __future__ import annotations

from html import escape
from typing import Any

from junco import Junco, Request, Response, abort

# A demo value: real apps read secrets from the environment.
ADMIN_TOKEN = "showcase"  # noqa: S105
MAX_LIMIT = 100
BOOKS: dict[int, dict[str, Any]] = {
    1: {"id": 1, "title": "Dune", "author": "Frank Herbert"},
    2: {"id": 2, "title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin"},
    3: {"id": 3, "title": "Kindred", "author": "Octavia E. Butler"},
}

# (method, path below the mount, what it shows, an example link or None)
ENDPOINTS: list[tuple[str, str, str, str | None]] = [
    ("GET", "/", "this page", None),
    ("GET", "/hello/<name>", "a string URL argument, plain text out", "/hello/world"),
    ("GET", "/books", "query arguments: ?q=word&limit=N (N from 1 to 100)", "/books?q=dune"),
    ("GET", "/books/<int:id>", "an int URL argument; JSON 404 when unknown", "/books/1"),
    (
        "GET",
        "/divide/<int:a>/<int:b>",
        "an error handler turns ZeroDivisionError into 400",
        "/divide/1/0",
    ),
    ("GET", "/admin", "a before_request hook that wants the header X-Token", "/admin"),
]


def create_tour() -> Junco:
    """Build the tour app (mount it with ``app.mount(tour, "/tour", local=True)``)."""
    tour = Junco()

    @tour.before_request
    def guard_admin(request: Request) -> Any:
        # Returning a value from a before_request hook answers in place of the handler.
        inner = request.path[len(request.url_prefix) :]
        if inner.startswith("/admin") and request.headers.get("X-Token") != ADMIN_TOKEN:
            return {"error": "send the header X-Token"}, 401
        return None

    @tour.after_request
    def tag(request: Request, response: Response) -> None:
        response.headers["X-Showcase"] = "after_request"

    @tour.errorhandler(404)
    def not_found(request: Request) -> Any:
        return {"error": "not found"}, 404

    @tour.errorhandler(ZeroDivisionError)
    def division_error(request: Request, exc: ZeroDivisionError) -> Any:
        return {"error": "division by zero"}, 400

    @tour.get("/", name="tour")  # url_for("tour") in the site's templates
    async def index(request: Request) -> Response:
        html = _index_html(request.url_prefix, request.root_path)
        return Response(html, headers={"Content-Type": "text/html; charset=UTF-8"})

    @tour.get("/hello/<name>")
    async def hello(request: Request, name: str) -> str:
        return f"Hello, {name}!"

    @tour.get("/books")
    async def list_books(request: Request) -> Any:
        q = (request.args.get("q") or "").lower()
        raw = request.args.get("limit", str(MAX_LIMIT))
        # The length check keeps int() away from huge digit strings.
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= MAX_LIMIT):
            abort(400, f"limit must be a number from 1 to {MAX_LIMIT}")
        found = [b for b in BOOKS.values() if q in b["title"].lower()]
        return {"books": found[: int(raw)], "total": len(found)}

    @tour.get("/books/<int:id>")
    async def get_book(request: Request, id: int) -> Any:
        if id not in BOOKS:
            abort(404)
        return BOOKS[id]

    @tour.get("/divide/<int:a>/<int:b>")
    def divide(request: Request, a: int, b: int) -> Any:
        # A sync handler: junco runs it in a thread.
        return {"result": a / b}

    @tour.get("/admin")
    async def admin(request: Request) -> Any:
        return {"books": len(BOOKS)}

    return tour


def _index_html(prefix: str, root: str = "") -> str:
    rows = []
    for method, path, what, link in ENDPOINTS:
        shown = escape(prefix + path)
        if link:
            shown = f'<a href="{escape(prefix + link)}">{shown}</a>'
        rows.append(
            f"<tr><td>{method}</td><td><code>{shown}</code></td><td>{escape(what)}</td></tr>"
        )
    # The showcase's stylesheet and header: the tour looks like the rest of the site.
    home = escape(root + "/")
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=UTF-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>junco tour · junco showcase</title>"
        f'<link rel="stylesheet" href="{home}static/app.css">'
        f'</head><body>\n<header><a class="brand" href="{home}">junco showcase</a>'
        f'<nav><a href="{home}">Start page</a></nav></header>\n'
        "<main>\n<h1>A tour of junco's core</h1>\n"
        "<table>\n<tr><th>method</th><th>path</th><th>shows</th></tr>\n"
        + "\n".join(rows)
        + "\n</table>\n</main>\n</body></html>\n"
    )
