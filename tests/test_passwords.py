"""Password hashing: real argon2id, real scrypt (argon2 hidden), hostile hashes and inputs."""

from __future__ import annotations

import asyncio
import base64
import re
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import argon2
import pytest

from junco.security import passwords
from junco.security.passwords import (
    ARGON2_MEMORY_COST,
    ARGON2_PARALLELISM,
    ARGON2_TIME_COST,
    MAX_PASSWORD_LENGTH,
    SCRYPT_N,
    SCRYPT_P,
    SCRYPT_R,
    PasswordHasher,
    dummy_verify,
    dummy_verify_async,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

# Cheap parameters keep the suite fast; the defaults are exercised in a few tests.
CHEAP: dict[str, Any] = {"time_cost": 1, "memory_cost": 64, "scrypt_n": 2**4, "scrypt_r": 1}


@pytest.fixture
def fast() -> PasswordHasher:
    return PasswordHasher(**CHEAP)


@pytest.fixture
def no_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import argon2`` fail, as when argon2-cffi is not installed."""
    monkeypatch.setitem(sys.modules, "argon2", None)


# -- argon2id ---------------------------------------------------------------------------


def test_default_parameters_are_owasps() -> None:
    assert (ARGON2_MEMORY_COST, ARGON2_TIME_COST, ARGON2_PARALLELISM) == (19456, 2, 1)
    assert (SCRYPT_N, SCRYPT_R, SCRYPT_P) == (2**17, 8, 1)
    encoded = hash_password("correct horse")
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    params = argon2.extract_parameters(encoded)
    assert (params.salt_len, params.hash_len) == (16, 32)
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not needs_rehash(encoded)


def test_argon2_round_trip(fast: PasswordHasher) -> None:
    encoded = fast.hash("s3cret")
    assert encoded.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert fast.verify("s3cret", encoded)
    assert not fast.verify("s3cret ", encoded)
    assert not fast.verify("", encoded)
    assert fast.hash("s3cret") != encoded  # a fresh salt each time


def test_str_and_bytes_are_the_same_password(fast: PasswordHasher) -> None:
    encoded = fast.hash("pässword")
    assert fast.verify("pässword".encode(), encoded)
    assert fast.verify("pässword", fast.hash("pässword".encode()))


def test_unicode_and_empty_passwords(fast: PasswordHasher) -> None:
    for password in ("", "🔑 ключ 鍵", "a\x00b", " "):
        encoded = fast.hash(password)
        assert fast.verify(password, encoded)
        assert not fast.verify(password + "x", encoded)


def test_argon2_hashes_made_elsewhere_verify(fast: PasswordHasher) -> None:
    other = argon2.PasswordHasher(time_cost=1, memory_cost=32, parallelism=2)
    assert fast.verify("pw", other.hash("pw"))
    argon2i = argon2.PasswordHasher(time_cost=1, memory_cost=32, type=argon2.Type.I)
    encoded = argon2i.hash("pw")
    assert fast.verify("pw", encoded)
    assert fast.needs_rehash(encoded)  # not argon2id


def test_needs_rehash_for_weaker_argon2(fast: PasswordHasher) -> None:
    strong = PasswordHasher(time_cost=2, memory_cost=128)
    weak_memory = PasswordHasher(time_cost=2, memory_cost=64).hash("pw")
    weak_time = PasswordHasher(time_cost=1, memory_cost=128).hash("pw")
    assert strong.needs_rehash(weak_memory)
    assert strong.needs_rehash(weak_time)
    assert not strong.needs_rehash(strong.hash("pw"))
    # stronger than asked is fine
    assert not fast.needs_rehash(strong.hash("pw"))


# -- scrypt -----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_argon2")
def test_scrypt_fallback_when_argon2_is_missing(fast: PasswordHasher) -> None:
    encoded = fast.hash("s3cret")
    assert encoded.startswith("$scrypt$n=16,r=1,p=1$")
    assert fast.verify("s3cret", encoded)
    assert not fast.verify("s3creT", encoded)
    assert not fast.needs_rehash(encoded)


@pytest.mark.usefixtures("no_argon2")
def test_scrypt_default_parameters() -> None:
    encoded = PasswordHasher().hash("pw")
    assert encoded.startswith("$scrypt$n=131072,r=8,p=1$")
    _, _, _, salt, key = encoded.split("$")
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(key + "=")) == 32
    assert PasswordHasher().verify("pw", encoded)


def test_scrypt_hash_is_upgraded_once_argon2_is_available(fast: PasswordHasher) -> None:
    encoded = PasswordHasher(algorithm="scrypt", scrypt_n=16, scrypt_r=1).hash("pw")
    assert encoded.startswith("$scrypt$")
    assert fast.verify("pw", encoded)  # old hashes keep working
    assert fast.needs_rehash(encoded)
    assert not PasswordHasher(algorithm="scrypt", scrypt_n=16, scrypt_r=1).needs_rehash(encoded)


@pytest.mark.usefixtures("no_argon2")
def test_weaker_scrypt_needs_rehash() -> None:
    strong = PasswordHasher(scrypt_n=32, scrypt_r=2)
    assert strong.needs_rehash(PasswordHasher(scrypt_n=16, scrypt_r=2).hash("pw"))
    assert strong.needs_rehash(PasswordHasher(scrypt_n=32, scrypt_r=1).hash("pw"))
    assert not strong.needs_rehash(strong.hash("pw"))


@pytest.mark.usefixtures("no_argon2")
def test_argon2_hash_without_argon2(fast: PasswordHasher) -> None:
    encoded = "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43
    assert not fast.verify("pw", encoded)
    assert not fast.needs_rehash(encoded)  # nothing better is available
    with pytest.raises(ImportError, match=r"junco\[security\]"):
        PasswordHasher(algorithm="argon2id").hash("pw")


# -- hostile input ----------------------------------------------------------------------


def _scrypt_hash(fast: PasswordHasher) -> str:
    return PasswordHasher(algorithm="scrypt", scrypt_n=16, scrypt_r=1).hash("pw")


GARBAGE = [
    "",
    "x",
    "$",
    "$$$$",
    "plaintext-password",
    "$argon2id$",
    "$argon2id$v=19$m=64,t=1,p=1$$",
    "$argon2id$v=19$m=64,t=1,p=1$!!!$!!!",
    "$argon2id$v=19$m=abc,t=1,p=1$c29tZXNhbHQ$aGFzaA",
    "$argon2x$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43,
    "$scrypt$",
    "$scrypt$n=16,r=1,p=1$$",
    "$scrypt$n=15,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43,  # not a power of two
    "$scrypt$n=1,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43,
    "$scrypt$n=16,r=0,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43,
    "$scrypt$n=16,r=1,p=0$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43,
    "$scrypt$n=16,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 10,  # key too short
    "$scrypt$n=16,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 42 + "*",
    "$scrypt$n=16,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 41,  # impossible length
    "$scrypt$n=16,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43 + "\n",
    "$pbkdf2-sha256$29000$c2FsdA$aGFzaA",
    "$2b$12$" + "a" * 53,
    "$scrypt$n=16,r=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "é" * 43,
    "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$" + "é" * 43,
    "$" * 10_000,
    "A" * 1_000_000,
]


@pytest.mark.parametrize("encoded", GARBAGE)
def test_garbage_hashes_are_false_never_errors(fast: PasswordHasher, encoded: str) -> None:
    assert fast.verify("pw", encoded) is False
    rehash = fast.needs_rehash(encoded)
    # (a broken argon2 hash whose parameter block still parses may report False)
    assert rehash is True or (rehash is False and encoded.startswith("$argon2id$v=19$m=64"))


@pytest.mark.parametrize("value", [None, 0, b"$scrypt$", ["$argon2id$"], object()])
def test_hashes_of_the_wrong_type(fast: PasswordHasher, value: Any) -> None:
    if value is not None:
        assert fast.verify("pw", cast(str, value)) is False
    assert fast.needs_rehash(cast(str, value)) is True


def test_planted_hashes_cannot_demand_huge_resources(fast: PasswordHasher) -> None:
    salt, key = "c29tZXNhbHRzb21lc2FsdA", "A" * 43
    for encoded in (
        f"$argon2id$v=19$m={4 * 1024**2},t=1,p=1${salt}${key}",  # 4 GiB
        f"$argon2id$v=19$m=64,t=100000,p=1${salt}${key}",
        f"$argon2id$v=19$m=1024,t=1,p=255${salt}${key}",
        f"$scrypt$n={2**24},r=8,p=1${salt}${key}",  # 16 GiB
        f"$scrypt$n=1024,r=999,p=1${salt}${key}",
        f"$scrypt$n=1024,r=8,p=999${salt}${key}",
    ):
        assert fast.verify("pw", encoded) is False


def test_tampered_hashes_fail(fast: PasswordHasher) -> None:
    for encoded in (fast.hash("pw"), _scrypt_hash(fast)):
        head, _, tail = encoded.rpartition("$")
        flipped = ("B" if tail[0] == "A" else "A") + tail[1:]
        assert fast.verify("pw", encoded)
        assert not fast.verify("pw", f"{head}${flipped}")
        assert not fast.verify("pw", encoded[:-2])
        assert not fast.verify("pw", encoded + "AAAA")


def test_long_passwords(fast: PasswordHasher) -> None:
    longest = "x" * MAX_PASSWORD_LENGTH
    assert fast.verify(longest, fast.hash(longest))
    with pytest.raises(ValueError, match="limited"):
        fast.hash(longest + "x")
    with pytest.raises(ValueError, match="limited"):
        fast.hash(b"x" * (MAX_PASSWORD_LENGTH + 1))
    encoded = fast.hash("pw")
    assert fast.verify(longest + "x", encoded) is False
    assert fast.verify("x" * 10**7, encoded) is False
    assert PasswordHasher(max_length=8, **CHEAP).verify("123456789", encoded) is False


def test_bad_password_values(fast: PasswordHasher) -> None:
    encoded = fast.hash("pw")
    for value in (None, 1, ["pw"], object()):
        with pytest.raises(TypeError):
            fast.hash(cast(str, value))
        assert fast.verify(cast(str, value), encoded) is False
    with pytest.raises(ValueError, match="surrogate"):
        fast.hash("\ud800")
    assert fast.verify("\ud800", encoded) is False


def test_bad_hasher_parameters() -> None:
    for options in (
        {"algorithm": "md5"},
        {"scrypt_n": 1000},
        {"scrypt_n": 2**30},
        {"scrypt_r": 0},
        {"time_cost": 0},
        {"memory_cost": 4},
        {"parallelism": 0},
        {"max_length": 0},
    ):
        with pytest.raises(ValueError, match=r"algorithm|scrypt|argon2|max_length"):
            PasswordHasher(**options)


# -- unknown users ----------------------------------------------------------------------


def test_dummy_verify_for_unknown_users(fast: PasswordHasher) -> None:
    assert fast.dummy_verify() is False
    assert fast.dummy_verify("guess") is False
    assert fast.dummy_verify(cast(str, None)) is False
    assert fast.verify("guess", None) is False
    assert len(fast._dummies) == 1  # made once, then reused
    [dummy] = fast._dummies.values()
    assert dummy.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    fast.dummy_verify()
    assert list(fast._dummies.values()) == [dummy]


@pytest.mark.usefixtures("no_argon2")
def test_dummy_verify_uses_the_algorithm_in_use(fast: PasswordHasher) -> None:
    assert fast.verify("guess", None) is False
    [dummy] = fast._dummies.values()
    assert dummy.startswith("$scrypt$n=16,r=1,p=1$")


def _work(hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records the profile (scheme and cost) of every real verification the hasher runs."""
    done: list[Any] = []
    check = hasher._check

    def recording(secret: bytes, encoded: str) -> bool:
        done.append(passwords._profile(encoded))
        return check(secret, encoded)

    monkeypatch.setattr(hasher, "_check", recording)
    return done


LEGACY = {
    "scrypt": {"algorithm": "scrypt", "scrypt_n": 2**5, "scrypt_r": 2},
    "weaker argon2id": {"time_cost": 1, "memory_cost": 32},
}


@pytest.mark.parametrize("legacy_options", LEGACY.values(), ids=list(LEGACY))
def test_unknown_users_cost_what_legacy_and_current_users_cost(
    legacy_options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not timing: which verifications run, with which scheme and parameters."""
    old = PasswordHasher(**{**CHEAP, **legacy_options}).hash("old password")
    current = PasswordHasher(**CHEAP)
    new = current.hash("new password")
    current.expect(old)  # the app still holds hashes like this one
    done = _work(current, monkeypatch)
    profiles = {passwords._profile(old), passwords._profile(new)}
    assert len(profiles) == 2
    paths: dict[str, Callable[[], bool]] = {
        "legacy user, right password": lambda: current.verify("old password", old),
        "legacy user, wrong password": lambda: current.verify("guess", old),
        "current user, right password": lambda: current.verify("new password", new),
        "current user, wrong password": lambda: current.verify("guess", new),
        "unknown user": lambda: current.verify("guess", None),
        "dummy_verify": lambda: current.dummy_verify("guess"),
    }
    for label, path in paths.items():
        done.clear()
        path()
        # One verification per profile the app holds, whichever path: the same work.
        assert sorted(done, key=repr) == sorted(profiles, key=repr), label
    assert current.verify("old password", old) is True
    assert current.verify("new password", new) is True


def test_a_legacy_hash_seen_at_login_joins_the_unknown_user_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = PasswordHasher(**{**CHEAP, "scrypt_n": 2**5}, algorithm="scrypt").hash("pw")
    hasher = PasswordHasher(**CHEAP)
    done = _work(hasher, monkeypatch)
    hasher.verify("guess", None)
    assert len(done) == 1  # only the current scheme is known so far
    hasher.verify("pw", old)  # a legacy user logs in
    done.clear()
    hasher.verify("guess", None)
    assert sorted(done, key=repr) == sorted(
        {passwords._profile(old), passwords._profile(hasher.hash("x"))}, key=repr
    )


def test_planted_hashes_cannot_grow_the_work_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hasher = PasswordHasher(**CHEAP)
    for n in range(1, 16):
        hasher.expect(PasswordHasher(**{**CHEAP, "scrypt_n": 2**n}, algorithm="scrypt").hash("x"))
    done = _work(hasher, monkeypatch)
    hasher.dummy_verify()
    assert len(done) == passwords._MAX_PROFILES + 1  # what it learned, and its own
    hasher.expect("garbage", "$argon2id$v=19$m=64,t=1,p=1$$", cast(str, None))  # ignored


def test_module_dummy_verify() -> None:
    assert dummy_verify() is False
    assert verify_password("pw", None) is False
    assert asyncio.run(dummy_verify_async("pw")) is False


# -- async ------------------------------------------------------------------------------


def test_async_variants_run_off_the_loop(
    fast: PasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real_hash = fast.hash

    def spy(password: str | bytes) -> str:
        threads.append(threading.get_ident())
        return real_hash(password)

    monkeypatch.setattr(fast, "hash", spy)

    async def main() -> tuple[str, bool, bool, bool, int]:
        encoded = await fast.hash_async("pw")
        return (
            encoded,
            await fast.verify_async("pw", encoded),
            await fast.verify_async("nope", encoded),
            await fast.dummy_verify_async("pw"),
            threading.get_ident(),
        )

    encoded, good, bad, dummy, loop_thread = asyncio.run(main())
    assert fast.verify("pw", encoded)
    assert (good, bad, dummy) == (True, False, False)
    assert threads
    assert loop_thread not in threads


def test_module_async_functions() -> None:
    async def main() -> tuple[bool, bool, bool]:
        encoded = await hash_password_async("pw")
        return (
            await verify_password_async("pw", encoded),
            await verify_password_async("px", encoded),
            await verify_password_async("pw", "garbage"),
        )

    assert asyncio.run(main()) == (True, False, False)


def test_async_errors_propagate(fast: PasswordHasher) -> None:
    with pytest.raises(ValueError, match="limited"):
        asyncio.run(fast.hash_async("x" * (MAX_PASSWORD_LENGTH + 1)))


def test_concurrency_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    hasher = PasswordHasher(max_concurrency=2, **CHEAP)
    encoded = hasher.hash("pw")
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()
    real = passwords._argon2

    def counting() -> Any:
        module = real()
        inner = module.PasswordHasher

        class Counting(inner):  # type: ignore[misc, valid-type]
            def verify(self, hash: str, password: bytes) -> bool:
                with lock:
                    state["now"] += 1
                    state["peak"] = max(state["peak"], state["now"])
                try:
                    threading.Event().wait(0.02)
                    return bool(super().verify(hash, password))
                finally:
                    with lock:
                        state["now"] -= 1

        fake = type(sys)("argon2_counting")
        fake.__dict__.update(module.__dict__)
        setattr(fake, "PasswordHasher", Counting)  # noqa: B010
        return fake

    monkeypatch.setattr(passwords, "_argon2", counting)

    async def main() -> list[bool]:
        return await asyncio.gather(*(hasher.verify_async("pw", encoded) for _ in range(8)))

    assert asyncio.run(main()) == [True] * 8
    assert state["peak"] == 2


def test_docs_example() -> None:
    """The "Custom settings" block of docs/passwords.md runs (it asserts its own claim)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "passwords.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    custom = next(b for b in blocks if "PasswordHasher(" in b)
    namespace: dict[str, Any] = {"__name__": "docs_passwords"}
    exec(compile(custom, "docs/passwords.md", "exec"), namespace)
    assert namespace["encoded"].startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    cheap = namespace["cheap_for_tests"]
    assert cheap.verify("x", cheap.hash("x"))
