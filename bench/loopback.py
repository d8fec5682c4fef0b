#!/usr/bin/env python
"""Loopback HTTP benchmark: uvicorn (1 worker, pinned to one CPU) + wrk (pinned to another).

Every framework gets its own uvicorn process on 127.0.0.1 (two with middleware cells: ``app``
and ``app_mw``), all started up front and idle while another is measured. Each response is
checked once and each cell warmed up, then every round runs wrk once per endpoint and
framework, frameworks adjacent in time and their order rotated each round. Cells report the
median req/s and median p99 latency over the rounds.

    python bench/loopback.py --rounds 2 --duration 3
    python bench/loopback.py --frameworks junco,starlette --endpoints text,json

``--runner junco`` serves each app through ``junco.server.run`` instead (what ``junco
run`` configures, access log off), with ``--server uvicorn`` (``--http httptools`` or
``h11``) or ``--server granian``: the server comparison in docs/deployment.md.
"""

import argparse
import contextlib
import http.client
import importlib.util
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import apps
import report
from endpoints import ECHO_BODY, ENDPOINTS, Endpoint, check
from inprocess import csv

HOST = "127.0.0.1"
LUA = report.BENCH_DIR / "echo.lua"
STARTUP_TIMEOUT = 60.0
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


@dataclass
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    non_2xx: int = 0
    socket_errors: int = 0


@dataclass
class Cell:
    server: "Server | None" = None
    rps: dict[int, float] = field(default_factory=dict)  # round -> value
    p99: dict[int, float] = field(default_factory=dict)
    cpu_us: dict[int, float] = field(default_factory=dict)  # server CPU time per request
    errors: list[str] = field(default_factory=list)
    failed: str | None = None


def parse_wrk(out: str) -> WrkResult:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p99 = re.search(r"^\s+99(?:\.000)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", out, re.M)
    count = re.search(r"^\s*(\d+) requests in", out, re.M)
    if not rps or not p99 or not count:
        raise ValueError(f"cannot parse wrk output:\n{out}")
    p99_ms = float(p99.group(1)) * _UNITS_MS[p99.group(2)]
    result = WrkResult(float(rps.group(1)), p99_ms, int(count.group(1)))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        result.non_2xx = int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result.socket_errors = sum(int(g) for g in m.groups())
    return result


def pinned(cpu: int | None, cmd: list[str]) -> list[str]:
    return cmd if cpu is None else ["taskset", "-c", str(cpu), *cmd]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def junco_command(args: argparse.Namespace, target: str, port: int) -> list[str]:
    """Serve ``target`` the way ``junco run`` does (``junco.server.run``), quietly."""
    options: dict[str, object] = {"server": "granian"}
    if args.server != "granian":
        options = {"log_level": "warning", "access_log": False, "loop": args.loop}
        options["http"] = args.http
    code = (
        f"import sys; sys.path.insert(0, {str(report.BENCH_DIR)!r}); "
        f"from junco.server import run; run({target!r}, port={port}, **{options!r})"
    )
    return [sys.executable, "-c", code]


