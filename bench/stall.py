#!/usr/bin/env python
"""Latency stalls under the full secure stack: one uvicorn worker, wrk at 256 connections.

Serves ``GET /`` (a small dict) from an app with ``secure_stack()`` (allowed hosts,
request id, security headers, CSP nonce, signed-cookie sessions, CSRF) through
``junco.server.run`` — what ``junco run`` starts — pinned to one CPU, and runs wrk
(``-t2 -c256 -d10s --latency``, pinned to the other) several times in a row. Each run
prints p99, max latency and wrk's timeouts (requests past its 2 s timeout).

    python bench/stall.py --runs 10
    python bench/stall.py --plain          # the same app without the stack
    python bench/stall.py --both           # stack and plain runs interleaved
    python bench/stall.py --both --probe   # plus measurements inside the server

``--probe`` serves through ``bench/stall_probe.py``'s protocol and reports, per run,
the garbage-collector pauses, the server residence time of requests (head bytes in
to response complete), the event loop's lag, and the server's and wrk's involuntary
context switches (time they were ready to run but another task held the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from junco import Junco, Request
from junco.security.stack import secure_stack

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_busy() -> list[tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat."""
    rows = []
    with open("/proc/stat") as f:
        for line in f:
            if re.match(r"cpu\d", line):
                ticks = [int(v) for v in line.split()[1:]]
                idle = ticks[3] + ticks[4]
                rows.append((sum(ticks) - idle, sum(ticks)))
    return rows


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    probe: Path | None

    def probe_row(self) -> dict[str, float]:
        """Ask the probe for this run's numbers (and reset them)."""
        if self.probe is None:
            return {}
        size = self.probe.stat().st_size
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while self.probe.stat().st_size == size and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = self.probe.read_text().splitlines()
        return json.loads(lines[-1]) if lines else {}


def start(
    name: str, target: str, args: argparse.Namespace, pin: list[str], probe_dir: Path | None
) -> Server:
    port = free_port()
    probe = None
    env = dict(os.environ)
    protocol = repr(args.http)
    prelude = f"import sys; sys.path.insert(0, {str(BENCH)!r}); "
    if probe_dir is not None:
        probe = probe_dir / f"{name}.jsonl"
        probe.touch()
        env["STALL_PROBE_OUT"] = str(probe)
        protocol = "'stall_probe:Probe'"
        prelude += "import stall_probe; "
    code = (
        f"{prelude}from junco.server import run; "
        f"run({target!r}, port={port}, log_level='warning', access_log=False, http={protocol}, "
        f"loop={args.loop!r})"
    )
    process = subprocess.Popen([*pin, sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                sys.exit(f"the {name} server did not start")
            time.sleep(0.1)
    return Server(name, process, port, probe)


def wrk_run(cmd: list[str]) -> tuple[str, float, int]:
    """wrk's output, its CPU seconds and involuntary context switches."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return out, usage.ru_utime + usage.ru_stime, usage.ru_nivcsw


def probe_report(
    row: dict[str, float],
    before: list[tuple[int, int]],
    after: list[tuple[int, int]],
    wrk_cpu: float,
    wrk_ivcsw: int,
) -> str:
    """The probe's numbers for one run, and how busy each CPU was."""
    busy = [100 * (a[0] - b[0]) / max(1, a[1] - b[1]) for a, b in zip(after, before, strict=True)]
    gc_total = sum(row.get(f"gc{gen}_total_ms", 0) for gen in range(3))
    return (
        f" | server: kernel queue p99 {row.get('queued_p99_ms', 0):6.1f} "
        f"max {row.get('queued_max_ms', 0):6.1f} ms, "
        f"residence p99 {row.get('residence_p99_ms', 0):6.1f} "
        f"max {row.get('residence_max_ms', 0):6.1f} ms, "
        f"loop lag max {row.get('lag_max_ms', 0):6.1f} ms (cpu {row.get('lag_cpu_ms', 0):5.1f}), "
        f"gc2 {row.get('gc2_n', 0)}x max {row.get('gc2_max_ms', 0):5.1f} ms "
        f"(cpu {row.get('gc2_cpu_max_ms', 0):5.1f}), gc total {gc_total:6.1f} ms, "
        f"cpu {row.get('cpu_s', 0):4.1f} s, ivcsw {row.get('nivcsw', 0)}, "
        f"conns {row.get('connections', 0)}, objects {row.get('objects', 0)} "
        f"({row.get('objects_after_collect', 0)} after a collection)"
        f" | wrk cpu {wrk_cpu:4.1f} s ivcsw {wrk_ivcsw}"
        f" | CPUs busy {' '.join(f'{b:3.0f}%' for b in busy)}"
    )


def measure(server: Server, args: argparse.Namespace, wrk_pin: list[str], run: int) -> bool:
    """One wrk run against ``server``; prints a line, returns True if it stalled."""
    url = f"http://{HOST}:{server.port}/"
    wrk = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency", url]
    before = cpu_busy()
    out, wrk_cpu, wrk_ivcsw = wrk_run([*wrk_pin, *wrk])
    after = cpu_busy()
    p99, top, timeouts, count = parse(out)
    line = (
        f"{server.name:5} run {run:2}: {count / args.duration:8,.0f} req/s  p99 {p99:7.1f} ms  "
        f"max {top:7.1f} ms  timeouts {timeouts}"
    )
    if args.probe:
        line += probe_report(server.probe_row(), before, after, wrk_cpu, wrk_ivcsw)
    print(line, flush=True)
    return top >= 500 or timeouts > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=256)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--plain", action="store_true", help="no secure_stack")
    group.add_argument("--both", action="store_true", help="stack and plain, interleaved")
    parser.add_argument("--probe", action="store_true", help="measure inside the server")
    parser.add_argument("--http", default="httptools", choices=["httptools", "h11"])
    parser.add_argument("--loop", default="auto", help="uvicorn's loop setting (default auto)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found")
    if args.probe and args.http != "httptools":
        sys.exit("--probe measures the httptools protocol")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() != 1 else []
    wrk_pin = ["taskset", "-c", "1"] if pin else []
    names = [("stack", "stall:app"), ("plain", "stall:plain")]
    if not args.both:
        names = [names[1]] if args.plain else [names[0]]
    servers: list[Server] = []
    with tempfile.TemporaryDirectory() as tmp:
        probe_dir = Path(tmp) if args.probe else None
        try:
            for name, target in names:
                servers.append(start(name, target, args, pin, probe_dir))
            print(f"{' and '.join(s.name for s in servers)}, {args.http}, wrk -c{args.connections}")
            stalls = {s.name: 0 for s in servers}
            for run in range(1, args.runs + 1):
                # Alternate which goes first, so neither always follows the other.
                for server in servers if run % 2 else servers[::-1]:
                    stalls[server.name] += measure(server, args, wrk_pin, run)
            for server in servers:
                print(f"{server.name}: runs with max >= 500 ms or timeouts: {stalls[server.name]}")
            return 1 if any(stalls.values()) else 0
        finally:
            for server in servers:
                server.process.terminate()
            for server in servers:
                server.process.wait(15)


if __name__ == "__main__":
    sys.exit(main())
