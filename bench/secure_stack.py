#!/usr/bin/env python
"""The "secure stack" of each framework that ships one, in-process: req/s per CPU second.

Each stack (``bench/stack_apps/``) runs security headers with a CSP nonce, request ids,
CORS with credentials, allowed hosts, cookie sessions and CSRF tokens, built from its own
components. Three requests, as a browser sends them:

- ``first``: ``GET /``, a first visit (no cookie): an HTML page with a nonce'd script;
- ``me``: ``GET /me`` from the CORS-allowed front end, with the session cookie (logged in);
- ``post``: ``POST /items`` from the page itself (``Origin`` and ``Sec-Fetch-Site:
  same-origin``), with the cookies and the CSRF token in the stack's header.

The cookies and the token come from each stack's own ``GET /login``. Before timing, every
response is checked (status, security headers with the nonce, request id, CORS headers,
the user read from the session) and a ``POST`` without the token must be refused, so the
CSRF check is known to run. Stacks are interleaved within each round; medians over rounds.

    python bench/secure_stack.py                          # 7 rounds
    python bench/secure_stack.py --markdown docs/benchmarks.md
"""

import argparse
import asyncio
import gc
import http.cookies
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import report
import stack_apps
from inprocess import CLIENT, SERVER, Exchange, Lifespan
from stack_apps import HEADERS, HOST, ORIGIN, OWN_ORIGIN, USER

REQUESTS = {
    "first": "GET / first visit",
    "me": "GET /me (session cookie)",
    "post": "POST with CSRF token",
}
BODY = b'{"name":"x"}'
Scope = dict[str, Any]


class Stack:
    """One framework's app, the cookies and token its login gave, and its three scopes."""

    def __init__(self, name: str) -> None:
        module = stack_apps.load(name)
        self.name = name
        self.app = module.app
        self.token_header: str = module.TOKEN_HEADER.lower()
        self.lifespan = Lifespan(self.app)
        self.cookie = ""
        self.token = ""

    async def request(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> Exchange:
        ex = Exchange(body)
        await self.app(self.scope(method, path, headers, body)(), ex.receive, ex.send)
        return ex

    def scope(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> Callable[[], Scope]:
        raw = [(b"host", HOST.encode()), (b"user-agent", b"bench"), (b"accept", b"*/*")]
        raw += [(k.lower().encode(), v.encode()) for k, v in headers]
        if body:
            raw.append((b"content-length", str(len(body)).encode()))
        template: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "client": CLIENT,
            "server": SERVER,
        }
        state = self.lifespan.state

        def make() -> Scope:
            scope = template.copy()
            scope["headers"] = raw.copy()
            scope["state"] = state.copy()
            return scope

        return make

    def requests(self, token: bool = True) -> dict[str, tuple[Callable[[], Scope], bytes]]:
        post = [
            ("cookie", self.cookie),
            ("origin", OWN_ORIGIN),
            ("sec-fetch-site", "same-origin"),
            ("content-type", "application/json"),
        ]
        if token:
            post.append((self.token_header, self.token))
        return {
            "first": (self.scope("GET", "/", []), b""),
            "me": (self.scope("GET", "/me", [("cookie", self.cookie), ("origin", ORIGIN)]), b""),
            "post": (self.scope("POST", "/items", post, BODY), BODY),
        }

    async def login(self) -> None:
        ex = await self.request("GET", "/login", [])
        if ex.status != 200:
            raise SystemExit(f"{self.name}: GET /login answered {ex.status}")
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        for name, value in ex.headers:
            if name.lower() == b"set-cookie":
                jar.load(value.decode("latin-1"))
        self.cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
        token = json.loads(b"".join(ex.chunks))["token"]
        # Double-submit stacks echo their cookie's value; junco and BlackSheep hand one out.
        self.token = token if token is not None else jar["csrftoken"].value


def headers_of(ex: Exchange) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in ex.headers:
        out.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    return out


def check(stack: Stack, key: str, ex: Exchange) -> str | None:
    """Why the response to request ``key`` is wrong, or None."""
    body = b"".join(ex.chunks)
    if ex.status != 200:
        return f"status {ex.status} (body {body[:100]!r})"
    h = headers_of(ex)
    for name, value in HEADERS.items():
        if value not in h.get(name.lower(), []):
            return f"header {name}: {h.get(name.lower())}"
    rid = h.get("x-request-id", [""])[0]
    if not 16 <= len(rid) <= 64:
        return f"x-request-id {rid!r}"
    csp = " ".join(h.get("content-security-policy", []))
    if key == "first":
        text = body.decode()
        start = text.find('nonce="') + 7
        nonce = text[start : text.find('"', start)]
        if start < 7 or len(nonce) < 16 or f"'nonce-{nonce}'" not in csp:
            return f"the page's nonce is not in the CSP {csp!r}"
        return None
    data = json.loads(body)
    if data.get("user") != USER:
        return f"the session was not read: {data}"
    if key == "me":
        if h.get("access-control-allow-origin") != [ORIGIN]:
            return f"access-control-allow-origin {h.get('access-control-allow-origin')}"
        if h.get("access-control-allow-credentials") != ["true"]:
            return "no access-control-allow-credentials"
    return None


async def verify(stack: Stack) -> None:
    logging.getLogger("junco").setLevel(logging.ERROR)  # the refused POST below logs
    outcome = await stack.lifespan.startup()
    if outcome == "lifespan.startup.failed":
        raise SystemExit(f"{stack.name}: lifespan startup failed")
    await stack.login()
    for key, (make, body) in stack.requests().items():
        ex = Exchange(body)
        await stack.app(make(), ex.receive, ex.send)
        why = check(stack, key, ex)
        if why:
            raise SystemExit(f"{stack.name} {REQUESTS[key]}: {why}")
    make, body = stack.requests(token=False)["post"]
    ex = Exchange(body)
    await stack.app(make(), ex.receive, ex.send)
    if ex.status not in (401, 403):
        raise SystemExit(f"{stack.name}: a POST without the CSRF token answered {ex.status}")


async def run_n(app: Any, make: Callable[[], Scope], body: bytes, n: int) -> float:
    """req/s per CPU second over ``n`` requests."""
    bad = 0
    start = time.process_time()
    for _ in range(n):
        ex = Exchange(body)
        await app(make(), ex.receive, ex.send)
        if ex.status != 200:
            bad += 1
    elapsed = time.process_time() - start
    if bad:
        raise SystemExit(f"{bad} of {n} responses were not 200")
    return n / elapsed


async def calibrate(app: Any, make: Callable[[], Scope], body: bytes, seconds: float) -> int:
    n, rate = 10, 0.0
    while n < 100_000:
        n *= 2
        rate = await run_n(app, make, body, n)
        if n / rate >= min(0.1, seconds / 2):
            break
    return max(20, round(rate * seconds))


async def main_async(args: argparse.Namespace) -> str:
    stacks = [Stack(name) for name in args.stacks]
    for stack in stacks:
        await verify(stack)
    cells = {(s.name, key): (s.app, *req) for s in stacks for key, req in s.requests().items()}
    counts = {cell: await calibrate(*spec, args.seconds) for cell, spec in cells.items()}
    gc.collect()
    gc.freeze()
    samples: report.Samples = {s.name: {key: {} for key in REQUESTS} for s in stacks}
    steal = report.CpuSteal()
    for rnd in range(args.rounds):
        order = stacks[rnd % len(stacks) :] + stacks[: rnd % len(stacks)]
        for key in REQUESTS:
            gc.collect()
            for stack in order:
                app, make, body = cells[stack.name, key]
                samples[stack.name][key][rnd] = await run_n(
                    app, make, body, counts[stack.name, key]
                )
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr)
    for stack in stacks:
        await stack.lifespan.shutdown()
    return render(args, samples, steal.share())


