"""RedisStore against a real redis-server: TTLs, restarts, outages, foreign clients."""

from __future__ import annotations

import asyncio
import sys

import pytest
import redis.asyncio as aioredis

from junco import _redis
from junco.security.sessions import SessionStore, SessionStoreError
from junco.stores.redis import RedisStore
from junco.testing import TestClient
from tests.redis_server import RedisServer
from tests.test_sessions import make_app


def test_is_a_session_store(redis_db: str) -> None:
    store = RedisStore(redis_db)
    assert isinstance(store, SessionStore)
    asyncio.run(store.close())


def test_round_trip_prefix_and_corrupt_records(redis_db: str) -> None:
    async def main() -> None:
        store = RedisStore(redis_db, prefix="app1:")
        await store.save("abc", {"d": {"x": 1}}, 60)
        assert await store.load("abc") == {"d": {"x": 1}}
        assert await store.client.exists("app1:abc") == 1
        assert 0 < await store.client.ttl("app1:abc") <= 60
        await store.client.set("app1:junk", b"{not json")
        await store.client.set("app1:list", b"[1, 2]")
        assert await store.load("junk") is None
        assert await store.load("list") is None
        assert await store.load("missing") is None
        await store.delete("abc")
        await store.delete("abc")
        assert await store.client.exists("app1:abc") == 0
        with pytest.raises(TypeError):
            await store.save("bad", {"d": {"x": object()}}, 60)
        await store.close()

    asyncio.run(main())


def test_a_client_passed_in_stays_open(redis_db: str) -> None:
    async def main() -> None:
        client = aioredis.Redis.from_url(redis_db)
        store = RedisStore(client)
        await store.save("a", {"d": {}}, 10)
        await store.close()
        assert await client.ping() is True  # still usable: it is the caller's
        await client.aclose()
        with pytest.raises(TypeError, match="options"):
            RedisStore(client, socket_timeout=1)

    asyncio.run(main())


def test_redis_ttl_expires_the_session_in_real_time(
    redis_db: str, redis_server: RedisServer
) -> None:
    async def main() -> None:
        store = RedisStore(redis_db)
        app, ext = make_app(store, idle_timeout=1)
        async with TestClient(app) as client:
            await client.post("/write", json={"user": "ana"})
            sid = ext._signer.unsign(client.cookies["session"])
            assert sid is not None
            key = store.prefix + sid
            assert 0 < await store.client.pttl(key) <= 1000
            await asyncio.sleep(1.3)
            assert await store.client.exists(key) == 0
            r = await client.get("/read")
            assert r.json == {"data": {}, "new": True}

    asyncio.run(main())


def test_no_record_for_sessions_nobody_wrote(redis_db: str, redis_server: RedisServer) -> None:
    async def main() -> None:
        app, _ = make_app(RedisStore(redis_db))
        async with TestClient(app) as client:
            for path in ("/read", "/peek", "/read"):
                await client.get(path)
            await client.post("/write", json={})
        assert client.cookies == {}

    asyncio.run(main())
    assert redis_server.dbsize() == 0


def test_redis_down_means_503_and_a_restart_is_survived() -> None:
    with RedisServer() as server:

        async def main() -> None:
            app, _ = make_app(RedisStore(server.url))
            async with TestClient(app) as client:
                await client.post("/write", json={"user": "ana"})
                assert (await client.get("/read")).json["data"] == {"user": "ana"}
                server.stop()
                # With a session cookie, the session cannot be loaded: 503, not 500.
                r = await client.get("/read")
                assert r.status_code == 503
                assert r.text == "session store unavailable"
                assert client.cookies  # the cookie is kept for when Redis is back
                # Without one, pages that write nothing still work ...
                anonymous = TestClient(app)
                assert (await anonymous.get("/read")).status_code == 200
                # ... and a write that cannot be saved is a 503 too.
                assert (await anonymous.post("/write", json={"a": 1})).status_code == 503
                assert anonymous.cookies == {}

                server.start()  # same port, empty: the old session is gone
                r = await client.get("/read")
                assert r.status_code == 200
                assert r.json == {"data": {}, "new": True}
                await client.post("/write", json={"user": "bob"})
                assert (await client.get("/read")).json["data"] == {"user": "bob"}
                assert server.dbsize() == 1

        asyncio.run(main())


def test_store_errors_name_redis() -> None:
    with RedisServer() as server:
        url = server.url
    store = RedisStore(url)  # nothing listens there any more

    async def main() -> None:
        for call in (store.load("x"), store.save("x", {}, 1), store.delete("x")):
            with pytest.raises(SessionStoreError, match="redis"):
                await call
        await store.close()

    asyncio.run(main())


def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r'pip install "junco\[redis\]"'):
        RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(ImportError, match=r"junco\[redis\]"):
        _redis.import_redis()


def test_a_missing_redis_server_is_a_clear_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.redis_server.shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install redis-server"):
        RedisServer()


def test_a_stale_pooled_connection_is_replaced_after_a_restart() -> None:
    with RedisServer() as server:

        async def main() -> None:
            app, _ = make_app(RedisStore(server.url))
            async with TestClient(app) as client:
                await client.post("/write", json={"user": "ana"})
                server.stop()
                server.start()  # nothing noticed the outage: the pool holds a dead socket
                r = await client.get("/read")
                assert r.status_code == 200
                assert r.json == {"data": {}, "new": True}
                await client.post("/write", json={"user": "bob"})
                assert (await client.get("/read")).json["data"] == {"user": "bob"}

        asyncio.run(main())
