#!/usr/bin/env python
"""Validated JSON in and out, in-process: junco (msgspec), Litestar (msgspec), FastAPI (pydantic).

Each app has one route, ``POST /typed``, taking a JSON object with five typed fields
(str, float, int, bool, list[str]) as a validated model and returning it, serialised
from the model. A second, invalid body checks that each framework answers 4xx with its
own validation error. Same harness as ``bench/inprocess.py`` (one event loop, no
sockets, CPU-time clock, frameworks interleaved per round).

    python bench/typed.py
    python bench/typed.py --markdown docs/benchmarks.md
"""

import argparse
import asyncio
import dataclasses
import gc
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import inprocess
import msgspec
import pydantic
import report
from endpoints import Endpoint

BODY = b'{"name":"widget","price":9.99,"quantity":3,"in_stock":true,"tags":["a","b"]}'
BAD = b'{"name":"widget","price":"cheap","quantity":3,"in_stock":true,"tags":["a","b"]}'
ENDPOINT = Endpoint(
    "typed",
    "POST",
    "/typed",
    "application/json",
    json.loads(BODY),
    body=BODY,
    headers=(("content-type", "application/json"),),
)


class Item(msgspec.Struct):
    name: str
    price: float
    quantity: int
    in_stock: bool
    tags: list[str]


class PItem(pydantic.BaseModel):
    name: str
    price: float
    quantity: int
    in_stock: bool
    tags: list[str]


def junco_app() -> Any:
    from junco import Junco, Request

    app = Junco()

    @app.post("/typed")
    async def typed(request: Request, item: Item) -> Item:
        return item

    return app


def litestar_app() -> Any:
    from litestar import Litestar, post

    @post("/typed", status_code=200)
    async def typed(data: Item) -> Item:
        return data

    return Litestar([typed], openapi_config=None)


def fastapi_app() -> Any:
    from fastapi import FastAPI

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/typed")
    async def typed(item: PItem) -> PItem:
        return item

    return app


APPS = {"junco": junco_app, "litestar": litestar_app, "fastapi": fastapi_app}
VERSIONS = {"junco": "junco", "litestar": "litestar", "fastapi": "fastapi"}


def __getattr__(name: str) -> Any:
    """``typed:junco`` (and so on) for uvicorn in ``--loopback`` runs: built on import."""
    if name in APPS:
        return APPS[name]()
    raise AttributeError(name)


def run_loopback(args: argparse.Namespace) -> str:
    """uvicorn (pinned to CPU 0) + wrk (CPU 1) for each app, as ``bench/loopback.py`` does."""
    import time

    import loopback

    options = loopback.parse_args(["--duration", str(args.duration), "--rounds", "1"])
    loopback.resolve_options(options)
    rates: dict[str, list[float]] = {name: [] for name in args.frameworks}
    cpu: dict[str, list[float]] = {name: [] for name in args.frameworks}
    for name in args.frameworks:
        server = loopback.Server(options, f"typed:{name}")
        try:
            server.wait_ready(time.monotonic() + loopback.STARTUP_TIMEOUT)
            problem = loopback.fetch(server.port, ENDPOINT)
            if problem:
                raise RuntimeError(f"{name}: {problem}")
            loopback.run_wrk(options, server.port, ENDPOINT, options.warmup)
            for _ in range(args.rounds):
                before = server.cpu_seconds()
                result = loopback.run_wrk(options, server.port, ENDPOINT, args.duration)
                if result.non_2xx:
                    raise RuntimeError(f"{name}: {result.non_2xx} non-2xx responses")
                rates[name].append(result.rps)
                cpu[name].append((server.cpu_seconds() - before) / result.requests * 1e6)
        finally:
            server.close()
    rows = ["| framework | req/s (wrk, median) | server CPU µs/request |", "|---|---:|---:|"]
    for name in args.frameworks:
        rate, used = statistics.median(rates[name]), statistics.median(cpu[name])
        rows.append(f"| {name} | {rate:,.0f} | {used:.1f} |")
    return "\n".join(rows)


async def rejects_bad_body(app: Any) -> int:
    bad = dataclasses.replace(ENDPOINT, body=BAD)
    cell = inprocess.Cell(app, bad, inprocess.scope_factory(bad, {}))
    return (await inprocess.one(cell)).status


async def main_async(args: argparse.Namespace) -> int:
    cells: dict[str, inprocess.Cell] = {}
    for name in args.frameworks:
        app = APPS[name]()
        cell = inprocess.Cell(app, ENDPOINT, inprocess.scope_factory(ENDPOINT, {}))
        error = await inprocess.verify(cell)
        status = await rejects_bad_body(app)
        if error or not 400 <= status < 500:
            print(f"[fail] {name}: {error or f'invalid body answered {status}'}", file=sys.stderr)
            return 1
        await inprocess.calibrate(cell, args.seconds)
        cells[name] = cell
    gc.collect()
    gc.freeze()
    names = list(cells)
    for rnd in range(args.rounds):
        for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
            gc.collect()
            elapsed, bad = await inprocess.run_n(cells[name], cells[name].n)
            if bad:
                print(f"[fail] {name}: {bad} responses were not 200", file=sys.stderr)
                return 1
            cells[name].samples[rnd] = cells[name].n / elapsed
    text = render(cells)
    print(text)
    if args.markdown:
        bullets = [
            "- packages: "
            + ", ".join(f"{n} {report.version(VERSIONS[n])}" for n in names)
            + f", msgspec {report.version('msgspec')}, pydantic {report.version('pydantic')}",
            *report.environment([]).splitlines()[:4],
            f"- {args.rounds} rounds x ~{args.seconds:g} s per cell, CPU-time clock",
        ]
        body = "\n\n".join(
            [f"Command: `{report.command_line('typed.py')}`", "\n".join(bullets), text]
        )
        report.update_section(args.markdown, "typed", body)
    return 0


def render(cells: dict[str, inprocess.Cell]) -> str:
    rows = [
        "| framework | req/s (median) | µs/request | junco ÷ framework |",
        "|---|---:|---:|---:|",
    ]
    junco = cells.get("junco")
    for name, cell in cells.items():
        rate = statistics.median(cell.samples.values())
        ratio = report.paired_ratio(junco.samples, cell.samples) if junco else None
        rows.append(
            f"| {name} | {rate:,.0f} | {1e6 / rate:.1f} | "
            + ("-" if ratio is None else f"{ratio:.2f}")
            + " |"
        )
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument(
        "--frameworks", type=lambda v: v.split(","), default=list(APPS), help=",".join(APPS)
    )
    parser.add_argument("--markdown", type=Path)
    parser.add_argument(
        "--loopback", action="store_true", help="over 127.0.0.1: uvicorn + wrk (needs wrk)"
    )
    parser.add_argument("--duration", type=int, default=3, help="wrk seconds per round")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not args.loopback:
        return asyncio.run(main_async(args))
    text = run_loopback(args)
    print(text)
    if args.markdown:
        body = f"Command: `{report.command_line('typed.py')}`\n\n{report.environment([])}\n\n{text}"
        report.update_section(args.markdown, "typed-loopback", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
