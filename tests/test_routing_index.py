"""The prefix index over dynamic routes finds exactly what a linear scan finds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from junco import Junco, URLPattern
from junco.routing import Route, Router
from junco.testing import TestClient

LITERALS = ["a", "b", "items", "r1", "r2", ""]
ARGS = ["<x>", "<int:n>", "<path:rest>", "<re:[ab]+:w>", "pre-<int:k>.txt"]


def linear(router: Router, method: str, path: str) -> tuple[Route | None, dict[str, Any] | None]:
    """The reference: every dynamic pattern in registration order."""
    for _, pattern, table, _protocols in router.dynamic:
        args = pattern.match(path)
        if args is None:
            continue
        route = table.get(method) or (table.get("GET") if method == "HEAD" else None)
        if route is not None:
            return route, args
    return None, None


def accepted(pattern: str) -> bool:
    """Whether junco registers ``pattern`` (no '//', no argument name twice)."""
    try:
        URLPattern(pattern)
    except ValueError:
        return False
    return True


segment = st.sampled_from(LITERALS + ARGS)
pattern_st = (
    st.lists(segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)).filter(accepted)
)
path_segment = st.sampled_from(["a", "b", "ab", "items", "r1", "r2", "42", "-7", "pre-3.txt", ""])
path_st = st.lists(path_segment, min_size=1, max_size=5).map(lambda s: "/" + "/".join(s))


@settings(max_examples=300, deadline=None)
@given(st.lists(pattern_st, min_size=1, max_size=12, unique=True), st.lists(path_st, max_size=20))
def test_index_agrees_with_a_linear_scan(patterns: list[str], paths: list[str]) -> None:
    app = Junco()
    for i, url in enumerate(patterns):
        if "<" not in url:
            continue  # static routes never reach the index

        def handler(request: Any, **kwargs: Any) -> str:
            return "ok"

        handler.__name__ = f"h{i}"
        app.route(url, methods=["GET"] if i % 3 else ["POST"])(handler)
    router = app.router
    for path in paths:
        for method in ("GET", "POST", "HEAD"):
            found = router._find(method, None, path, (), {})
            expected_route, expected_args = linear(router, method, path)
            if expected_route is None:
                assert found is None or found.route is None
            else:
                assert found is not None
                assert found.route is expected_route
                assert found.args == expected_args


def test_registration_order_wins_across_depths() -> None:
    app = Junco()

    @app.get("/<first>/<int:id>")
    async def generic(request: Any, first: str, id: int) -> str:
        return f"generic {first}"

    @app.get("/users/<int:id>")
    async def users(request: Any, id: int) -> str:
        return "users"

    @app.get("/things/<int:id>")
    async def things(request: Any, id: int) -> str:
        return "things"

    client = TestClient(app)
    # The generic route was registered first: it wins, as it did with a linear scan.
    assert client.sync.get("/users/1").text == "generic users"
    assert client.sync.get("/other/1").text == "generic other"


def test_a_deeper_route_registered_first_wins() -> None:
    app = Junco()

    @app.get("/users/<int:id>")
    async def users(request: Any, id: int) -> str:
        return "users"

    @app.get("/<first>/<int:id>")
    async def generic(request: Any, first: str, id: int) -> str:
        return f"generic {first}"

    client = TestClient(app)
    assert client.sync.get("/users/1").text == "users"
    assert client.sync.get("/other/1").text == "generic other"


def test_many_routes_still_match_405_and_redirect() -> None:
    app = Junco()
    for i in range(2000):

        async def handler(request: Any, id: int, i: int = i) -> str:
            return f"r{i} {id}"

        handler.__name__ = f"r{i}"
        app.route(f"/r{i}/items/<int:id>", methods=["GET"])(handler)

    @app.post("/r5/items/<int:id>/edit/")
    async def edit(request: Any, id: int) -> str:
        return "edited"

    client = TestClient(app)
    assert client.sync.get("/r1999/items/7").text == "r1999 7"
    assert client.sync.get("/r0/items/0").text == "r0 0"
    assert client.sync.get("/r2000/items/7").status_code == 404
    assert client.sync.get("/r7/items/x").status_code == 404
    response = client.sync.get("/r5/items/3/edit/")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert client.sync.post("/r5/items/3/edit").status_code == 308


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(pattern_st, pattern_st.map(lambda p: p + "/")), min_size=1, max_size=8),
    st.lists(path_st, max_size=20),
)
def test_the_slash_probe_is_skipped_only_when_it_cannot_succeed(
    patterns: list[str], paths: list[str]
) -> None:
    app = Junco()
    for i, url in enumerate(patterns):
        if not accepted(url):
            continue

        def handler(request: Any, **kwargs: Any) -> str:
            return "ok"

        handler.__name__ = f"h{i}"
        app.route(url, methods=["GET"])(handler)
    router = app.router
    for path in paths:
        path = path.rstrip("/") or "/"
        allow: dict[str, None] = {}
        if router._find("GET", None, path + "/", (), allow) is not None or allow:
            # Adding a slash finds something: the router must not skip that probe.
            assert router.may_end_with_slash()


def test_a_slash_only_a_mounted_app_can_take_still_redirects() -> None:
    app = Junco()

    @app.get("/n/<int:n>")
    async def number(request: Any, n: int) -> str:
        return "n"

    assert not app.router.may_end_with_slash()
    sub = Junco()
    app.mount(sub, "/api")
    assert not app.router.may_end_with_slash()
    client = TestClient(app)
    assert client.sync.get("/api").status_code == 404

    @sub.get("/")
    async def index(request: Any) -> str:  # added after mounting: seen live
        return "index"

    assert app.router.may_end_with_slash()
    response = client.sync.get("/api")
    assert response.status_code == 308
    assert response.headers["Location"] == "/api/"


def test_an_argument_that_takes_slashes_keeps_its_redirect() -> None:
    app = Junco()

    @app.get("/x/<re:.*:rest>")
    async def anything(request: Any, rest: str) -> str:
        return rest

    @app.get("/n/<int:n>")
    async def number(request: Any, n: int) -> str:
        return "n"

    client = TestClient(app)
    response = client.sync.get("/x")
    assert response.status_code == 308
    assert response.headers["Location"] == "/x/"
    assert client.sync.get("/n/5/").status_code == 308  # a slash to drop: always probed
