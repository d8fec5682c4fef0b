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
            "**req/s per CPU second** (median over rounds; higher is better; the last row is"
            " the median of junco's per-round ratios to the fastest peer)",
            "",
            table(samples),
        ]
    )


# -- over loopback: uvicorn on one CPU, wrk on the other --------------------------------

WRK_SCRIPT = """
wrk.method = os.getenv("WRK_METHOD")
wrk.body = os.getenv("WRK_BODY")
for line in string.gmatch(os.getenv("WRK_HEADERS"), "[^\\n]+") do
  local name, value = string.match(line, "^([^:]+): (.*)$")
  wrk.headers[name] = value
end
"""


def loopback(args: argparse.Namespace) -> str:
    """The three requests against each stack served by uvicorn, measured with wrk."""
    import os
    import tempfile
    import urllib.request

    import loopback as lb

    lb.resolve_options(args)
    script = Path(tempfile.mkdtemp()) / "stack.lua"
    script.write_text(WRK_SCRIPT)
    rates: report.Samples = {name: {key: {} for key in REQUESTS} for name in args.stacks}
    cpu: report.Samples = {name: {key: {} for key in REQUESTS} for name in args.stacks}
    servers: dict[str, Any] = {}
    try:
        for name in args.stacks:
            port = lb.free_port()
            os.environ["BENCH_STACK_HOST"] = f"{lb.HOST}:{port}"
            server = servers[name] = lb.Server.__new__(lb.Server)
            server.target, server.port = f"stack_apps.{stack_apps.STACKS[name]}:app", port
            command = [sys.executable, "-m", "uvicorn", server.target, "--app-dir", "bench"]
            command += ["--host", lb.HOST, "--port", str(port), "--no-access-log"]
            command += ["--log-level", "warning", "--loop", args.loop, "--http", args.http]
            server.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by close()
            server.proc = lb.subprocess.Popen(
                lb.pinned(args.server_cpu, command),
                stdout=server.log,
                stderr=lb.subprocess.STDOUT,
                cwd=report.REPO_DIR,
            )
        deadline = time.monotonic() + lb.STARTUP_TIMEOUT
        requests: dict[str, dict[str, tuple[str, str, list[tuple[str, str]], bytes]]] = {}
        for name, server in servers.items():
            server.wait_ready(deadline)
            base = f"http://{lb.HOST}:{server.port}"
            with urllib.request.urlopen(base + "/login", timeout=10) as resp:
                cookies = [v.split(";")[0] for k, v in resp.getheaders() if k == "set-cookie"]
                token = json.loads(resp.read())["token"]
            cookie = "; ".join(cookies)
            if token is None:
                token = dict(c.split("=", 1) for c in cookies)["csrftoken"]
            own = f"http://{lb.HOST}:{server.port}"
            header = stack_apps.load(name).TOKEN_HEADER
            requests[name] = {
                "first": ("GET", "/", [], b""),
                "me": ("GET", "/me", [("Cookie", cookie), ("Origin", ORIGIN)], b""),
                "post": (
                    "POST",
                    "/items",
                    [
                        ("Cookie", cookie),
                        ("Origin", own),
                        ("Sec-Fetch-Site", "same-origin"),
                        ("Content-Type", "application/json"),
                        (header, token),
                    ],
                    BODY,
                ),
            }
            for key, (method, path, headers, body) in requests[name].items():
                req = urllib.request.Request(
                    base + path, data=body or None, method=method, headers=dict(headers)
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    if resp.status != 200 or (key != "first" and USER.encode() not in resp.read()):
                        raise SystemExit(f"{name} {REQUESTS[key]}: answered {resp.status}")
                run_wrk(args, script, server.port, requests[name][key], args.warmup)
        for rnd in range(args.rounds):
            order = args.stacks[rnd % len(args.stacks) :] + args.stacks[: rnd % len(args.stacks)]
            for key in REQUESTS:
                for name in order:
                    server = servers[name]
                    before = server.cpu_seconds()
                    result = run_wrk(args, script, server.port, requests[name][key], args.duration)
                    used = server.cpu_seconds() - before
                    if result.non_2xx:
                        raise SystemExit(f"{name} {REQUESTS[key]}: {result.non_2xx} non-2xx")
                    rates[name][key][rnd] = result.rps
                    cpu[name][key][rnd] = result.requests / used if used else 0.0
                    print(f"  {name:<11} {key:<6} {result.rps:>9,.0f} req/s", file=sys.stderr)
    finally:
        for server in servers.values():
            server.close()
    return render_loopback(args, rates, cpu)


def run_wrk(
    args: argparse.Namespace,
    script: Path,
    port: int,
    request: tuple[str, str, list[tuple[str, str]], bytes],
    seconds: int,
) -> Any:
    import os
    import subprocess

    import loopback as lb

    method, path, headers, body = request
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    env = {
        **os.environ,
        "WRK_METHOD": method,
        "WRK_BODY": body.decode(),
        "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers),
    }
    url = f"http://{lb.HOST}:{port}{path}"
    out = subprocess.run(
        lb.pinned(args.wrk_cpu, [*cmd, url]),
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
        check=True,
    )
    return lb.parse_wrk(out.stdout)


def render_loopback(args: argparse.Namespace, rates: report.Samples, cpu: report.Samples) -> str:
    parts = [
        f"Command: `{report.command_line('secure_stack.py')}`",
        "",
        report.environment(
            [n for n in rates if n in report.DISTRIBUTIONS],
            {
                "server": f"uvicorn, 1 worker, --loop {args.loop} --http {args.http}, "
                f"CPU {args.server_cpu}; wrk -t1 -c{args.connections} on CPU {args.wrk_cpu}",
                "samples": f"{args.rounds} rounds x {args.duration} s per cell",
            },
        ),
    ]
    for title, samples in (
        ("req/s (wrk, wall clock)", rates),
        ("requests per server CPU-second", cpu),
    ):
        parts += ["", f"**{title}** (median over rounds; higher is better)", "", table(samples)]
    return "\n".join(parts)


def table(samples: report.Samples) -> str:
    names = list(samples)
    med = {(n, k): statistics.median(samples[n][k].values()) for n in names for k in REQUESTS}
    rows = ["| stack | " + " | ".join(REQUESTS.values()) + " |", "|---|" + "---:|" * 3]
    for n in names:
        rows.append(f"| {n} | " + " | ".join(f"{med[n, k]:,.0f}" for k in REQUESTS) + " |")
    peers = [n for n in names if n != "junco"]
    if "junco" in names and peers:
        cells = []
        for k in REQUESTS:
            best = max(peers, key=lambda n: med[n, k])
            r = report.paired_ratio(samples["junco"][k], samples[best][k])
            cells.append(f"{r:.2f}x {best}")
        rows.append("| junco / fastest peer | " + " | ".join(cells) + " |")
    return "\n".join(rows)


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
    parser.add_argument(
        "--loopback", action="store_true", help="serve with uvicorn and load with wrk instead"
    )
    parser.add_argument("--duration", type=int, default=3, help="wrk seconds per cell")
    parser.add_argument("--warmup", type=int, default=1, help="wrk warm-up seconds")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c")
    parser.add_argument("--loop", default="auto", help="uvicorn --loop")
    parser.add_argument("--http", default="auto", help="uvicorn --http")
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    text = loopback(args) if args.loopback else asyncio.run(main_async(args))
    print(text)
    if args.markdown:
        section = "secure-stack-loopback" if args.loopback else "secure-stack"
        report.update_section(args.markdown, section, text)


if __name__ == "__main__":
    main()
