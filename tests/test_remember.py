"""Remember-me tokens: single use, revocation at logout and password change, theft detection.

Every test runs with the three places token records can live: a ``MemoryStore``
of the ``Login`` itself (signed-cookie sessions), the session's ``MemoryStore``
and the session's ``RedisStore`` (a real redis-server).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, Response
from junco.security.login import Login
from junco.security.sessions import Session, SessionStore
from junco.stores.memory import MemoryStore
from junco.stores.redis import RedisStore
from junco.testing import TestClient, TestResponse
from tests.stores.test_session_stores import non_canonical_spellings

KEY = "remember-test-secret-0123456789abcdef"
COOKIE = "_remember"
GRACE = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class User:
    id: int
    session_version: int = 1


class Barrier:
    """Holds user loads until ``n`` requests wait, so that restores really run together."""

    def __init__(self) -> None:
        self.n = 0
        self.waiting = 0
        self.event = asyncio.Event()

    async def wait(self) -> None:
        if self.n:
            self.waiting += 1
            if self.waiting >= self.n:
                self.event.set()
            await asyncio.wait_for(self.event.wait(), 30)


@dataclass
class Env:
    app: Junco
    login: Login
    users: dict[int, User]
    clock: Clock
    barrier: Barrier


def make_env(store: SessionStore | None, grace: float = GRACE, **options: Any) -> Env:
    app = Junco()
    clock = Clock()
    Session(app, KEY, store=store, clock=clock)
    login = Login(clock=clock, remember_grace=grace, **options)
    users = {1: User(1), 2: User(2)}
    barrier = Barrier()

    @login.user_loader
    async def load(user_id: int) -> User | None:
        await barrier.wait()
        return users.get(user_id)

    @app.post("/login/<int:uid>")
    async def log_in(request: Request, uid: int) -> Response:
        return await login.login_user(request, users[uid], remember=True)

    @app.post("/logout")
    async def log_out(request: Request) -> str:
        await login.logout_user(request)
        return "bye"

    @app.get("/me")
    @login
    async def me(request: Request) -> dict[str, Any]:
        return {"id": request.g.current_user.id}

    return Env(app, login, users, clock, barrier)


Main = Callable[[Callable[..., Env]], Coroutine[Any, Any, None]]


@pytest.fixture(params=["login-memory", "session-memory", "session-redis"])
def run(request: pytest.FixtureRequest) -> Callable[[Main], None]:
    """Runs ``main(new_env)``; ``new_env(**options)`` builds an app on this kind of store."""
    kind = request.param
    url = request.getfixturevalue("redis_db") if kind == "session-redis" else ""

    def runner(main: Main) -> None:
        async def wrapped() -> None:
            stores: list[RedisStore] = []

            def new_env(**options: Any) -> Env:
                store: SessionStore | None = None
                if kind == "session-memory":
                    store = options.pop("store", None) or MemoryStore()
                elif kind == "session-redis":
                    store = options.pop("store", None) or RedisStore(url)
                    stores.append(store)
                return make_env(store, **options)

            try:
                await main(new_env)
            finally:
                for s in stores:
                    await s.close()

        asyncio.run(wrapped())

    return runner


def remember_cookie(r: TestResponse) -> str | None:
    """The new remember token set by ``r`` (None if none, or if it clears the cookie)."""
    for header in r.headers.getlist("set-cookie"):
        if header.startswith(COOKIE + "="):
            return header.partition("=")[2].partition(";")[0] or None
    return None


async def remembered_login(env: Env, uid: int = 1) -> str:
    client = TestClient(env.app)
    r = await client.post(f"/login/{uid}")
    assert r.status_code == 302
    return client.cookies[COOKIE]


async def restore(env: Env, token: str) -> tuple[int, str | None, TestClient]:
    """A browser with only the remember cookie: the status of /me and the new cookie set."""
    client = TestClient(env.app, cookies={COOKIE: token})
    r = await client.get("/me")
    return r.status_code, remember_cookie(r), client


def test_a_restore_spends_the_token_and_issues_the_next(run: Callable[[Main], None]) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        first = await remembered_login(env)
        status, second, browser = await restore(env, first)
        assert (status, second is not None) == (200, True)
        assert second != first
        assert (await browser.get("/me")).json == {"id": 1}  # now in the session
        status, third, _ = await restore(env, second or "")
        assert status == 200
        assert third not in (None, first, second)

    run(main)


def test_a_replayed_token_revokes_its_family_and_its_sessions(
    run: Callable[[Main], None],
) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        stolen = await remembered_login(env)
        other_device = await remembered_login(env)
        # The thief uses the copied cookie first; the real browser comes back later.
        status, rotated, thief = await restore(env, stolen)
        assert status == 200
        assert rotated is not None
        env.clock.now += GRACE + 1
        status, reissued, _ = await restore(env, stolen)
        assert (status, reissued) == (302, None)
        # The whole family is dead: the thief's next token and the thief's session.
        assert (await restore(env, rotated))[:2] == (302, None)
        assert (await thief.get("/me")).status_code == 302
        # Another login's family (another device) is untouched.
        assert (await restore(env, other_device))[0] == 200

    run(main)


def test_a_password_login_is_no_longer_tied_to_the_token_family(
    run: Callable[[Main], None],
) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        stolen = await remembered_login(env)
        status, _, browser = await restore(env, stolen)
        assert status == 200
        await browser.post("/login/1")  # the owner types the password again
        env.clock.now += GRACE + 1
        assert (await restore(env, stolen))[0] == 302  # the replay revokes the old family
        assert (await browser.get("/me")).json == {"id": 1}  # but not the password login

    run(main)


def test_the_previous_token_within_grace_logs_in_without_a_new_token(
    run: Callable[[Main], None],
) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        first = await remembered_login(env)
        status, second, _ = await restore(env, first)
        assert status == 200
        assert second is not None
        env.clock.now += GRACE / 2
        status, none, _ = await restore(env, first)  # a parallel request of that browser
        assert (status, none) == (200, None)
        assert (await restore(env, second))[0] == 200  # the family lives on

    run(main)


@pytest.mark.parametrize("grace", [GRACE, 0.0])
def test_concurrent_restores_with_one_cookie_mint_one_token(
    run: Callable[[Main], None], grace: float
) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env(grace=grace)
        token = await remembered_login(env)
        env.barrier.n = 20
        results = await asyncio.gather(*(restore(env, token) for _ in range(20)))
        env.barrier.n = 0
        minted = [cookie for _, cookie, _ in results if cookie]
        assert len(minted) == 1
        statuses = sorted(status for status, _, _ in results)
        if grace:
            assert statuses == [200] * 20  # one browser's parallel requests all get in
            assert (await restore(env, minted[0]))[0] == 200
        else:
            # Strict: the losers are replays, and a replay revokes the family.
            assert statuses.count(302) == 19
            assert (await restore(env, minted[0]))[0] == 302

    run(main)


def test_concurrent_restores_on_two_workers_sharing_a_store(redis_db: str) -> None:
    async def main() -> None:
        stores = [RedisStore(redis_db), RedisStore(redis_db)]  # one client per worker
        workers = [make_env(store) for store in stores]
        token = await remembered_login(workers[0])
        results = await asyncio.gather(*(restore(workers[i % 2], token) for i in range(20)))
        assert len([cookie for _, cookie, _ in results if cookie]) == 1
        for store in stores:
            await store.close()

    asyncio.run(main())


def test_a_cookie_copied_before_logout_is_dead_after_it(run: Callable[[Main], None]) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        laptop = TestClient(env.app)
        await laptop.post("/login/1")
        copied = laptop.cookies[COOKIE]
        phone = await remembered_login(env)
        bob = await remembered_login(env, uid=2)
        r = await laptop.post("/logout")
        assert r.status_code == 200
        assert COOKIE not in laptop.cookies
        # Every remember token of the user is revoked, on every device; not bob's.
        assert (await restore(env, copied))[:2] == (302, None)
        assert (await restore(env, phone))[:2] == (302, None)
        assert (await restore(env, bob))[0] == 200
        # Logging in again with "remember me" works as before.
        assert (await restore(env, await remembered_login(env)))[0] == 200

    run(main)


def test_logout_from_a_browser_with_only_the_cookie_revokes_it(
    run: Callable[[Main], None],
) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        token = await remembered_login(env)
        copy = await remembered_login(env)
        browser = TestClient(env.app, cookies={COOKIE: token})
        await browser.post("/logout")  # the session was gone; the cookie names the user
        assert (await restore(env, copy))[0] == 302

    run(main)


def test_password_change_revokes_remember_tokens(run: Callable[[Main], None]) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        # 1. The app bumps the user's session version (the showcase does).
        token = await remembered_login(env)
        env.users[1].session_version += 1
        assert (await restore(env, token))[:2] == (302, None)
        env.users[1].session_version -= 1  # even the old version back cannot revive it
        assert (await restore(env, token))[0] == 302
        # 2. Or it revokes the tokens explicitly.
        token = await remembered_login(env)
        client = TestClient(env.app)

        @env.app.post("/password")
        async def password(request: Request) -> str:
            await env.login.revoke_remember_tokens(request, env.users[1])
            return "changed"

        assert (await client.post("/password")).text == "changed"
        assert (await restore(env, token))[0] == 302

    run(main)


def test_only_the_canonical_remember_cookie_is_accepted(run: Callable[[Main], None]) -> None:
    async def main(new_env: Callable[..., Env]) -> None:
        env = new_env()
        token = await remembered_login(env)
        for label, value in non_canonical_spellings(token).items():
            assert (await restore(env, value))[:2] == (302, None), label
        assert (await restore(env, token))[0] == 200

    run(main)


def test_a_store_without_swap_is_refused() -> None:
    class Plain:
        async def load(self, session_id: str) -> dict[str, Any] | None:
            return None

        async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
            return None

        async def delete(self, session_id: str) -> None:
            return None

    with pytest.raises(ConfigurationError, match="atomic swap"):
        Login(store=Plain())
    env = make_env(Plain())
    with pytest.raises(ConfigurationError, match="atomic swap"):
        env.login.init_app(env.app)  # the session's store would hold the tokens
    client = TestClient(env.app).sync
    assert client.post("/login/1").status_code == 500  # without init_app: never a silent pass
    client.close()
    with pytest.raises(ConfigurationError, match="remember_grace"):
        Login(remember_grace=-1)
