"""ProxyHeaders and client_ip: forwarded values believed only from trusted proxies."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from junco import Junco, Request
from junco.security.allowed_hosts import AllowedHosts
from junco.security.proxy import ProxyHeaders, client_ip, parse_forwarded
from junco.testing import TestClient, TestResponse
from junco.websocket import WebSocket, with_websocket
from tests.middleware.test_security_headers import docs_example

UNTRUSTED = ("203.0.113.9", 1234)
PROXY = ("10.0.0.1", 40000)


def echo_app(proxy: ProxyHeaders | None = None) -> Junco:
    app = Junco()
    if proxy is not None:
        app.add_middleware(proxy)

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {
            "ip": client_ip(request),
            "attr": request.client_ip,  # type: ignore[attr-defined]
            "addr": list(request.client_addr or ()),
            "scheme": request.scheme,
            "host": request.host,
            "url": request.full_url,
        }

    return app


def see(app: Junco, headers: Any = None, peer: Any = PROXY, **kw: Any) -> dict[str, Any]:
    response = asyncio.run(TestClient(app).get("/", headers=headers, scope={"client": peer}, **kw))
    assert response.status_code == 200, response
    result: dict[str, Any] = response.json
    return result


def ip(app: Junco, headers: Any, peer: Any = PROXY) -> str:
    seen = see(app, headers, peer)
    assert seen["ip"] == seen["attr"]
    return str(seen["ip"])


INTERNAL = ["10.0.0.0/8"]
FORGED = {
    "X-Forwarded-For": "198.51.100.1",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.com",
    "Forwarded": "for=198.51.100.2;proto=https;host=evil.com",
}


@pytest.mark.parametrize("headers", ["x-forwarded", "forwarded"])
def test_forged_headers_from_an_untrusted_peer_are_ignored(headers: str) -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, headers=headers, forwarded_host=True))
    seen = see(app, FORGED, UNTRUSTED)
    assert seen == {
        "ip": "203.0.113.9",
        "attr": "203.0.113.9",
        "addr": ["203.0.113.9", 1234],
        "scheme": "http",
        "host": "localhost",
        "url": "http://localhost/",
    }


def test_default_trusts_loopback_only() -> None:
    app = echo_app(ProxyHeaders())
    assert ip(app, {"X-Forwarded-For": "198.51.100.7"}, ("127.0.0.1", 1)) == "198.51.100.7"
    assert ip(app, {"X-Forwarded-For": "198.51.100.7"}, ("::1", 1)) == "198.51.100.7"
    assert ip(app, {"X-Forwarded-For": "198.51.100.7"}, PROXY) == "10.0.0.1"


def test_trusted_proxy_sets_ip_scheme_and_full_url() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, forwarded_host=True))
    seen = see(
        app,
        {
            "Host": "backend:8000",
            "X-Forwarded-For": "198.51.100.7",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example.com",
        },
    )
    assert seen == {
        "ip": "198.51.100.7",
        "attr": "198.51.100.7",
        "addr": ["198.51.100.7", 0],
        "scheme": "https",
        "host": "shop.example.com",
        "url": "https://shop.example.com/",
    }


def test_forwarded_host_is_opt_in() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL))
    seen = see(app, {"Host": "backend:8000", "X-Forwarded-Host": "shop.example.com"})
    assert seen["host"] == "backend:8000"


@pytest.mark.parametrize(
    ("xff", "client"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("198.51.100.7, 10.0.0.5", "198.51.100.7"),
        ("203.0.113.50, 198.51.100.7, 10.0.0.5, 10.9.9.9", "198.51.100.7"),  # left part forged
        ("10.0.0.3, 10.0.0.5", "10.0.0.3"),  # every hop is a proxy: the first one
        ("  198.51.100.7  ,10.0.0.5", "198.51.100.7"),
        ("198.51.100.7:4711", "198.51.100.7"),
        ("[2001:db8::7]", "2001:db8::7"),
        ("[2001:DB8::7]:443, 10.0.0.5", "2001:db8::7"),
        ("2001:db8:0:0::7", "2001:db8::7"),
        ("garbage, 198.51.100.7", "198.51.100.7"),  # never reached past the client
        ("198.51.100.7, garbage", "10.0.0.1"),
        ("198.51.100.7, 10.0.0.5, garbage", "10.0.0.1"),
        ("unknown", "10.0.0.1"),
        ("", "10.0.0.1"),
        (",,,", "10.0.0.1"),
        ("198.51.100.7:abc", "10.0.0.1"),
        ("198.51.100.7:123456", "10.0.0.1"),
        ("[2001:db8::7", "10.0.0.1"),
        ("[2001:db8::7]x", "10.0.0.1"),
        ("1.2.3.4.5", "10.0.0.1"),
        ("fe80::1%eth0" + "x" * 100, "10.0.0.1"),
        ("\u00b9.2.3.4", "10.0.0.1"),
        ("1.2.3.4:\u00b9", "10.0.0.1"),
        ("1" * 20000, "10.0.0.1"),
        ("198.51.100.7, " * 2000 + "10.0.0.5", "198.51.100.7"),
    ],
)
def test_client_is_the_right_most_untrusted_address(xff: str, client: str) -> None:
    assert ip(echo_app(ProxyHeaders(trusted=INTERNAL)), {"X-Forwarded-For": xff}) == client


def test_several_x_forwarded_for_headers_form_one_list() -> None:
    headers = [("X-Forwarded-For", "203.0.113.50, 198.51.100.7"), ("X-Forwarded-For", "10.0.0.5")]
    assert ip(echo_app(ProxyHeaders(trusted=INTERNAL)), headers) == "198.51.100.7"


def test_ipv4_mapped_peer_matches_an_ipv4_network() -> None:
    assert ip(
        echo_app(ProxyHeaders(trusted=INTERNAL)),
        {"X-Forwarded-For": "198.51.100.7"},
        ("::ffff:10.1.1.1", 1),
    ) == ("198.51.100.7")


def test_star_trusts_any_peer_but_only_one_hop() -> None:
    app = echo_app(ProxyHeaders(trusted=["*"]))
    xff = {"X-Forwarded-For": "1.1.1.1, 198.51.100.7"}
    assert ip(app, xff, UNTRUSTED) == "198.51.100.7"


def test_unix_socket_peers() -> None:
    xff = {"X-Forwarded-For": "198.51.100.7"}
    assert ip(echo_app(ProxyHeaders(trusted=["unix"])), xff, None) == "198.51.100.7"
    assert ip(echo_app(ProxyHeaders(trusted=INTERNAL)), xff, None) == ""
    assert ip(echo_app(), xff, None) == ""


@pytest.mark.parametrize(
    ("headers", "scheme"),
    [
        ({"X-Forwarded-Proto": "https"}, "https"),
        ({"X-Forwarded-Proto": "HTTPS "}, "https"),
        ({"X-Forwarded-Proto": "http"}, "http"),
        ({"X-Forwarded-Proto": "wss"}, "https"),
        ({"X-Forwarded-Proto": "javascript"}, "http"),
        ({"X-Forwarded-Proto": ""}, "http"),
        ({"X-Forwarded-Proto": "https, http"}, "http"),  # the nearest proxy's, lists differ
        # Lists that line up: the client's hop.
        (
            {"X-Forwarded-For": "198.51.100.7, 10.0.0.5", "X-Forwarded-Proto": "https, http"},
            "https",
        ),
    ],
)
def test_scheme(headers: dict[str, str], scheme: str) -> None:
    assert see(echo_app(ProxyHeaders(trusted=INTERNAL)), headers)["scheme"] == scheme


@pytest.mark.parametrize(
    "host",
    ["[::1", "host:abc", "evil.com/path", "a b", "", "x" * 400, "h\u00e9.com"],
)
def test_malformed_forwarded_host_is_ignored(host: str) -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, forwarded_host=True))
    assert see(app, {"X-Forwarded-Host": host})["host"] == "localhost"


def test_forwarded_host_of_the_client_hop() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, forwarded_host=True))
    headers = {
        "X-Forwarded-For": "198.51.100.7, 10.0.0.5",
        "X-Forwarded-Host": "shop.example.com, internal-lb",
    }
    assert see(app, headers)["host"] == "shop.example.com"


def test_rfc7239_forwarded() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, headers="forwarded", forwarded_host=True))
    seen = see(
        app,
        {
            "Forwarded": 'for=203.0.113.50, for="[2001:db8:cafe::17]:4711";proto=https;'
            'host="shop.example.com", for=10.0.0.5;proto=http;host=lb',
            "X-Forwarded-For": "198.51.100.99",  # the other kind is not read
        },
    )
    assert (seen["ip"], seen["scheme"], seen["host"]) == (
        "2001:db8:cafe::17",
        "https",
        "shop.example.com",
    )


@pytest.mark.parametrize(
    "value",
    [
        "for=",
        'for="198.51.100.7',
        "junk",
        "for=198.51.100.7 junk",
        "for=unknown",
        "for=_hidden",
        "for=198.51.100.7;for=198.51.100.8",
        "proto=https",
        "for=198.51.100.7:99999",
        "for=" + "9" * 30000,
    ],
)
def test_malformed_forwarded_falls_back_to_the_peer(value: str) -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, headers="forwarded"))
    assert ip(app, {"Forwarded": value}) == "10.0.0.1"


def test_x_forwarded_mode_ignores_forwarded() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL))
    assert ip(app, {"Forwarded": "for=198.51.100.7;proto=https"}) == "10.0.0.1"


def test_websocket_scheme_becomes_wss() -> None:
    app = Junco()
    ProxyHeaders(app, INTERNAL)

    @app.route("/ws")
    @with_websocket
    async def ws(request: Request, socket: WebSocket) -> None:
        await socket.send(f"{request.scheme} {client_ip(request)}")

    async def scenario() -> None:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"}
        session = TestClient(app).websocket("/ws", headers=headers, scope={"client": PROXY})
        async with session as socket:
            assert await socket.receive() == "wss 198.51.100.7"

    asyncio.run(scenario())


def test_client_ip_without_proxy_headers_is_the_peer() -> None:
    app = echo_app()
    assert ip(app, {"X-Forwarded-For": "198.51.100.7"}, ("127.0.0.1", 1)) == "127.0.0.1"


def test_client_ip_before_proxy_headers_ran() -> None:
    seen: list[str] = []
    app = Junco()

    @app.before_request
    async def rate_limit(request: Request) -> None:  # registered before ProxyHeaders
        seen.append(client_ip(request))

    ProxyHeaders(app, INTERNAL)

    @app.get("/")
    async def index(request: Request) -> str:
        return client_ip(request)

    response = asyncio.run(
        TestClient(app).get(
            "/", headers={"X-Forwarded-For": "198.51.100.7"}, scope={"client": PROXY}
        )
    )
    assert (seen, response.text) == (["198.51.100.7"], "198.51.100.7")


def test_client_ip_on_errors_before_the_hooks() -> None:
    seen: list[str] = []
    app = Junco(max_content_length=4)
    ProxyHeaders(app, INTERNAL)

    @app.post("/")
    async def index(request: Request) -> str:
        return "ok"

    @app.after_error_request
    async def audit(request: Request, response: Any) -> None:
        seen.append(client_ip(request))

    response: TestResponse = asyncio.run(
        TestClient(app).post(
            "/",
            body=b"x" * 10,
            headers={"X-Forwarded-For": "198.51.100.7"},
            scope={"client": PROXY},
        )
    )
    assert (response.status_code, seen) == (413, ["198.51.100.7"])


def test_proxy_on_a_mounted_sub_app() -> None:
    app, api = Junco(), Junco()
    ProxyHeaders(api, INTERNAL)

    @api.get("/ip")
    async def where(request: Request) -> str:
        return client_ip(request)

    app.mount(api, "/api", local=True)
    response = asyncio.run(
        TestClient(app).get(
            "/api/ip", headers={"X-Forwarded-For": "198.51.100.7"}, scope={"client": PROXY}
        )
    )
    assert response.text == "198.51.100.7"


def test_host_check_on_the_root_uses_a_sub_app_proxy() -> None:
    app, api = Junco(), Junco()
    AllowedHosts(app, ["example.com"])  # runs before the sub-app's hooks
    ProxyHeaders(api, INTERNAL, forwarded_host=True)

    @api.get("/host")
    async def host(request: Request) -> str:
        return request.host

    app.mount(api, "/api", local=True)
    headers = {"Host": "backend:8000", "X-Forwarded-Host": "example.com"}
    response = asyncio.run(
        TestClient(app).get("/api/host", headers=headers, scope={"client": PROXY})
    )
    assert (response.status_code, response.text) == (200, "example.com")


def test_trust_cache_is_bounded() -> None:
    middleware = ProxyHeaders(trusted=INTERNAL)
    for i in range(5000):
        middleware.is_proxy(f"2001:db8::{i:x}")
    assert len(middleware._trusted_cache) <= 1024
    assert middleware.is_proxy("10.2.3.4")
    assert not middleware.is_proxy("not an address")


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("for=1.2.3.4", [{"for": "1.2.3.4"}]),
        (
            'For="[::1]:80";Proto=HTTPS, for=2.2.2.2',
            [{"for": "[::1]:80", "proto": "HTTPS"}, {"for": "2.2.2.2"}],
        ),
        ('for="a\\"b"', [{"for": 'a"b'}]),
        ("for=1.2.3.4;;by=x ,", [{"for": "1.2.3.4", "by": "x"}, {}]),
        ("for=1.2.3.4; ;by=x", [{"for": "1.2.3.4", "by": "x"}]),
        ("", [{}]),
        ("for", None),
        ("for=1;for=2", None),
        ("for=1 2", None),
    ],
)
def test_parse_forwarded(value: str, parsed: list[dict[str, str]] | None) -> None:
    assert parse_forwarded(value) == parsed


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        ProxyHeaders(trusted=["10.0.0.0/33"])
    with pytest.raises(ValueError, match="not an IP address"):
        ProxyHeaders(trusted=["proxy.internal"])
    with pytest.raises(ValueError, match="headers must be"):
        ProxyHeaders(headers="x-real-ip")
    with pytest.raises(TypeError, match="the app"):
        ProxyHeaders(["10.0.0.1"])
    single = ProxyHeaders(trusted="10.0.0.1")
    assert single.is_proxy("10.0.0.1")
    assert not single.is_proxy("10.0.0.2")


def test_raw_non_ascii_bytes_are_ignored() -> None:
    app = echo_app(ProxyHeaders(trusted=INTERNAL, forwarded_host=True))
    raw = [
        (b"host", b"localhost"),
        (b"x-forwarded-for", "\u0661.\u0662.\u0663.\u0664".encode()),
        (b"x-forwarded-proto", "h\u0442tps".encode()),
        (b"x-forwarded-host", "\u043f\u0440\u0438\u043c\u0435\u0440.com".encode()),
    ]
    response = asyncio.run(TestClient(app).get("/", scope={"client": PROXY, "headers": raw}))
    seen = response.json
    assert (seen["ip"], seen["scheme"], seen["host"]) == ("10.0.0.1", "http", "localhost")


def test_docs_example() -> None:
    app = docs_example("hosts-and-proxies")["app"]
    forwarded = {
        "Host": "www.example.com",
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Proto": "https",
    }
    client = TestClient(app)

    def get(headers: dict[str, str], peer: tuple[str, int]) -> TestResponse:
        return asyncio.run(client.get("/whoami", headers=headers, scope={"client": peer}))

    behind = get(forwarded, ("10.0.0.2", 5000))
    assert behind.json == {"ip": "198.51.100.7", "scheme": "https", "host": "www.example.com"}
    direct = get(forwarded, ("198.51.100.66", 5000))
    assert direct.json == {"ip": "198.51.100.66", "scheme": "http", "host": "www.example.com"}
    evil = get({"Host": "evil.test"}, ("10.0.0.2", 5000))
    assert (evil.status_code, evil.text) == (400, "Invalid Host header")
