"""Measurements inside the server of ``bench/stall.py --probe`` (imported by the worker).

Records, per wrk run (SIGUSR1 dumps one JSON line to ``$STALL_PROBE_OUT`` and resets):

- garbage-collector pauses per generation (``gc.callbacks``);
- server residence: from the first bytes of a request head reaching the protocol
  to the response's completion (``on_response_complete``);
- event-loop lag: how late a 5 ms ticker on the loop wakes;
- connections opened, and the process's CPU time and involuntary context switches.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import signal
import socket
import struct
import time
from typing import Any

from junco.server.protocols import HttpToolsProtocol as _Bounded

OUT = os.environ.get("STALL_PROBE_OUT", "/dev/null")
_clock = time.perf_counter


class _Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.gc: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.residence: list[float] = []
        self.queued: list[float] = []
        self.lag = 0.0
        self.lag_cpu = 0.0
        self.gc_cpu = {0: 0.0, 1: 0.0, 2: 0.0}
        self.connections = 0
        self.ru = resource.getrusage(resource.RUSAGE_SELF)

    def dump(self) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        res = sorted(self.residence)
        row: dict[str, Any] = {
            "requests": len(res),
            "residence_p99_ms": 1e3 * res[int(0.99 * (len(res) - 1))] if res else 0,
            "residence_max_ms": 1e3 * res[-1] if res else 0,
            "lag_max_ms": 1e3 * self.lag,
            "lag_cpu_ms": 1e3 * self.lag_cpu,
            "gc2_cpu_max_ms": 1e3 * self.gc_cpu[2],
            "queued_p99_ms": _p99(self.queued),
            "queued_max_ms": max(self.queued, default=0),
            "connections": self.connections,
            "cpu_s": ru.ru_utime + ru.ru_stime - self.ru.ru_utime - self.ru.ru_stime,
            "nivcsw": ru.ru_nivcsw - self.ru.ru_nivcsw,
            "objects": len(gc.get_objects()),
            "objects_after_collect": (gc.collect(), len(gc.get_objects()))[1],
        }
        for gen, pauses in self.gc.items():
            row[f"gc{gen}_n"] = len(pauses)
            row[f"gc{gen}_max_ms"] = 1e3 * max(pauses, default=0)
            row[f"gc{gen}_total_ms"] = 1e3 * sum(pauses)
        with open(OUT, "a") as f:
            f.write(json.dumps(row) + "\n")
        self.reset()


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[int(0.99 * (len(values) - 1))] if values else 0


STATS = _Stats()
_gc_start = [0.0, 0.0]
_cpu = time.process_time


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_start[:] = _clock(), _cpu()
    else:
        gen = info["generation"]
        STATS.gc[gen].append(_clock() - _gc_start[0])
        STATS.gc_cpu[gen] = max(STATS.gc_cpu[gen], _cpu() - _gc_start[1])


gc.callbacks.append(_on_gc)
_started = [False]


async def _ticker() -> None:
    step = 0.005
    while True:
        t, cpu = _clock(), _cpu()
        await asyncio.sleep(step)
        lag = _clock() - t - step
        if lag > STATS.lag:
            # CPU the process used meanwhile: near the lag if the loop was busy,
            # near zero if the process waited for a CPU.
            STATS.lag, STATS.lag_cpu = lag, _cpu() - cpu


def _start(loop: asyncio.AbstractEventLoop) -> None:
    _started[0] = True
    if os.environ.get("STALL_FREEZE"):
        gc.collect()
        gc.freeze()
    loop.add_signal_handler(signal.SIGUSR1, STATS.dump)
    _tasks.append(loop.create_task(_ticker()))


_tasks: list[asyncio.Task[None]] = []


class Probe(_Bounded):  # type: ignore[misc, valid-type]
    _t0: float | None = None

    def connection_made(self, transport: Any) -> None:
        if not _started[0]:
            _start(self.loop)
        STATS.connections += 1
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._t0 is None:
            self._t0 = _clock()
            # How long the bytes waited in the kernel before this read
            # (tcp_info.tcpi_last_data_recv, milliseconds).
            sock = self.transport.get_extra_info("socket")
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            STATS.queued.append(float(struct.unpack_from("I", info, 52)[0]))
        super().data_received(data)

    def on_response_complete(self) -> None:
        if self._t0 is not None:
            STATS.residence.append(_clock() - self._t0)
            self._t0 = None
        super().on_response_complete()
