"""Two server processes standing for two machines, one real Redis between them.

Each "machine" is ``python -m junco run tests.e2e.scaleout_app:app`` on its own
port. Logins, the rate limit and pub/sub (SSE and WebSocket) must work across
them, and pub/sub must recover when Redis restarts. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests.e2e.scaleout_app:app"
WAIT = 60.0  # seconds: the bound of any single wait (generous: a busy machine)
ALICE = {"username": "alice", "password": "alice's password"}
T = TypeVar("T")


@dataclass
class Machine:
    """One ``junco run`` process."""

    name: str
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://", 1)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start(name: str, redis_url: str, logs: Path) -> Machine:
    """Start the app on a free port (it may not answer yet)."""
    port = free_port()
    log = logs / f"{name}-{port}.log"
    command = [sys.executable, "-m", "junco", "run", TARGET, "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    env = {**os.environ, "JUNCO_REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Machine(name, process, f"http://127.0.0.1:{port}", log)


def wait_until_up(machine: Machine) -> None:
    """Poll until the machine answers HTTP; fail with its log if it dies or takes too long."""
    deadline = time.monotonic() + WAIT
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if machine.process.poll() is not None:
                pytest.fail(f"{machine.name} exited:\n{machine.output()}")
            with contextlib.suppress(httpx.TransportError):
                client.get(machine.base + "/me")  # 401 is an answer
                return
            time.sleep(0.1)
    pytest.fail(f"{machine.name} did not answer within {WAIT} s:\n{machine.output()}")


def stop(machine: Machine) -> None:
    """SIGTERM (graceful), then SIGKILL if it has not exited in time."""
    process = machine.process
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(WAIT / 2)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: only what we started
        process.wait(WAIT / 2)


@pytest.fixture(scope="module")
def machines(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Machine, Machine]]:
    """Machines A and B, both on the shared redis-server, for the whole module."""
    if not redis_server.running:  # an earlier test stopped it
        redis_server.start()
    logs = tmp_path_factory.mktemp("scaleout")
    started: list[Machine] = []
    try:
        for name in ("A", "B"):
            started.append(start(name, redis_server.url, logs))
        for machine in started:
            wait_until_up(machine)
        yield started[0], started[1]
    finally:
        for machine in started:
            stop(machine)


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 4 * WAIT)

    return asyncio.run(bounded())


# -- sessions and logins ------------------------------------------------------------------


def test_a_login_made_on_a_is_valid_on_b(
    redis_db: str, redis_server: RedisServer, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines
    with httpx.Client(timeout=WAIT) as browser, httpx.Client(timeout=WAIT) as stranger:
        assert browser.get(b.base + "/me").status_code == 401
        wrong = browser.post(a.base + "/login", data={**ALICE, "password": "guess"})
        assert wrong.status_code == 401
        assert "session" not in browser.cookies

        r = browser.post(a.base + "/login", data=ALICE)
        assert r.status_code == 302, r.text
        assert redis_server.dbsize() == 1  # the session lives in Redis, not in the cookie
        me = browser.get(b.base + "/me")
        assert (me.status_code, me.text) == (200, "alice")
        assert browser.get(a.base + "/me").text == "alice"
        assert stranger.get(b.base + "/me").status_code == 401  # the cookie is what counts

        # The other way round, with a JSON body: bob logs in on B, A knows him.
        r = stranger.post(b.base + "/login", json={"username": "bob", "password": "bob's password"})
        assert r.status_code == 302, r.text
        assert stranger.get(a.base + "/me").text == "bob"
        assert redis_server.dbsize() == 2
        assert browser.get(a.base + "/me").text == "alice"


# -- rate limits ---------------------------------------------------------------------------


def test_the_rate_limit_is_shared_by_both_machines(
    redis_db: str, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines
    with httpx.Client(timeout=WAIT) as client:
        answers = [
            client.post(m.base + "/limited") for m in itertools.islice(itertools.cycle((a, b)), 10)
        ]
    statuses = [r.status_code for r in answers]
    assert statuses == [200] * 5 + [429] * 5
    # One counter for both: the remaining quota falls by one whichever machine answers.
    assert [r.headers["RateLimit-Remaining"] for r in answers[:5]] == ["4", "3", "2", "1", "0"]
    for refused in answers[5:]:
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Remaining"] == "0"


def test_concurrent_requests_on_both_machines_cannot_overshoot_the_limit(
    redis_db: str, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=WAIT) as http:
            targets = itertools.islice(itertools.cycle((a, b)), 16)
            answers = await asyncio.gather(*(http.post(m.base + "/limited") for m in targets))
        return [r.status_code for r in answers]

    statuses = run(main())
    assert sorted(statuses) == [200] * 5 + [429] * 11


# -- pub/sub -------------------------------------------------------------------------------


@dataclass
class Event:
    event: str
    data: str


class Feed:
    """The events of one SSE stream, read by a background task."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue()

    async def next(self, within: float = WAIT) -> Event:
        return await asyncio.wait_for(self.queue.get(), within)

    async def next_feed(self, within: float = WAIT) -> Any:
        """The data of the next ``feed`` event, decoded."""
        event = await self.next(within)
        assert event.event == "feed", event
        return json.loads(event.data)