class Server:
    """One server process (uvicorn, or ``junco.server.run``) serving ``target`` on 127.0.0.1."""

    def __init__(self, args: argparse.Namespace, target: str) -> None:
        self.target = target
        self.port = free_port()
        if args.runner == "junco":
            cmd = junco_command(args, target, self.port)
        else:
            cmd = [sys.executable, "-m", "uvicorn", target, "--app-dir", str(report.BENCH_DIR)]
            cmd += ["--host", HOST, "--port", str(self.port), "--no-access-log"]
            cmd += ["--log-level", "warning", "--loop", args.loop, "--http", args.http]
        # Owned by this object for the server's lifetime; closed in close().
        self.log: IO[str] = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            pinned(args.server_cpu, cmd),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=report.REPO_DIR,
        )

    def wait_ready(self, deadline: float) -> None:
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                tail = self.log.read()[-1500:]
                raise RuntimeError(f"uvicorn {self.target} exited {self.proc.returncode}: {tail}")
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn {self.target} did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process and its workers have used so far."""
        ticks, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue  # a process that just ended
        return ticks / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def fetch(port: int, ep: Endpoint) -> str | None:
    """One real HTTP request; returns why the response is wrong, or None."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request(ep.method, ep.path, body=ep.body or None, headers=dict(ep.headers))
        resp = conn.getresponse()
        return check(ep, resp.status, resp.getheaders(), resp.read())
    except (OSError, http.client.HTTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def run_wrk(args: argparse.Namespace, port: int, ep: Endpoint, seconds: int) -> WrkResult:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    for name, value in ep.headers:
        cmd += ["-H", f"{name}: {value}"]
    if ep.method == "POST":
        cmd += ["-s", str(LUA)]
    cmd.append(f"http://{HOST}:{port}{ep.path}")
    env = {**os.environ, "WRK_BODY": (ep.body or ECHO_BODY).decode()}
    out = subprocess.run(
        pinned(args.wrk_cpu, cmd), capture_output=True, text=True, env=env, timeout=seconds + 60
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk exited {out.returncode}: {out.stderr or out.stdout}")
    return parse_wrk(out.stdout)


def measure(args: argparse.Namespace, rnd: int, fw: str, ep: Endpoint, cell: Cell) -> None:
    assert cell.server is not None
    try:
        cpu_before = cell.server.cpu_seconds()
        result = run_wrk(args, cell.server.port, ep, args.duration)
        cpu = cell.server.cpu_seconds() - cpu_before
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        cell.failed = str(exc)[:300]
    else:
        if result.non_2xx:
            cell.failed = f"{result.non_2xx} non-2xx responses"
        else:
            if result.socket_errors:
                cell.errors.append(f"round {rnd + 1}: {result.socket_errors} socket errors")
            cell.rps[rnd] = result.rps
            cell.p99[rnd] = result.p99_ms
            if result.requests:
                cell.cpu_us[rnd] = cpu / result.requests * 1e6
            line = f"{result.rps:>10,.0f} req/s  p99 {result.p99_ms:7.2f} ms  CPU {cpu:5.2f} s"
            print(f"  {fw:<11} {ep.label:<15} {line}", file=sys.stderr)
            return
    print(f"[warn] {fw} {ep.label}: {cell.failed}", file=sys.stderr)


def start_servers(
    args: argparse.Namespace,
    stack: contextlib.ExitStack,
    live: list[str],
    endpoints: list[Endpoint],
    cells: dict[tuple[str, str], Cell],
) -> None:
    """Start every server, then check each cell's response once and warm it up."""
    servers: dict[tuple[str, bool], Server] = {}
    for fw in live:
        for mw in sorted({ep.middleware for ep in endpoints}):
            server = Server(args, apps.import_string(fw, "app_mw" if mw else "app"))
            stack.callback(server.close)
            servers[fw, mw] = server
    deadline = time.monotonic() + STARTUP_TIMEOUT
    for fw in live:
        for ep in endpoints:
            cell, server = cells[fw, ep.key], servers[fw, ep.middleware]
            try:
                server.wait_ready(deadline)
            except RuntimeError as exc:
                cell.failed = str(exc)
            else:
                cell.server = server
                cell.failed = fetch(server.port, ep)
                if cell.failed is None and args.warmup:
                    run_wrk(args, server.port, ep, args.warmup)
            if cell.failed:
                print(f"[warn] {fw} {ep.label}: {cell.failed}", file=sys.stderr)


def resolve_options(args: argparse.Namespace) -> None:
    if args.loop == "auto":
        args.loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    if args.http == "auto":
        args.http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if args.no_pin or not shutil.which("taskset") or len(cpus) < 2:
        if not args.no_pin:
            print("[warn] not pinning: needs taskset and 2 CPUs", file=sys.stderr)
        args.server_cpu = args.wrk_cpu = None
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0] if text else "wrk ?"


def main() -> int:
    args = parse_args()
    resolve_options(args)
    endpoints = [ENDPOINTS[k] for k in args.endpoints]
    notes: dict[str, str] = {}
    for fw in args.frameworks:
        try:
            apps.load(fw)
        except Exception as exc:
            notes[fw] = f"import failed: {type(exc).__name__}: {exc}"
            print(f"[skip] {fw}: {notes[fw]}", file=sys.stderr)
    live = [fw for fw in args.frameworks if fw not in notes]
    cells = {(fw, ep.key): Cell() for fw in live for ep in endpoints}
    per_cell = args.warmup + args.rounds * args.duration + 0.2 * (args.rounds + 1)
    print(f"estimated runtime: ~{math.ceil(len(cells) * per_cell / 60)} min", file=sys.stderr)

    with contextlib.ExitStack() as stack:
        start_servers(args, stack, live, endpoints, cells)
        steal = report.CpuSteal()
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}", file=sys.stderr)
            shift = rnd % len(live) if live else 0
            for ep in endpoints:
                for fw in live[shift:] + live[:shift]:
                    if cells[fw, ep.key].failed is None:
                        measure(args, rnd, fw, ep, cells[fw, ep.key])
        cpu_steal = steal.share()

    columns = {ep.key: ep.label for ep in endpoints}
    ok = {(fw, k): c for (fw, k), c in cells.items() if not c.failed}
    rps: report.Samples = {fw: {k: c.rps for (f, k), c in ok.items() if f == fw} for fw in live}
    p99: report.Samples = {fw: {k: c.p99 for (f, k), c in ok.items() if f == fw} for fw in live}
    cpu: report.Samples = {
        fw: {
            k: {r: 1e6 / us for r, us in c.cpu_us.items() if us}
            for (f, k), c in ok.items()
            if f == fw
        }
        for fw in live
    }
    tables = "\n\n".join(
        [
            "#### Per wall-clock second (wrk)",
            report.rate_tables(rps, args.frameworks, columns, notes),
            "**p99 latency, ms** (median over rounds; lower is better)",
            report.value_table(p99, args.frameworks, columns, notes, fmt=".2f"),
            "#### Per server CPU-second\n\nRequests completed / (user + system CPU time "
            "of the uvicorn process during the wrk run): throughput with the time the server "
            "spent waiting for a CPU taken out.",
            report.rate_tables(cpu, args.frameworks, columns, notes, unit="req/CPU-s"),
        ]
    )
    problems = [f"- {fw} `{k}`: {c.failed}" for (fw, k), c in cells.items() if c.failed]
    problems += [f"- {fw} `{k}`: {'; '.join(c.errors)}" for (fw, k), c in cells.items() if c.errors]
    pinning = (
        f"server on CPU {args.server_cpu}, wrk on CPU {args.wrk_cpu} (taskset)"
        if args.server_cpu is not None
        else "none"
    )
    extra = {
        "server": server_description(args),
        "load": f"{wrk_version()}; -t{args.threads} -c{args.connections} -d{args.duration}s "
        f"--latency, {args.warmup} s warm-up per cell",
        "pinning": pinning,
        "samples": f"{args.rounds} rounds, framework order rotated each round",
        "CPU steal": cpu_steal,
    }
    print(tables)
    print(f"CPU steal during the timed rounds: {cpu_steal}")
    if args.markdown:
        body = "\n\n".join(
            [
                f"Command: `{report.command_line('loopback.py')}`",
                report.environment(args.frameworks, extra),
                tables,
                "\n".join(["Problems:", *problems]) if problems else "",
            ]
        )
        report.update_section(args.markdown, "loopback", body)
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