def render(args: argparse.Namespace, samples: report.Samples, steal: str) -> str:
    names = list(samples)
    med = {(n, k): statistics.median(samples[n][k].values()) for n in names for k in REQUESTS}
    rows = ["| stack | " + " | ".join(REQUESTS.values()) + " |", "|---|" + "---:|" * 3]
    for n in names:
        rows.append(f"| {n} | " + " | ".join(f"{med[n, k]:,.0f}" for k in REQUESTS) + " |")
    peers = [n for n in names if n != "junco"]
    ratios = ""
    if "junco" in names and peers:
        cells = []
        for k in REQUESTS:
            best = max(peers, key=lambda n: med[n, k])
            r = report.paired_ratio(samples["junco"][k], samples[best][k])
            cells.append(f"{r:.2f}x {best}")
        ratios = "\n".join(
            [
                "",
                "**junco / the fastest peer** (median of the per-round ratios):",
                "",
                "| | " + " | ".join(REQUESTS.values()) + " |",
                "|---|" + "---:|" * 3,
                "| junco | " + " | ".join(cells) + " |",
            ]
        )
    spreads = [report.spread(v.values()) for s in samples.values() for v in s.values()]
    return "\n".join(
        [
            f"Command: `{report.command_line('secure_stack.py')}`",
            "",
            report.environment(
                [n for n in names if n in report.DISTRIBUTIONS],
                {
                    "samples": f"{args.rounds} rounds x ~{args.seconds:g} s per cell, CPU time; "
                    f"median spread (max-min)/median {statistics.median(spreads):.0%}",
                    "CPU steal": steal,
                },
            ),
            "",
            "**req/s per CPU second** (median over rounds; higher is better)",
            "",
            *rows,
            ratios,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.2, help="target length of a sample")
    parser.add_argument(
        "--stacks",
        type=lambda v: [s.strip() for s in v.split(",") if s.strip()],
        default=list(stack_apps.STACKS),
        help=",".join(stack_apps.STACKS),
    )
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    text = asyncio.run(main_async(args))
    print(text)
    if args.markdown:
        report.update_section(args.markdown, "secure-stack", text)


if __name__ == "__main__":
    main()
