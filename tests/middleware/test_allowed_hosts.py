"""AllowedHosts: the forms of entries, hostile Host values, proxies, and never an echo."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from junco import Junco, Request
from junco.security.allowed_hosts import REFUSAL, AllowedHosts, split_host
from junco.security.proxy import ProxyHeaders
from junco.security.security_headers import SecurityHeaders
from junco.testing import TestClient, TestResponse
from junco.websocket import WebSocket, with_websocket

HOSTS = ["example.com", "api.example.com:8443", ".example.org", "*.example.net", "127.0.0.1", "::1"]


def fetch(app: Junco, path: str = "/", method: str = "GET", **kw: Any) -> TestResponse:
    return asyncio.run(TestClient(app).request(method, path, **kw))


def guarded(hosts: list[str] | None = None) -> Junco:
    app = Junco()
    AllowedHosts(app, HOSTS if hosts is None else hosts)

    @app.get("/")
    async def index(request: Request) -> str:
        return "welcome " + request.host

    return app


def with_host(app: Junco, host: bytes, path: str = "/") -> TestResponse:
    return fetch(app, path, scope={"headers": [(b"host", host)]})


@pytest.mark.parametrize(
    "host",
    [
        b"example.com",
        b"EXAMPLE.com",
        b"example.com.",
        b"example.com:8000",
        b"example.com:1",
        b"api.example.com:8443",
        b"example.org",
        b"www.example.org",
        b"a.b.example.org:80",
        b"www.example.net",
        b"127.0.0.1",
        b"127.0.0.1:5000",
        b"[::1]",
        b"[::1]:8000",
        b"[0:0:0:0:0:0:0:1]:8000",
    ],
)
def test_allowed(host: bytes) -> None:
    response = with_host(guarded(), host)
    assert response.status_code == 200, host
    assert response.text == "welcome " + host.decode()


HOSTILE = [
    b"evil.com",
    b"example.com.evil.com",
    b"evilexample.com",
    b"evil.example.com",  # only the apex of example.com is listed
    b"api.example.com",  # listed only with port 8443
    b"api.example.com:443",
    b"example.net",  # *.example.net: subdomains only
    b"example.org.evil.com",
    b"[::1",
    b"[::1]x",
    b"[::1]:",
    b"[::2]",
    b"[fe80::1%25eth0]",
    b"[evil.com]",
    b"host:abc",
    b"example.com:",
    b"example.com:99999",
    b"example.com:123456",
    b"example.com:8000:9000",
    b"example.com:\xd9\xa1",
    b"",
    b" ",
    b"example.com ",
    b"exa mple.com",
    b"example..com",
    b".example.com",
    b"example.com..",
    b"example.com/evil",
    b"example.com@evil.com",
    b"evil.com#example.com",
    b"evil.com\\example.com",
    b"<script>alert(1)</script>",
    b"e" * 1000 + b".example.org",
    b"a" * 1000,
    b"ex\xe4mple.com",
    "пример.example.org".encode(),
    b"example.com\x00",
    b"127.0.0.2",
    b"127.0.0.1.evil.com",
]


@pytest.mark.parametrize("host", HOSTILE)
def test_refused_and_never_echoed(host: bytes) -> None:
    app = guarded()
    SecurityHeaders(app)
    response = with_host(app, host)
    assert response.status_code == 400, host
    assert response.text == REFUSAL
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Frame-Options"] == "DENY"  # errors get the other headers
    if len(host.strip()) > 3:
        assert host not in response.body
        for value in response.headers.values():
            assert host.decode("latin-1") not in value


@pytest.mark.parametrize("host", HOSTILE)
def test_refused_on_unknown_paths_too(host: bytes) -> None:
    assert with_host(guarded(), host, "/nowhere").status_code == 400


def test_missing_and_duplicate_host() -> None:
    app = guarded()
    http10 = fetch(app, scope={"headers": [], "http_version": "1.0"})
    assert (http10.status_code, http10.text) == (400, REFUSAL)
    two = fetch(app, headers=[("Host", "example.com"), ("Host", "evil.com")])
    assert two.status_code == 400  # the core refuses this before any hook
    assert "evil.com" not in two.text


def test_star_allows_any_well_formed_host() -> None:
    app = guarded(["*"])
    assert with_host(app, b"anything.test:8080").status_code == 200
    for bad in (b"host:abc", b"[::1", b"", b"a b"):
        assert with_host(app, bad).status_code == 400


def test_idn_entries_match_their_punycode() -> None:
    app = guarded(["b\u00fccher.example"])
    assert with_host(app, b"xn--bcher-kva.example").status_code == 200
    assert with_host(app, "b\u00fccher.example".encode()).status_code == 400


def test_entry_with_ipv6_port() -> None:
    app = guarded(["[2001:db8::5]:8080"])
    assert with_host(app, b"[2001:DB8:0::5]:8080").status_code == 200
    assert with_host(app, b"[2001:db8::5]").status_code == 400


def test_the_check_runs_before_other_hooks_answer() -> None:
    calls: list[str] = []
    app = guarded()

    @app.before_request
    async def later(request: Request) -> None:
        calls.append(request.path)

    assert with_host(app, b"evil.com").status_code == 400
    assert calls == []


def test_websocket_handshake_with_a_bad_host_is_refused() -> None:
    from junco.testing import WebSocketRejected

    app = guarded()

    @app.route("/ws")
    @with_websocket
    async def ws(request: Request, socket: WebSocket) -> None:
        await socket.send("hi")

    async def scenario() -> None:
        client = TestClient(app, host="evil.com")
        with pytest.raises(WebSocketRejected) as refused:
            async with client.websocket("/ws"):
                pass
        assert refused.value.status_code == 400
        async with TestClient(app, host="example.com").websocket("/ws") as socket:
            assert await socket.receive() == "hi"

    asyncio.run(scenario())


def proxied(order: str) -> Junco:
    app = Junco()
    if order == "proxy-first":
        ProxyHeaders(app, trusted=["10.0.0.0/8"], forwarded_host=True)
        AllowedHosts(app, ["example.com"])
    else:
        AllowedHosts(app, ["example.com"])
        ProxyHeaders(app, trusted=["10.0.0.0/8"], forwarded_host=True)

    @app.get("/")
    async def index(request: Request) -> str:
        return request.host

    return app


@pytest.mark.parametrize("order", ["proxy-first", "hosts-first"])
def test_host_from_a_trusted_proxy(order: str) -> None:
    app = proxied(order)
    behind = {"Host": "backend:8000", "X-Forwarded-Host": "example.com"}
    ok = fetch(app, headers=behind, scope={"client": ("10.0.0.7", 1234)})
    assert (ok.status_code, ok.text) == (200, "example.com")
    forged = fetch(app, headers=behind, scope={"client": ("203.0.113.9", 1234)})
    assert forged.status_code == 400
    to_evil = {"Host": "example.com", "X-Forwarded-Host": "evil.com"}
    assert fetch(app, headers=to_evil, scope={"client": ("10.0.0.7", 1)}).status_code == 400
    # A malformed forwarded host is ignored: the real Host is checked.
    garbage = {"Host": "example.com", "X-Forwarded-Host": "[::1"}
    assert fetch(app, headers=garbage, scope={"client": ("10.0.0.7", 1)}).text == "example.com"


def test_cache_of_accepted_hosts_is_bounded() -> None:
    middleware = AllowedHosts(hosts=[".example.org"])
    for i in range(2000):
        assert middleware.allows(f"h{i}.example.org:{i % 60000 + 1}".encode())
    assert len(middleware._ok) <= 1 + 256


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b"Example.COM", ("example.com", None)),
        (b"example.com.:80", ("example.com", 80)),
        (b"[::FFFF:1.2.3.4]:65535", ("[::ffff:102:304]", 65535)),
        (b"localhost:0", ("localhost", 0)),
        (b"my_service", ("my_service", None)),
        (b"example.com:65536", None),
        (b"-example.com", None),
        (b"example-.com", None),
        (b"[]", None),
        (b"[::1]]", None),
    ],
)
def test_split_host(raw: bytes, parsed: tuple[str, int | None] | None) -> None:
    assert split_host(raw) == parsed


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ([], "at least one host"),
        (["exa mple.com"], "not a host name"),
        (["*."], "not a host name"),
        ([".example.com:80"], "cannot have a port"),
        (["example.com:port"], "not a host name"),
        (["x" * 70 + ".com"], "not a host name"),
    ],
)
def test_bad_entries(hosts: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AllowedHosts(hosts=hosts)


def test_positional_hosts_are_refused() -> None:
    with pytest.raises(TypeError, match="hosts="):
        AllowedHosts(["example.com"])


def test_single_string_and_add_middleware() -> None:
    app = Junco()
    app.add_middleware(AllowedHosts(hosts="example.com"))

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    assert with_host(app, b"example.com").status_code == 200
    assert with_host(app, b"other.com").status_code == 400