def server_description(args: argparse.Namespace) -> str:
    if args.runner == "junco" and args.server == "granian":
        return "granian through junco.server.run, 1 worker"
    where = "through junco.server.run, " if args.runner == "junco" else ""
    return f"uvicorn {where}1 worker, --loop {args.loop} --http {args.http}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    fws, eps = list(apps.FRAMEWORKS), list(ENDPOINTS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="samples per cell (default 3)")
    parser.add_argument("--duration", type=int, default=5, help="wrk seconds per cell (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="wrk warm-up seconds (default 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk -t (default 1)")
    parser.add_argument("--frameworks", type=csv(fws), default=fws, help=",".join(fws))
    parser.add_argument("--endpoints", type=csv(eps), default=eps, help=",".join(eps))
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto")
    parser.add_argument(
        "--runner", choices=["uvicorn", "junco"], default="uvicorn",
        help="start servers with uvicorn's command (default) or junco.server.run",
    )  # fmt: skip
    parser.add_argument(
        "--server", choices=["uvicorn", "granian"], default="uvicorn",
        help="with --runner junco: the server junco starts",
    )  # fmt: skip
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for uvicorn (default 0)")
    parser.add_argument("--wrk-cpu", type=int, default=1, help="CPU for wrk (default 1)")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--markdown", type=Path, help="update the results section of this file")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
