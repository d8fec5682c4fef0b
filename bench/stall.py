#!/usr/bin/env python
"""Latency stalls under the full secure stack: one uvicorn worker, wrk at 256 connections.

Serves ``GET /`` (a small dict) from an app with ``secure_stack()`` (allowed hosts,
request id, security headers, CSP nonce, signed-cookie sessions, CSRF) through
``junco.server.run`` — what ``junco run`` starts — pinned to one CPU, and runs wrk
(``-t2 -c256 -d10s --latency``, pinned to the other) several times in a row. Each run
prints p99, max latency and wrk's timeouts (requests past its 2 s timeout).

    python bench/stall.py --runs 10
    python bench/stall.py --plain          # the same app without the stack
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from junco import Junco, Request
from junco.middleware.stack import secure_stack

HOST = "127.0.0.1"
BENCH = Path(__file__).resolve().parent
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}

app = Junco()
plain = Junco()
secure_stack(app, secret_key="bench-secret-key-of-enough-length", allowed_hosts=[HOST])


@app.get("/")
@plain.get("/")
async def index(request: Request) -> dict[str, object]:
    return {"hello": "world", "n": 1}


def ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse(out: str) -> tuple[float, float, int, int]:
    """p99 ms, max ms, timeouts, requests from wrk's output."""
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    latency = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", out, re.M)
    count = re.search(r"^\s*(\d+) requests in", out, re.M)
    errors = re.search(r"timeout (\d+)", out)
    if not (p99 and latency and count):
        raise ValueError(f"cannot parse wrk output:\n{out}")
    timeouts = int(errors.group(1)) if errors else 0
    return ms(*p99.groups()), ms(*latency.groups()), timeouts, int(count.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--plain", action="store_true", help="no secure_stack")
    parser.add_argument("--http", default="httptools", choices=["httptools", "h11"])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found")
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = int(s.getsockname()[1])
    target = "stall:plain" if args.plain else "stall:app"
    code = (
        f"import sys; sys.path.insert(0, {str(BENCH)!r}); from junco.server import run; "
        f"run({target!r}, port={port}, log_level='warning', access_log=False, http={args.http!r})"
    )
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() != 1 else []
    server = subprocess.Popen([*pin, sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    sys.exit("the server did not start")
                time.sleep(0.1)
        url = f"http://{HOST}:{port}/"
        wrk = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url]
        wrk_pin = ["taskset", "-c", "1"] if pin else []
        worst = 0.0
        stalls = 0
        print(f"{'stack' if not args.plain else 'plain'}, {args.http}, wrk -c{args.connections}")
        for run in range(1, args.runs + 1):
            out = subprocess.run([*wrk_pin, *wrk], capture_output=True, text=True).stdout
            p99, top, timeouts, count = parse(out)
            worst = max(worst, top)
            stalls += top >= 500 or timeouts > 0
            print(
                f"run {run:2}: {count / args.duration:8,.0f} req/s  p99 {p99:7.1f} ms  "
                f"max {top:7.1f} ms  timeouts {timeouts}"
            )
        print(f"worst max latency {worst:.1f} ms; runs with max >= 500 ms or timeouts: {stalls}")
        return 1 if stalls else 0
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    sys.exit(main())
