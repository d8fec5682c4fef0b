"""MemoryStore: TTLs, bounded size, copies, JSON only."""

from __future__ import annotations

import asyncio

import pytest

from junco.security.sessions import SessionStore
from junco.stores.memory import MemoryStore
from tests.test_sessions import Clock


def test_is_a_session_store() -> None:
    assert isinstance(MemoryStore(), SessionStore)


def test_save_load_delete_and_ttl() -> None:
    clock = Clock(100.0)
    store = MemoryStore(clock=clock)

    async def main() -> None:
        await store.save("a", {"d": {"x": 1}}, 10)
        assert await store.load("a") == {"d": {"x": 1}}
        assert "a" in store
        assert len(store) == 1
        clock.advance(9.9)
        assert await store.load("a") == {"d": {"x": 1}}
        clock.advance(0.1)
        assert "a" not in store
        assert await store.load("a") is None
        assert len(store) == 0
        await store.save("b", {"d": {}}, 10)
        await store.delete("b")
        await store.delete("never there")
        assert await store.load("b") is None

    asyncio.run(main())


def test_loads_are_copies() -> None:
    store = MemoryStore()

    async def main() -> None:
        record = {"d": {"cart": ["apple"]}}
        await store.save("a", record, 10)
        record["d"]["cart"].append("pear")
        loaded = await store.load("a")
        assert loaded == {"d": {"cart": ["apple"]}}
        assert loaded is not None
        loaded["d"]["cart"].clear()
        assert await store.load("a") == {"d": {"cart": ["apple"]}}

    asyncio.run(main())


def test_values_must_be_json() -> None:
    store = MemoryStore()
    with pytest.raises(TypeError):
        asyncio.run(store.save("a", {"d": {"when": object()}}, 10))
    assert len(store) == 0


def test_bounded_evicting_the_least_recently_saved() -> None:
    clock = Clock(0.0)
    store = MemoryStore(max_entries=3, clock=clock)

    async def main() -> None:
        for name in "abc":
            await store.save(name, {"n": name}, 100)
        await store.save("a", {"n": "a2"}, 100)  # a is now the most recent
        await store.save("d", {"n": "d"}, 100)
        assert len(store) == 3
        assert await store.load("b") is None
        assert await store.load("a") == {"n": "a2"}
        for i in range(1000):
            await store.save(f"flood{i}", {"n": i}, 100)
        assert len(store) == 3
        assert len(store._records) == 3

    asyncio.run(main())


def test_expired_entries_go_first() -> None:
    clock = Clock(0.0)
    store = MemoryStore(max_entries=3, clock=clock)

    async def main() -> None:
        await store.save("short1", {}, 1)
        await store.save("short2", {}, 1)
        await store.save("long", {}, 100)
        clock.advance(5)
        await store.save("new", {}, 100)
        assert sorted(store._records) == ["long", "new"]

    asyncio.run(main())


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryStore(max_entries=0)
