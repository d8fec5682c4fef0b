#!/usr/bin/env python
"""Instructions per request of ``bench/stack_overhead.py``'s apps, counted by callgrind.

Timings on a shared machine move with the neighbours; instruction counts do not. For
each app this runs ``valgrind --tool=callgrind`` twice over the same process (one
with ``--requests`` more requests than the other) and divides the difference, so
start-up, imports and the warm-up cancel out.

    python bench/stack_instructions.py --requests 2000
    python bench/stack_instructions.py --drive "stack me" 2000   # (what valgrind runs)
"""

import argparse
import asyncio
import re
import subprocess
import sys
from pathlib import Path

import stack_overhead

KINDS = ["plain", "mw", "stack first", "stack me", "stack post"]


async def drive(kind: str, n: int) -> None:
    client = (await stack_overhead.clients())[kind]
    await client.run(200)  # warm-up, in both runs
    if n:
        await client.run(n)


def instructions(kind: str, n: int) -> int:
    tool = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    out = subprocess.run(
        [*tool, sys.executable, str(Path(__file__)), "--drive", kind, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{out.stderr}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--drive", nargs=2, metavar=("KIND", "N"))
    args = parser.parse_args()
    if args.drive:
        asyncio.run(drive(args.drive[0], int(args.drive[1])))
        return
    print("| app | instructions per request | vs plain |")
    print("|---|---:|---:|")
    plain = 0.0
    for kind in KINDS:
        per = (instructions(kind, args.requests) - instructions(kind, 0)) / args.requests
        plain = plain or per
        print(f"| {kind} | {per:,.0f} | {per / plain:.2f}x |")


if __name__ == "__main__":
    main()
