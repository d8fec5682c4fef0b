"""Session behaviour every store must share: the signed cookie, MemoryStore, RedisStore.

Each test runs once per store through the real ASGI path; Redis is a real
redis-server (tests/conftest.py). Timeouts use an injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from junco.exceptions import ConfigurationError
from junco.security.sessions import SessionStore
from junco.stores.memory import MemoryStore
from junco.stores.redis import RedisStore
from junco.testing import TestClient
from tests.test_sessions import KEY, OLD_KEY, Clock, make_app, session_cookie

NewStore = Callable[[], SessionStore | None]


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


@pytest.fixture(params=["cookie", "memory", "redis"])
def new_store(request: pytest.FixtureRequest) -> NewStore:
    """Makes a fresh store of each kind (``None`` is the signed-cookie store)."""
    if request.param == "cookie":
        return lambda: None
    if request.param == "memory":
        return MemoryStore
    url = request.getfixturevalue("redis_db")
    return lambda: RedisStore(url)


@pytest.fixture(params=["memory", "redis"])
def new_server_store(request: pytest.FixtureRequest) -> NewStore:
    """Makes a fresh server-side store of each kind."""
    if request.param == "memory":
        return MemoryStore
    url = request.getfixturevalue("redis_db")
    return lambda: RedisStore(url)


async def records(store: SessionStore | None) -> int:
    """How many session records the store holds (0 for the cookie store)."""
    if isinstance(store, MemoryStore):
        return len(store)
    if isinstance(store, RedisStore):
        return int(await store.client.dbsize())
    return 0


async def read(client: TestClient, expect_cookie: bool | None = None) -> dict[str, Any]:
    r = await client.get("/read")
    assert r.status_code == 200
    if expect_cookie is not None:
        assert (session_cookie(r) is not None) is expect_cookie
    result: dict[str, Any] = r.json
    return result


def test_write_read_and_no_rewrite(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        app, _ = make_app(store)
        async with TestClient(app) as client:
            r = await client.post("/write", json={"user": "ana"})
            found = session_cookie(r)
            assert found is not None
            assert found[1] == ["Path=/", "HttpOnly", "SameSite=Lax"]
            assert r.headers["vary"] == "Cookie"
            assert await records(store) == (0 if store is None else 1)
            assert await read(client, expect_cookie=False) == {
                "data": {"user": "ana"},
                "new": False,
            }
            await client.post("/write", json={"n": 2})
            assert (await read(client))["data"] == {"user": "ana", "n": 2}
            assert await records(store) == (0 if store is None else 1)

    run(main())


def test_empty_sessions_are_never_stored(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        app, _ = make_app(store)
        async with TestClient(app) as client:
            for _ in range(3):
                r = await client.get("/read")
                assert session_cookie(r) is None
                r = await client.get("/peek")
                assert session_cookie(r) is None
                assert "vary" not in r.headers
            r = await client.post("/write", json={})  # written to, but nothing in it
            assert session_cookie(r) is None
            r = await client.post("/pop/nothing")
            assert session_cookie(r) is None
            r = await client.post("/delete")
            assert session_cookie(r) is None
            assert await records(store) == 0
            assert client.cookies == {}

    run(main())


def test_delete_drops_record_and_cookie(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        app, _ = make_app(store)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            stolen = dict(client.cookies)
            r = await client.post("/delete")
            found = session_cookie(r)
            assert found is not None
            assert found[0] == ""
            assert "Max-Age=0" in found[1]
            assert client.cookies == {}
            assert await records(store) == 0
            assert await read(client) == {"data": {}, "new": True}
            if store is not None:  # a server-side session is really over
                replay = TestClient(app, cookies=stolen)
                assert await read(replay) == {"data": {}, "new": True}

    run(main())


def test_writing_after_delete_starts_a_new_session(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        app, _ = make_app(store)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            before = dict(client.cookies)
            await client.post("/logout")
            assert client.cookies != before
            assert (await read(client))["data"] == {"flash": "bye"}
            assert await records(store) == (0 if store is None else 1)
            if store is not None:
                assert (await read(TestClient(app, cookies=before)))["new"] is True

    run(main())


def test_regenerate_issues_a_new_id_and_retires_the_old(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        app, _ = make_app(store)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            before = client.cookies["session"]
            r = await client.post("/regenerate")
            assert session_cookie(r) is not None
            after = client.cookies["session"]
            assert after != before
            assert (await read(client))["data"] == {"user": "ana"}
            assert await records(store) == (0 if store is None else 1)
            if store is not None:
                old = TestClient(app, cookies={"session": before})
                assert await read(old) == {"data": {}, "new": True}

    run(main())


def test_idle_timeout_without_sliding(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        store = new_store()
        app, _ = make_app(store, idle_timeout=10, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            clock.advance(9)
            assert (await read(client, expect_cookie=False))["data"] == {"user": "ana"}
            clock.advance(2)  # 11 s since the last write; reading did not count
            assert await read(client) == {"data": {}, "new": True}
            # A write now starts a new session, never the expired one.
            old = dict(client.cookies)
            await client.post("/write", json={"n": 1})
            assert client.cookies != old
            assert (await read(client))["data"] == {"n": 1}
            assert await records(store) == (0 if store is None else 1)

    run(main())


def test_writes_push_the_idle_deadline(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        app, _ = make_app(new_store(), idle_timeout=10, clock=clock)
        async with TestClient(app) as client:
            for n in range(4):
                clock.advance(8)
                await client.post("/write", json={"n": n})
            clock.advance(8)
            assert (await read(client))["data"] == {"n": 3}

    run(main())


def test_sliding_idle_timeout(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        app, _ = make_app(new_store(), idle_timeout=10, sliding=True, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            for _ in range(5):
                clock.advance(8)
                assert (await read(client))["data"] == {"user": "ana"}
            clock.advance(11)
            assert await read(client) == {"data": {}, "new": True}

    run(main())


def test_sliding_by_seconds_counts_use_and_writes_at_most_that_often(
    new_store: NewStore,
) -> None:
    async def main() -> None:
        clock = Clock()
        store = new_store()
        app, _ = make_app(store, idle_timeout=10, sliding=4, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            clock.advance(3)
            await read(client, expect_cookie=False)  # last write 3 s ago: nothing written
            clock.advance(2)
            # 5 s since the last write: this read is re-written (a new cookie for the
            # cookie store; a server record keeps its id, and its cookie).
            await read(client, expect_cookie=store is None)
            for _ in range(4):  # 9 s apart: each use moves the idle deadline on
                clock.advance(9)
                assert (await read(client))["data"] == {"user": "ana"}
            clock.advance(3)
            r = await client.get("/peek")  # a request that does not use the session ...
            assert session_cookie(r) is None
            clock.advance(8)  # ... is no activity: 11 s after the last write
            assert await read(client) == {"data": {}, "new": True}

    run(main())


@pytest.mark.parametrize("sliding", [0, -1, float("nan")])
def test_sliding_must_be_a_bool_or_positive_seconds(sliding: float) -> None:
    with pytest.raises(ConfigurationError, match="sliding"):
        make_app(sliding=sliding)


def test_absolute_timeout_beats_sliding(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        store = new_store()
        app, _ = make_app(store, idle_timeout=10, absolute_timeout=30, sliding=True, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            for _ in range(3):
                clock.advance(9)
                await client.post("/write", json={"seen": clock.now})
                assert (await read(client))["data"]["user"] == "ana"
            clock.advance(4)  # 31 s after creation
            assert await read(client) == {"data": {}, "new": True}
            assert await records(store) == 0  # the stale record was dropped

    run(main())


def test_regenerate_restarts_the_absolute_timeout(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        app, _ = make_app(new_store(), absolute_timeout=30, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"cart": 1})
            clock.advance(20)
            await client.post("/regenerate")  # a login
            clock.advance(20)
            assert (await read(client))["data"] == {"cart": 1}
            clock.advance(11)
            assert (await read(client))["new"] is True

    run(main())


def test_max_age_sets_the_cookie_and_bounds_the_session(new_store: NewStore) -> None:
    async def main() -> None:
        clock = Clock()
        app, _ = make_app(new_store(), max_age=60, clock=clock)
        async with TestClient(app) as client:
            r = await client.post("/write", json={"user": "ana"})
            found = session_cookie(r)
            assert found is not None
            assert "Max-Age=60" in found[1]
            clock.advance(59)
            assert (await read(client))["data"] == {"user": "ana"}
            clock.advance(2)  # a client that kept the cookie past Max-Age
            assert (await read(client))["new"] is True

    run(main())


def test_key_rotation(new_store: NewStore) -> None:
    async def main() -> None:
        store = new_store()
        old_app, _ = make_app(store, secret_key=OLD_KEY)
        new_app, _ = make_app(store, secret_key=[KEY, OLD_KEY])
        strict_app, _ = make_app(store, secret_key=KEY)
        client = TestClient(old_app)
        await client.post("/write", json={"user": "ana"})
        cookies = dict(client.cookies)
        rotated = TestClient(new_app, cookies=cookies)
        assert (await read(rotated))["data"] == {"user": "ana"}
        assert (await read(TestClient(strict_app, cookies=cookies)))["new"] is True
        await rotated.post("/regenerate")  # re-signed with the first key
        assert (await read(TestClient(strict_app, cookies=rotated.cookies)))["data"] == {
            "user": "ana"
        }
        if isinstance(store, RedisStore):
            await store.close()

    run(main())


def test_secure_cookie_on_https(new_store: NewStore) -> None:
    async def main() -> None:
        app, _ = make_app(new_store())
        async with TestClient(app, scheme="https") as client:
            r = await client.post("/write", json={"a": 1})
            found = session_cookie(r)
            assert found is not None
            assert found[1] == ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"]
            r = await client.post("/delete")
            found = session_cookie(r)
            assert found is not None
            assert "Secure" in found[1]
            assert "HttpOnly" in found[1]

    run(main())


# -- server stores only ------------------------------------------------------------------


def test_a_client_chosen_id_is_never_adopted(new_server_store: NewStore) -> None:
    async def main() -> None:
        store = new_server_store()
        assert store is not None
        app, ext = make_app(store)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            genuine = client.cookies["session"]
            planted_id = "A" * 43
            forged = {
                "signed unknown id": ext._signer.sign(planted_id),
                "unsigned id": planted_id,
                "signed malformed id": ext._signer.sign("../../etc/passwd"),
                "signed long id": ext._signer.sign("A" * 4000),
                "tampered": genuine[:-2] + ("AA" if genuine[-2:] != "AA" else "BB"),
                "truncated": genuine[:20],
                "id signed with another key": make_app(store, secret_key=OLD_KEY)[1]._signer.sign(
                    genuine.rpartition(".")[0]
                ),
            }
            for label, value in forged.items():
                attacker = TestClient(app, cookies={"session": value})
                assert await read(attacker) == {"data": {}, "new": True}, label
                r = await attacker.post("/write", json={"mine": True})
                assert r.status_code == 200, label
                issued = attacker.cookies["session"]
                assert issued != value, label
                assert not issued.startswith(planted_id), label
            assert await store.load(planted_id) is None
            assert await records(store) == 1 + len(forged)

    run(main())


def test_a_corrupt_record_is_an_anonymous_session(new_server_store: NewStore) -> None:
    async def main() -> None:
        store = new_server_store()
        assert store is not None
        clock = Clock()
        app, ext = make_app(store, clock=clock)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            sid = ext._signer.unsign(client.cookies["session"])
            assert sid is not None
            for bad in (
                {"d": "not a dict", "c": clock.now, "a": clock.now},
                {"d": {"user": "x"}},
                {"d": {"user": "x"}, "c": "yesterday", "a": clock.now},
            ):
                await store.save(sid, bad, 60)
                assert await read(client) == {"data": {}, "new": True}
                assert await store.load(sid) is None  # dropped on sight

    run(main())


def test_store_ttl_follows_the_timeouts(new_server_store: NewStore) -> None:
    async def main() -> None:
        store = new_server_store()
        assert store is not None
        clock = Clock()
        app, ext = make_app(store, idle_timeout=100, absolute_timeout=150, clock=clock)
        assert ext._ttl(clock.now, clock.now) == 100
        assert ext._ttl(clock.now - 120, clock.now) == 30
        _, ext2 = make_app(store)
        assert ext2._ttl(clock.now, clock.now) == 14 * 24 * 3600
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            if isinstance(store, RedisStore):
                sid = ext._signer.unsign(client.cookies["session"])
                assert sid is not None
                ttl = await store.client.ttl(store.prefix + sid)
                assert 0 < ttl <= 100

    run(main())


_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def non_canonical_spellings(cookie: str) -> dict[str, str]:
    """The same signed value spelled differently: lenient base64 decoders accept these."""
    last = _B64URL.index(cookie[-1])
    # The signature (32 bytes) is 43 characters: the last one carries 2 unused bits.
    assert last % 4 == 0
    spellings = {"=": cookie + "=", "==": cookie + "==", "===": cookie + "==="}
    for bits in (1, 2, 3):
        spellings[f"low bits {bits}"] = cookie[:-1] + _B64URL[last | bits]
    return spellings


def test_only_the_canonical_cookie_encoding_is_accepted(new_store: NewStore) -> None:
    async def main() -> None:
        app, _ = make_app(new_store())
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            genuine = client.cookies["session"]
            assert (await read(client))["data"] == {"user": "ana"}
            for label, value in non_canonical_spellings(genuine).items():
                other = TestClient(app, cookies={"session": value})
                assert await read(other) == {"data": {}, "new": True}, label
            again = TestClient(app, cookies={"session": genuine})
            assert (await read(again))["data"] == {"user": "ana"}

    run(main())
