"""``store=`` in one set of forms for Session, RateLimit and Broadcast; start-up checks.

Every component takes a store object, ``"memory"`` or a Redis URL, refuses
anything else at construction with a message listing those forms, and an
unreachable Redis fails the app's start-up (the real lifespan, through the
test client) instead of every request.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from junco import Junco, Request, Session
from junco import _redis as redis_helper
from junco.exceptions import ConfigurationError
from junco.pubsub import Broadcast
from junco.security.ratelimit import RateLimit
from junco.security.stack import secure_stack
from junco.stores import REDIS_URL_ENV, in_memory, redis_url_from_env
from junco.stores.memory import MemoryBackend, MemoryRateLimitStore, MemoryStore
from junco.stores.redis import RedisBackend, RedisRateLimitStore, RedisStore
from junco.stores.resolve import redact
from junco.testing import TestClient
from tests.redis_server import free_port

KEY = "k" * 32
ACCEPTED = 'accepted: a store object, "memory", or a Redis URL'


def session(store: Any) -> Any:
    return Session(Junco(), KEY, store=store).store


def limiter(store: Any) -> Any:
    return RateLimit(Junco(), store=store).store


def broadcast(store: Any) -> Any:
    return Broadcast(store).backend


MAKERS: dict[str, Callable[[Any], Any]] = {
    "Session": session,
    "RateLimit": limiter,
    "Broadcast": broadcast,
}
MEMORY = {"Session": MemoryStore, "RateLimit": MemoryRateLimitStore, "Broadcast": MemoryBackend}
REDIS = {"Session": RedisStore, "RateLimit": RedisRateLimitStore, "Broadcast": RedisBackend}


# -- the accepted forms ---------------------------------------------------------------------


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("spec", ["memory", "memory://", " Memory "])
def test_memory_by_name(name: str, spec: str) -> None:
    store = MAKERS[name](spec)
    assert type(store) is MEMORY[name]
    assert in_memory(store)


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:secret@cache.example:6380/1",
        "unix:///run/redis/redis.sock?db=2",
        "REDIS://localhost",
    ],
)
def test_redis_urls(name: str, url: str) -> None:
    store = MAKERS[name](url)
    assert store.url == url
    assert type(store) is REDIS[name]
    assert not in_memory(store)


@pytest.mark.parametrize("name", MAKERS)
def test_a_store_object_is_used_as_it_is(name: str) -> None:
    mine = MEMORY[name]()
    assert MAKERS[name](mine) is mine


def test_defaults() -> None:
    assert Session(Junco(), KEY).store is None  # signed cookies
    assert type(RateLimit(Junco()).store) is MemoryRateLimitStore
    assert type(Broadcast().backend) is MemoryBackend


def test_in_memory_reads_components_too() -> None:
    assert in_memory(Session(Junco(), KEY, store="memory"))
    assert not in_memory(Session(Junco(), KEY))  # the cookie carries the session
    assert in_memory(RateLimit(Junco()))
    assert not in_memory(RateLimit(Junco(), store="redis://127.0.0.1:6379/0"))
    assert in_memory(Broadcast("memory"))
    assert not in_memory(Broadcast("redis://127.0.0.1:6379/0"))
    assert not in_memory(object())


# -- the refused forms ----------------------------------------------------------------------


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("", "store='' is not a store"),
        ("redis", "store='redis' is not a store"),
        ("memcached://127.0.0.1:11211", "store='memcached://127.0.0.1:11211' is not a store"),
        ("http://127.0.0.1:6379", "is not a store"),
        ("127.0.0.1:6379", "is not a store"),
        ("redis+sentinel://h:26379/mymaster", "Sentinel and Cluster URLs are not supported"),
        ("redis-cluster://h:7000", "Sentinel and Cluster URLs are not supported"),
    ],
)
def test_strings_that_name_no_store(name: str, spec: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        MAKERS[name](spec)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"{name}: ")
    assert says in message
    if "Sentinel" not in says:
        assert ACCEPTED in message


@pytest.mark.parametrize("name", MAKERS)
def test_a_bad_port_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}: 'redis://h:port/0' is not a valid Redis URL"):
        MAKERS[name]("redis://h:port/0")


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (6379, "store=6379 is not a store (it has no "),
        (b"redis://127.0.0.1", "store=b'redis://127.0.0.1' is not a store"),
        ({"url": "redis://"}, "store=dict is not a store"),
        (object(), "store=object is not a store"),
    ],
)
def test_objects_that_are_no_store(name: str, spec: Any, says: str) -> None:
    with pytest.raises(TypeError) as info:
        MAKERS[name](spec)
    assert str(info.value).startswith(f"{name}: {says}")
    assert ACCEPTED in str(info.value)


def test_the_message_names_the_missing_methods() -> None:
    class Half:
        async def load(self, session_id: str) -> None: ...

    missing = r"store=Half is not a store \(it has no save\(\), delete\(\)\)"
    with pytest.raises(TypeError, match=missing):
        session(Half())
    with pytest.raises(TypeError, match=r"it has no hit\(\)"):
        limiter(MemoryStore())  # a session store is not a rate-limit store


@pytest.mark.parametrize("name", MAKERS)
def test_a_class_instead_of_an_instance(name: str) -> None:
    cls = MEMORY[name]
    with pytest.raises(TypeError, match=rf"^{name}: store={cls.__name__} is a class; pass an"):
        MAKERS[name](cls)


def test_passwords_never_reach_a_message() -> None:
    with pytest.raises(ValueError, match="Sentinel") as info:
        session("redis+sentinel://:hunter2@h:26379")
    assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError, match="not a valid Redis URL") as info:
        session("redis://:hunter2@h:port/0")
    assert "hunter2" not in str(info.value)
    assert redact("redis://user:hunter2@h:6379/0") == "redis://user:***@h:6379/0"
    assert redact("redis://h:6379/0") == "redis://h:6379/0"


def test_broadcast_options_only_with_a_redis_url() -> None:
    with pytest.raises(TypeError, match="options"):
        Broadcast("memory", password="x")
    with pytest.raises(TypeError, match="options"):
        Broadcast(MemoryBackend(), password="x")
    assert Broadcast(url="memory://").url == "memory://"  # the parameter's first name


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_memory_stores_never_import_redis() -> None:
    done = run_python(
        "import sys\n"
        "from junco import Junco, Session\n"
        "from junco.security.ratelimit import RateLimit\n"
        "from junco.security.stack import secure_stack\n"
        "from junco.pubsub import Broadcast\n"
        "app = Junco()\n"
        "Session(app, 'k' * 32, store='memory')\n"
        "RateLimit(app, store='memory')\n"
        "Broadcast('memory').init_app(app)\n"
        "secure_stack(Junco(), secret_key='k' * 32, rate_limits={'/x': '1/second'})\n"
        "print('redis' in sys.modules)\n"
    )
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("name", MAKERS)
def test_a_redis_url_without_redis_py_names_the_extra(name: str) -> None:
    build = {
        "Session": "Session(Junco(), 'k' * 32, store=URL)",
        "RateLimit": "RateLimit(Junco(), store=URL)",
        "Broadcast": "Broadcast(URL)",
    }[name]
    done = run_python(
        "import sys\n"
        "sys.modules['redis'] = None  # as if redis-py were not installed\n"
        "from junco import Junco, Session\n"
        "from junco.security.ratelimit import RateLimit\n"
        "from junco.pubsub import Broadcast\n"
        "URL = 'redis://127.0.0.1:6379/0'\n"
        "try:\n"
        f"    {build}\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert done.stdout.strip() == 'Redis support needs redis-py: pip install "junco[redis]"', (
        done.stderr
    )


# -- JUNCO_REDIS_URL ------------------------------------------------------------------------


def test_redis_url_from_env() -> None:
    assert redis_url_from_env({}) is None
    assert redis_url_from_env({REDIS_URL_ENV: "  "}) is None
    url = "redis://127.0.0.1:6379/3"
    assert redis_url_from_env({REDIS_URL_ENV: url}) == url
    for bad in ("memory", "localhost:6379", "redis://h:port"):
        with pytest.raises(ConfigurationError, match=f"^{REDIS_URL_ENV}=.* is not a Redis URL"):
            redis_url_from_env({REDIS_URL_ENV: bad})
    with pytest.raises(ConfigurationError) as info:
        redis_url_from_env({REDIS_URL_ENV: "http://:hunter2@h"})
    assert "hunter2" not in str(info.value)


def test_secure_stack_moves_every_store_to_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REDIS_URL_ENV, raising=False)
    stack = secure_stack(Junco(), secret_key=KEY, rate_limits={"/x": "1/second"})
    assert stack.session.store is None
    assert type(stack.limiter.store) is MemoryRateLimitStore

    url = "redis://127.0.0.1:6379/0"
    monkeypatch.setenv(REDIS_URL_ENV, url)
    stack = secure_stack(Junco(), secret_key=KEY, rate_limits={"/x": "1/second"})
    assert type(stack.session.store) is RedisStore
    assert type(stack.limiter.store) is RedisRateLimitStore
    assert stack.session.store.url == stack.limiter.store.url == url

    # An explicit store still wins.
    stack = secure_stack(
        Junco(),
        secret_key=KEY,
        rate_limits={"/x": "1/second"},
        session_store="memory",
        rate_limit_store="memory",
    )
    assert in_memory(stack.session)
    assert in_memory(stack.limiter)

    monkeypatch.setenv(REDIS_URL_ENV, "localhost")
    with pytest.raises(ConfigurationError, match=REDIS_URL_ENV):
        secure_stack(Junco(), secret_key=KEY)


# -- Redis URLs at work ---------------------------------------------------------------------


def url_app(url: str, **limiter: Any) -> tuple[Junco, Session, RateLimit, Broadcast]:
    app = Junco()
    sessions = Session(app, KEY, store=url)
    rate = RateLimit(app, store=url, **limiter)
    rate.rule("/hit", "3/minute")
    hub = Broadcast(url)
    hub.init_app(app)

    @app.post("/hit")
    async def hit(request: Request) -> str:
        request.session["hits"] = request.session.get("hits", 0) + 1
        await hub.publish("hits", request.session["hits"])
        return str(request.session["hits"])

    return app, sessions, rate, hub


def test_url_strings_work_and_share_one_client_closed_at_shutdown(redis_db: str) -> None:
    app, sessions, rate, hub = url_app(redis_db)

    async def main() -> None:
        async with TestClient(app) as client:
            assert isinstance(sessions.store, RedisStore)
            shared = sessions.store.client
            assert rate.store.client is shared  # type: ignore[attr-defined]
            assert isinstance(hub.backend, RedisBackend)
            assert hub.backend.client is shared  # publishing shares it too
            async with hub.subscribe("hits") as messages:
                answers = [await client.post("/hit") for _ in range(4)]
                assert [r.status_code for r in answers] == [200, 200, 200, 429]
                assert [r.text for r in answers[:3]] == ["1", "2", "3"]
                assert [await messages.get() for _ in range(3)] == [1, 2, 3]
            assert await shared.dbsize() >= 2  # a session record and counters
            loop = asyncio.get_running_loop()
            assert (loop, redis_db) in redis_helper._shared
        assert (loop, redis_db) not in redis_helper._shared  # closed at shutdown

    asyncio.run(main())


def test_each_event_loop_gets_its_own_client(redis_db: str) -> None:
    app, sessions, _, _ = url_app(redis_db)
    seen: list[Any] = []

    async def main() -> None:
        async with TestClient(app) as client:
            assert (await client.post("/hit")).status_code == 200
            seen.append(sessions.store.client)  # type: ignore[union-attr]

    asyncio.run(main())
    asyncio.run(main())  # a second loop: the first loop's connections are no use here
    assert seen[0] is not seen[1]


def test_a_closed_shared_client_is_replaced_and_options_get_their_own(redis_db: str) -> None:
    async def main() -> None:
        sessions, counters = RedisStore(redis_db), RedisRateLimitStore(redis_db)
        first = sessions.client
        assert counters.client is first
        await sessions.close()  # the app's shutdown closes the shared client...
        assert counters.client is not first  # ...and nobody keeps using it
        assert await counters.client.ping() is True
        private = RedisStore(redis_db, socket_timeout=5)
        assert private.client is not counters.client
        assert private.client.connection_pool.connection_kwargs["socket_timeout"] == 5
        for store in (counters, private):
            await store.close()

    asyncio.run(main())


# -- an unreachable Redis at start-up -------------------------------------------------------


def start(app: Junco) -> Any:
    async def main() -> Any:
        async with TestClient(app) as client:
            return (await client.post("/hit")).status_code

    return asyncio.run(main())


def dead_url() -> str:
    return f"redis://:hunter2@127.0.0.1:{free_port()}/0"


def test_an_unreachable_redis_fails_the_start_up(caplog: pytest.LogCaptureFixture) -> None:
    url = dead_url()
    app = Junco()
    Session(app, KEY, store=url)
    with pytest.raises(RuntimeError) as info:
        start(app)
    message = str(info.value)
    assert message.startswith("lifespan startup failed: StoreUnavailable(")
    assert "Session: cannot reach Redis at redis://:***@127.0.0.1:" in message
    assert "at start-up" in message
    assert REDIS_URL_ENV in message
    assert "hunter2" not in message
    assert "hunter2" not in caplog.text


@pytest.mark.parametrize("component", ["RateLimit", "Broadcast"])
def test_the_other_components_fail_the_start_up_too(component: str) -> None:
    url = dead_url()
    app = Junco()
    if component == "RateLimit":
        RateLimit(app, store=url, fail_open=False)
    else:
        Broadcast(url).init_app(app)
    with pytest.raises(RuntimeError, match=f"StoreUnavailable.*{component}: cannot reach Redis"):
        start(app)


def test_fail_open_logs_once_and_serves(caplog: pytest.LogCaptureFixture) -> None:
    url = dead_url()
    app = Junco()
    RateLimit(app, store=url).rule("/hit", "3/minute")  # fail_open=True is the default

    @app.post("/hit")
    async def hit(request: Request) -> str:
        return "ok"

    with caplog.at_level(logging.ERROR, logger="junco"):
        assert start(app) == 200  # never a 500: the limiter lets requests through
    at_start = [r for r in caplog.records if "at start-up" in r.getMessage()]
    assert len(at_start) == 1
    assert "RateLimit: cannot reach Redis" in at_start[0].getMessage()
    assert "requests pass unlimited" in at_start[0].getMessage()


def test_a_reachable_redis_starts(redis_db: str) -> None:
    app, *_ = url_app(redis_db, fail_open=False)
    assert start(app) == 200
