#!/usr/bin/env python
"""What junco's real security components cost per request, in-process.

Apps answer ``ok``: ``plain`` (no middleware), ``mw`` (the real ``SecurityHeaders``,
``RequestID`` and ``CORS`` components: the benchmark's GET /mw done with junco's own
parts) and the full ``secure_stack(csrf_tokens=True)`` (proxies, hosts, request ids,
security headers, CSP nonces, signed-cookie sessions, CORS, CSRF with tokens) measured on
three requests:

- ``stack first``: ``GET /`` with no cookie, as a first visit;
- ``stack me``: ``GET /me`` with the session cookie, reading the user from the session;
- ``stack post``: ``POST /items`` with the cookie and the CSRF token (same-origin), which
  loads the session and checks the token.

The cookie and token come from the stack's own ``GET /login``; every response is checked
before timing (and a POST without the token must be refused). Apps are interleaved within
each round; medians over the rounds, CPU time. The goals (issue 14): the stack adds at
most 8 µs over plain GET / and keeps at least 0.25x its rate; GET /mw keeps 0.5x.

    python bench/stack_overhead.py --markdown docs/benchmarks.md
"""

import argparse
import asyncio
import http.cookies
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import report

from junco import CORS, Junco, Request
from junco.security import RequestID, SecurityHeaders, secure_stack

ORIGIN = "https://example.com"
OWN_ORIGIN = "http://127.0.0.1"
HEADERS = [
    (b"host", b"127.0.0.1"),
    (b"user-agent", b"bench"),
    (b"accept", b"*/*"),
    (b"origin", ORIGIN.encode()),
]
BODY = b'{"name":"x"}'
Scope = dict[str, Any]


def build(kind: str) -> Junco:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        return "ok"

    if kind == "mw":
        SecurityHeaders(app)
        RequestID(app)
        CORS(app, allowed_origins=[ORIGIN])
    elif kind == "stack":
        stack = secure_stack(
            app,
            secret_key="k" * 48,
            allowed_hosts=["127.0.0.1"],
            cors_origins=[ORIGIN],
            cors_credentials=True,
            trusted_proxies=["127.0.0.1"],
            csrf_tokens=True,
        )

        @app.get("/login")
        async def login(request: Request) -> dict[str, str]:
            request.session["user"] = "alice"
            return {"token": stack.csrf.generate_token(request)}

        @app.get("/me")
        async def me(request: Request) -> str:
            return str(request.session["user"])

        @app.post("/items")
        async def items(request: Request) -> str:
            return "ok"

    return app


def scope(method: str, path: str, extra: list[tuple[bytes, bytes]], body: bytes = b"") -> Scope:
    headers = HEADERS + extra
    if body:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Client:
    """Sends one scope to an app ``n`` times; records the last response."""

    def __init__(self, app: Junco, template: Scope, body: bytes = b"") -> None:
        self.app = app
        self.template = template
        self.message = {"type": "http.request", "body": body, "more_body": False}
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.message

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def once(self) -> tuple[int, dict[bytes, bytes], bytes]:
        self.sent = []
        await self.app(dict(self.template), self.receive, self.send)
        headers = dict(self.sent[0]["headers"])
        cookies = [v for k, v in self.sent[0]["headers"] if k == b"set-cookie"]
        headers[b"set-cookie"] = b"; ".join(cookies)
        return self.sent[0]["status"], headers, self.sent[1]["body"]

    async def run(self, n: int) -> float:
        """CPU microseconds per request over ``n`` requests (a fresh scope each, as servers do)."""

        async def send(message: dict[str, Any]) -> None:
            return None

        app, template, receive = self.app, self.template, self.receive
        start = time.process_time()
        for _ in range(n):
            await app(dict(template), receive, send)
        return (time.process_time() - start) / n * 1e6


async def clients() -> dict[str, Client]:
    plain, mw, stack = build("plain"), build("mw"), build("stack")
    login = Client(stack, scope("GET", "/login", []))
    status, headers, body = await login.once()
    if status != 200:
        raise SystemExit(f"stack: GET /login answered {status}")
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar.load(headers[b"set-cookie"].decode())
    cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items()).encode()
    token = json.loads(body)["token"].encode()
    post = [
        (b"cookie", cookie),
        (b"sec-fetch-site", b"same-origin"),
        (b"content-type", b"application/json"),
    ]
    own = [(k, OWN_ORIGIN.encode() if k == b"origin" else v) for k, v in HEADERS]
    post_scope = scope("POST", "/items", [*post, (b"x-csrf-token", token)], BODY)
    post_scope["headers"] = own + post_scope["headers"][len(HEADERS) :]
    refused = Client(stack, {**post_scope, "headers": own + post + [post_scope["headers"][-1]]})
    logging.getLogger("junco").setLevel(logging.ERROR)  # the refused POST logs
    if (await refused.once())[0] != 403:
        raise SystemExit("stack: a POST without the CSRF token was not refused")
    return {
        "plain": Client(plain, scope("GET", "/", [])),
        "mw": Client(mw, scope("GET", "/", [])),
        "stack first": Client(stack, scope("GET", "/", [])),
        "stack me": Client(stack, scope("GET", "/me", [(b"cookie", cookie)])),
        "stack post": Client(stack, post_scope, BODY),
    }


async def main_async(args: argparse.Namespace) -> str:
    apps = await clients()
    for kind, client in apps.items():
        status, _, body = await client.once()
        expected = b"alice" if kind == "stack me" else b"ok"
        if status != 200 or body != expected:
            raise SystemExit(f"{kind}: answered {status} {body!r}")
        await client.run(200)  # warm-up
    samples: dict[str, list[float]] = {kind: [] for kind in apps}
    for _ in range(args.rounds):
        for kind, client in apps.items():
            samples[kind].append(await client.run(args.requests))
    med = {kind: statistics.median(v) for kind, v in samples.items()}
    rows = [
        "| app | µs per request | req/s | overhead over plain | rate vs plain |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, us in med.items():
        rows.append(
            f"| {kind} | {us:.2f} | {1e6 / us:,.0f} | {us - med['plain']:+.2f} µs "
            f"| {med['plain'] / us:.2f}x |"
        )
    return "\n".join(
        [
            f"Command: `python bench/stack_overhead.py --rounds {args.rounds} "
            f"--requests {args.requests}`",
            "",
            report.environment(["junco"]),
            "",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    text = asyncio.run(main_async(args))
    print(text)
    if args.markdown:
        report.update_section(args.markdown, "stack-overhead", text)


if __name__ == "__main__":
    main()
