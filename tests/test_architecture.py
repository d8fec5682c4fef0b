"""The layering the architecture promises (docs/architecture.md), checked in a fresh process.

``import junco`` loads every extension, so each probe installs a bare
``junco`` package first: what a module pulls in is then exactly what it
imports itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from junco import Junco
from junco import app as app_module
from junco.app import register_scope
from tests.asyncrun import run
from tests.conftest import Sync

SRC = Path(__file__).resolve().parents[1] / "src" / "junco"

#: The core: what serves an HTTP request, with no extension imported.
CORE = (
    "junco.app",
    "junco._dispatch",
    "junco._hooks",
    "junco.phases",
    "junco.routing",
    "junco.request",
    "junco.response",
    "junco.datastructures",
    "junco.exceptions",
    "junco.coerce",
    "junco.lifespan",
    "junco.calling",
    "junco._foreign",
    "junco.errors",
)
#: What the core may load besides itself (neutral helpers, no extension).
CORE_HELPERS = {"junco._parsing", "junco._draining", "junco.types", "junco.paths", "junco.origins"}
#: Third-party packages the core may load: optional accelerators only.
THIRD_PARTY_OK = {"orjson"}

PROBE = """
import importlib, json, sys, types
pkg = types.ModuleType("junco")
pkg.__path__ = [sys.argv[1]]
sys.modules["junco"] = pkg
before = set(sys.modules)
for name in sys.argv[2:]:
    importlib.import_module(name)
if "junco.app" in sys.argv[2:]:
    # Serve a request too: registration and dispatch must not load extensions lazily.
    import asyncio
    from junco.app import Junco
    app = Junco()
    app.route("/")(lambda request: "ok")
    sent = []
    async def receive():
        return {"type": "http.request", "body": b""}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"host", b"x")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200, sent
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(*modules: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(SRC), *modules],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout))


def test_the_core_loads_no_extension() -> None:
    loaded = loaded_by(*CORE)
    ours = {m for m in loaded if m == "junco" or m.startswith("junco.")}
    assert ours - set(CORE) - CORE_HELPERS == set()
    stdlib = set(sys.stdlib_module_names)
    third = {m.split(".")[0] for m in loaded if not m.startswith("junco")}
    third = {m for m in third if m not in stdlib and not m.startswith("_")}
    assert third <= THIRD_PARTY_OK


@pytest.mark.parametrize("store", ["junco.stores.redis", "junco.stores.memory"])
def test_a_store_knows_nothing_of_its_users(store: str) -> None:
    loaded = loaded_by(store)
    users = {"junco.pubsub", "junco.app"}
    users |= {f"junco.security.{m}" for m in ("sessions", "login", "csrf")}
    assert loaded & users == set()


def test_an_unregistered_scope_type_is_ignored_and_a_registered_one_served() -> None:
    seen: list[str] = []

    async def serve(app: Junco, scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def nothing(*args: Any) -> Any:
        raise AssertionError("not called")

    app = Junco()
    scope = {"type": "junco.test.other"}
    run(app(scope, nothing, nothing))
    register_scope("junco.test.other", serve)
    try:
        run(app(scope, nothing, nothing))
    finally:
        del app_module._scope_handlers["junco.test.other"]
    assert seen == ["junco.test.other"]


def test_websocket_routes_are_declared_by_a_route_options_record() -> None:
    from junco import with_websocket
    from junco.routing import RouteOptions

    @with_websocket
    async def echo(request: Any, ws: Any) -> None:
        pass

    async def plain(request: Any) -> str:
        return ""

    assert RouteOptions.of(echo).protocol == "websocket"
    assert RouteOptions.of(plain).protocol == "http"
    assert not hasattr(echo, "_junco_websocket")


def test_per_request_data_of_extensions_goes_through_slots() -> None:
    # One key object per datum (junco.request.Slot): no module reaches into
    # another's request attributes by a string key.
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "request.py" and "request.__dict__" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_a_slot_is_typed_storage_on_the_request(sync: Sync) -> None:
    from junco.request import REQUEST_ID, Slot
    from junco.security.sessions import SESSION

    seen: dict[str, Any] = {}
    mine: Slot[int] = Slot("_junco_test_slot")
    app = Junco()

    @app.before_request
    def before(request: Any) -> None:
        seen["unset"] = (mine.get(request), mine.is_set(request), mine.get(request, 7))
        mine.set(request, 42)
        REQUEST_ID.set(request, "abc")

    @app.get("/")
    async def index(request: Any) -> str:
        seen["set"] = (mine.get(request), request.request_id, SESSION.get(request))
        return "ok"

    assert sync(app).get("/").status_code == 200
    assert seen == {"unset": (None, False, 7), "set": (42, "abc", None)}


OLD_PATHS = {
    "junco.sessions": "junco.security.sessions",
    "junco.csrf": "junco.security.csrf",
    "junco.cors": "junco.security.cors",
    "junco.auth": "junco.security.auth",
    "junco.login": "junco.security.login",
    "junco.passwords": "junco.security.passwords",
    "junco.redirects": "junco.security.redirects",
    "junco.middleware.csp_nonce": "junco.security.csp_nonce",
    "junco.middleware.proxy": "junco.security.proxy",
    "junco.middleware.ratelimit": "junco.security.ratelimit",
    "junco.middleware.stack": "junco.security.stack",
    "junco.stores.pubsub_memory": "junco.stores.memory",
    "junco.stores.ratelimit_memory": "junco.stores.memory",
    "junco.stores.pubsub_redis": "junco.stores.redis",
    "junco.stores.ratelimit_redis": "junco.stores.redis",
    "junco.cli": "junco.server.cli",
}


@pytest.mark.parametrize(("old", "new"), sorted(OLD_PATHS.items()))
def test_old_import_paths_are_the_moved_modules(old: str, new: str) -> None:
    import importlib

    assert importlib.import_module(old) is importlib.import_module(new)


def test_the_old_middleware_package_still_exports_the_stack() -> None:
    import importlib

    old = importlib.import_module("junco.middleware")
    new = importlib.import_module("junco.security")
    assert old.secure_stack is new.secure_stack
    assert old.CSPNonce is new.CSPNonce


def test_the_face_packages_export_what_their_modules_define() -> None:
    # The test client and the server are packages; their public names are
    # the very objects of the modules inside (no copies, no wrappers).
    import junco.server
    import junco.testing
    from junco.server import runner
    from junco.testing import client, response, websocket

    assert junco.testing.TestClient is client.TestClient
    assert junco.testing.SyncTestClient is client.SyncTestClient
    assert junco.testing.TestResponse is response.TestResponse
    assert junco.testing.WebSocketSession is websocket.WebSocketSession
    assert junco.testing.WebSocketRejected is websocket.WebSocketRejected
    for name in junco.server.__all__:
        assert getattr(junco.server, name) is getattr(runner, name)


def test_importing_the_server_package_needs_no_server() -> None:
    # ``import junco`` and ``junco.server`` load no ASGI server: uvicorn, granian,
    # hypercorn and gunicorn are imported when a server is started.
    servers = {"uvicorn", "granian", "hypercorn", "gunicorn", "uvicorn_worker"}
    loaded = loaded_by("junco.server", "junco.testing")
    assert {m.split(".")[0] for m in loaded} & servers == set()
    assert {"junco.server.runner", "junco.testing.client"} <= loaded
    assert "junco.server.protocols" not in loaded  # it imports uvicorn