@contextlib.asynccontextmanager
async def sse_feed(machine: Machine) -> AsyncIterator[Feed]:
    """Stream ``GET /events`` from ``machine``; yield once its subscription is live."""
    feed = Feed()
    opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def read() -> None:
        timeout = httpx.Timeout(WAIT, read=None)  # the stream may stay quiet for long
        async with (
            httpx.AsyncClient(timeout=timeout) as client,
            client.stream("GET", machine.base + "/events") as response,
        ):
            opened.set_result(response.status_code)
            event, data = "message", []
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif not line and data:
                    await feed.queue.put(Event(event, "\n".join(data)))
                    event, data = "message", []

    task = asyncio.create_task(read())
    try:
        assert await asyncio.wait_for(asyncio.shield(opened), WAIT) == 200
        ready = await feed.next()
        assert (ready.event, ready.data) == ("ready", "subscribed")
        yield feed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_sse_on_b_receives_what_is_published_on_a(
    redis_db: str, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines

    async def main() -> None:
        async with (
            httpx.AsyncClient(timeout=WAIT) as http,
            sse_feed(b) as on_b,
            sse_feed(a) as on_a,
        ):
            r = await http.post(a.base + "/publish", json={"text": "hello from A", "n": 1})
            assert r.status_code == 202
            assert await on_b.next_feed() == {"text": "hello from A", "n": 1}
            assert await on_a.next_feed() == {"text": "hello from A", "n": 1}
            r = await http.post(b.base + "/publish", json=["from B", 2])
            assert r.status_code == 202
            assert await on_a.next_feed() == ["from B", 2]
            assert await on_b.next_feed() == ["from B", 2]
            r = await http.post(a.base + "/publish", content=b"not json")
            assert r.status_code == 400

    run(main())


def test_a_websocket_message_sent_through_a_reaches_a_client_on_b(
    redis_db: str, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines

    async def recv(ws: Any) -> Any:
        return await asyncio.wait_for(ws.recv(), WAIT)

    async def main() -> None:
        # Each server subscribes before accepting: once open, nothing can be missed.
        async with (
            connect(b.ws + "/chat", open_timeout=WAIT) as bo,
            connect(a.ws + "/chat", open_timeout=WAIT) as ana,
        ):
            await ana.send("hello bo, from A")
            assert await recv(bo) == "hello bo, from A"
            assert await recv(ana) == "hello bo, from A"  # the sender is a member too
            await bo.send("hi ana, from B")
            assert await recv(ana) == "hi ana, from B"
            assert await recv(bo) == "hi ana, from B"

    run(main())


def test_hostile_input_gets_a_clean_4xx(redis_db: str, machines: tuple[Machine, Machine]) -> None:
    a, _ = machines
    with httpx.Client(base_url=a.base, timeout=WAIT) as client:
        for body in ("[1, 2]", '{"username": 5, "password": null}', '"alice"', "{}"):
            r = client.post("/login", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 401, body
        bad = client.post("/login", content=b"{", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400
        assert client.post("/login", data={"username": "alice"}).status_code == 401
        assert client.post("/publish", json={"x": "y" * 70_000}).status_code == 413
        deep = "[" * 100 + "]" * 100
        r = client.post("/publish", content=deep, headers={"Content-Type": "application/json"})
        assert r.status_code == 400

    async def oversized_chat_message() -> int | None:
        async with connect(a.ws + "/chat", open_timeout=WAIT) as ws:
            await ws.send("x" * 5000)
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)
            await asyncio.wait_for(ws.wait_closed(), WAIT)
            return None if ws.close_code is None else int(ws.close_code)

    assert run(oversized_chat_message()) == 1009  # message too big


# -- Redis restarts ------------------------------------------------------------------------


async def recover(http: httpx.AsyncClient, a: Machine, *feeds: Feed) -> tuple[list[int], list[int]]:
    """Publish probes on A until one reaches each feed.

    A answers 503 until its Redis client reconnects; each subscribing
    process comes back a little later, and what is published before it is
    back is lost for its clients (Redis keeps nothing for absent
    subscribers). Each probe waits a moment for the feeds.

    Returns:
        The probes A accepted, and the first probe each feed received.
    """
    accepted: list[int] = []
    first: dict[int, int] = {}
    async with asyncio.timeout(WAIT):
        for n in itertools.count():
            r = await http.post(a.base + "/publish", json={"probe": n})
            assert r.status_code in (202, 503), r.text
            if r.status_code == 202:
                accepted.append(n)
            for i, feed in enumerate(feeds):
                if i not in first:
                    with contextlib.suppress(TimeoutError):
                        first[i] = (await feed.next_feed(within=0.2))["probe"]
            if len(first) == len(feeds):
                return accepted, [first[i] for i in range(len(feeds))]
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


async def no_later_loss(feed: Feed, accepted: list[int], first: int, last: Any) -> None:
    """Every probe published after ``first``, then ``last``, arrive on ``feed`` in order."""
    seen = [first]
    while (message := await feed.next_feed()) != last:
        seen.append(message["probe"])
    assert seen == [n for n in accepted if n >= first]


async def remaining(http: httpx.AsyncClient, *machines: Machine) -> list[str]:
    """POST /limited once on each machine; the ``RateLimit-Remaining`` of each answer."""
    answers = [await http.post(m.base + "/limited") for m in machines]
    assert [r.status_code for r in answers] == [200] * len(machines)
    return [r.headers["RateLimit-Remaining"] for r in answers]


def test_a_redis_restart_loses_no_later_message(
    redis_db: str, redis_server: RedisServer, machines: tuple[Machine, Machine]
) -> None:
    a, b = machines

    async def main() -> None:
        async with (
            httpx.AsyncClient(timeout=WAIT) as http,
            httpx.AsyncClient(timeout=WAIT) as browser,
            sse_feed(b) as on_b,
            contextlib.AsyncExitStack() as stack,
        ):
            assert (await browser.post(a.base + "/login", data=ALICE)).status_code == 302
            assert await remaining(http, a, b) == ["4", "3"]  # each loads the counting script
            assert (await http.post(a.base + "/publish", json={"n": "before"})).status_code == 202
            assert await on_b.next_feed() == {"n": "before"}

            await asyncio.to_thread(redis_server.stop)
            down = await http.post(a.base + "/publish", json={"n": "lost"})
            assert down.status_code == 503  # nowhere to publish: said, not swallowed
            # A session that cannot be read is a 503, never a silent logout...
            assert (await browser.get(b.base + "/me")).status_code == 503
            # ...requests without a session do not need Redis...
            assert (await http.get(b.base + "/me")).status_code == 401
            # ...and the rate limit fails open.
            assert (await http.post(a.base + "/limited")).status_code == 200
            late_on_a = await stack.enter_async_context(sse_feed(a))
            await asyncio.to_thread(redis_server.start)

            # B's SSE stream stayed open; its Broadcast reconnects and resubscribes. A's
            # stream, opened during the outage (a client reconnecting to another
            # machine), is subscribed when A's Broadcast is back.
            accepted, (b_first, a_first) = await recover(http, a, on_b, late_on_a)
            assert (await http.post(a.base + "/publish", json={"n": "after"})).status_code == 202
            # Once one message got through, none published later is missing.
            await no_later_loss(on_b, accepted, b_first, {"n": "after"})
            await no_later_loss(late_on_a, accepted, a_first, {"n": "after"})

            # The counters died with Redis too; counting starts again (the script is re-sent).
            assert await remaining(http, a, b) == ["4", "3"]
            # Sessions died with Redis (no persistence); new logins work across machines.
            async with httpx.AsyncClient(timeout=WAIT) as newcomer:
                assert (await newcomer.post(b.base + "/login", data=ALICE)).status_code == 302
                assert (await newcomer.get(a.base + "/me")).text == "alice"

    try:
        run(main())
    finally:
        if not redis_server.running:  # other tests share the server
            redis_server.start()


# -- no Redis at start-up ------------------------------------------------------------------


def test_a_machine_whose_redis_does_not_answer_refuses_to_start(tmp_path: Path) -> None:
    """A real server exits at start-up with the reason, instead of answering 500s."""
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    machine = start("C", url, tmp_path)
    try:
        machine.process.wait(WAIT)
    except subprocess.TimeoutExpired:
        stop(machine)
        pytest.fail(f"C did not exit within {WAIT} s:\n{machine.output()}")
    log = machine.output()
    assert machine.process.returncode != 0, log
    assert f"Session: cannot reach Redis at {url} at start-up" in log, log
    assert "Traceback" not in log  # an outage, reported as one line
