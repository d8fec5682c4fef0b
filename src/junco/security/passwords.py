"""Password hashing: argon2id when argon2-cffi is installed, scrypt from the stdlib otherwise.

The defaults are OWASP's Password Storage Cheat Sheet minimums: argon2id with
19 MiB of memory, 2 iterations and 1 lane; scrypt with N=2**17, r=8, p=1.
Both produce self-describing strings, so parameters can be raised later and
old hashes upgraded at the next login (:func:`needs_rehash`)::

    $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
    $scrypt$n=131072,r=8,p=1$<salt>$<hash>

Hashing is deliberately slow and memory-hungry, so in async code use
:func:`hash_password_async` and :func:`verify_password_async`, which run in
a worker thread; at most ``max_concurrency`` hashes run at once per hasher,
which bounds the memory a flood of login attempts can take. Hashes are
checked for sane parameters before use, so a planted hash cannot ask for
gigabytes. Verifying never raises for a bad hash: it returns ``False``.

Every verification costs the same, whoever logs in. The hasher remembers the
*profiles* (scheme and parameters) of the hashes it has verified, its own
current one included, and each check does one verification per profile: the
real one against the user's hash, a dummy one for each other profile. An
unknown user (``encoded=None``) gets only dummies, one per profile. So a
user whose hash is from an older cost setting answers no differently from
an unknown name. Declare the hashes the app still holds at start-up with
:meth:`PasswordHasher.expect` (otherwise a profile counts from the first
login that uses it on), and upgrade them at login with :func:`needs_rehash`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import threading
from typing import Any, Literal

from ..exceptions import ConfigurationError

#: OWASP's argon2id minimums: memory in KiB, iterations, lanes.
ARGON2_MEMORY_COST = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1
#: OWASP's scrypt minimums.
SCRYPT_N = 2**17
SCRYPT_R = 8
SCRYPT_P = 1
#: Longest password accepted, in characters (bytes for ``bytes`` passwords).
MAX_PASSWORD_LENGTH = 1024

_MAX_HASH_LENGTH = 512
_MAX_MEMORY_BYTES = 1024**3  # refuse stored hashes that would need more to verify
_MAX_TIME_COST = 64
_MAX_PARALLELISM = 64
_SALT_BYTES = 16
_MAX_PROFILES = 8  # a bound on the work of one check, whatever hashes are planted
_KEY_BYTES = 32
_B64 = r"[A-Za-z0-9+/]{16,88}"
_SCRYPT = re.compile(rf"\$scrypt\$n=(\d{{1,8}}),r=(\d{{1,3}}),p=(\d{{1,3}})\$({_B64})\$({_B64})")

Algorithm = Literal["argon2id", "scrypt"]
#: A hash's scheme and cost parameters: hashes with equal profiles cost the same.
Profile = tuple[Any, ...]


class PasswordHasher:
    """Hashes and verifies passwords with one set of parameters.

    The module-level functions use a shared default instance; make your own
    to change the cost (tests use cheap parameters, for instance).

    Args:
        time_cost: argon2id iterations.
        memory_cost: argon2id memory, in KiB.
        parallelism: argon2id lanes.
        scrypt_n: scrypt CPU/memory cost (a power of two).
        scrypt_r: scrypt block size.
        scrypt_p: scrypt parallelisation.
        algorithm: ``"argon2id"`` or ``"scrypt"``; ``None`` picks argon2id
            when argon2-cffi can be imported and scrypt otherwise.
        max_length: Longest password accepted.
        max_concurrency: Most hashes computed at once by this hasher.

    Raises:
        ValueError: a parameter out of range.
    """

    def __init__(
        self,
        *,
        time_cost: int = ARGON2_TIME_COST,
        memory_cost: int = ARGON2_MEMORY_COST,
        parallelism: int = ARGON2_PARALLELISM,
        scrypt_n: int = SCRYPT_N,
        scrypt_r: int = SCRYPT_R,
        scrypt_p: int = SCRYPT_P,
        algorithm: Algorithm | None = None,
        max_length: int = MAX_PASSWORD_LENGTH,
        max_concurrency: int | None = None,
    ) -> None:
        if algorithm not in (None, "argon2id", "scrypt"):
            raise ConfigurationError(f"unknown password algorithm {algorithm!r}")
        if not _scrypt_ok(scrypt_n, scrypt_r, scrypt_p):
            raise ConfigurationError(
                "scrypt_n must be a power of two >= 2; r and p small positives"
            )
        if not (
            1 <= time_cost <= _MAX_TIME_COST
            and 8 * parallelism <= memory_cost <= _MAX_MEMORY_BYTES // 1024
            and 1 <= parallelism <= _MAX_PARALLELISM
        ):
            raise ConfigurationError("argon2 parameters out of range")
        if max_length < 1:
            raise ConfigurationError("max_length must be positive")
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self.parallelism = parallelism
        self.scrypt_n = scrypt_n
        self.scrypt_r = scrypt_r
        self.scrypt_p = scrypt_p
        self.algorithm = algorithm
        self.max_length = max_length
        limit = max_concurrency or min(8, os.cpu_count() or 1)
        self._gate = threading.BoundedSemaphore(limit)
        self._dummies: dict[Profile, str] = {}
        self._dummy_lock = threading.Lock()
        self._current: tuple[Profile, Profile] | None = None  # (settings, profile)

    # -- hashing -----------------------------------------------------------------------

    def hash(self, password: str | bytes) -> str:
        """Hash ``password`` with a fresh random salt.

        Raises:
            TypeError: ``password`` is not ``str`` or ``bytes``.
            ValueError: it is longer than ``max_length`` or not encodable as UTF-8.
            ImportError: ``algorithm="argon2id"`` without argon2-cffi installed.
        """
        if not isinstance(password, (str, bytes)):
            raise TypeError("a password must be str or bytes")
        if len(password) > self.max_length:
            raise ValueError(f"passwords are limited to {self.max_length} characters")
        secret = password.encode() if isinstance(password, str) else password
        argon2 = _argon2() if self.algorithm != "scrypt" else None
        if argon2 is None and self.algorithm == "argon2id":
            raise ImportError('argon2id needs argon2-cffi: pip install "junco[security]"')
        with self._gate:
            if argon2 is not None:
                return str(self._argon2_hasher(argon2).hash(secret))
            salt = secrets.token_bytes(_SALT_BYTES)
            n, r, p = self.scrypt_n, self.scrypt_r, self.scrypt_p
            key = _scrypt(secret, salt, n, r, p)
        return f"$scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(key)}"

    def verify(self, password: str | bytes, encoded: str | None) -> bool:
        """Whether ``password`` matches ``encoded``; never raises.

        ``encoded=None`` (no such user) does the same work as a known user's
        check, against dummy hashes, and returns ``False``, so response times
        do not reveal which accounts exist (see the module doc: every check
        does one verification per profile the hasher knows).
        """
        if not isinstance(password, (str, bytes)) or len(password) > self.max_length:
            return False
        if encoded is None:
            self.dummy_verify(password)
            return False
        if not isinstance(encoded, str) or len(encoded) > _MAX_HASH_LENGTH:
            return False
        try:
            secret = password.encode() if isinstance(password, str) else password
        except UnicodeEncodeError:
            return False
        profile = self._learn(encoded)
        result = self._check(secret, encoded)
        self._equalise(secret, skip=profile)
        return result

    def expect(self, *encoded: str) -> None:
        """Declare hashes the app holds, so unknown users cost as much as their owners.

        Call it at start-up with one hash of each kind still stored (older
        schemes or cost settings). Only their profiles are kept, at most 8.
        """
        for item in encoded:
            if isinstance(item, str) and len(item) <= _MAX_HASH_LENGTH:
                self._learn(item)

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` should be replaced by a new hash (call it after a good verify).

        True for unrecognised strings, for scrypt hashes when argon2id is
        available (and not ruled out by ``algorithm``), and for hashes made
        with weaker parameters than this hasher's.
        """
        if not isinstance(encoded, str) or len(encoded) > _MAX_HASH_LENGTH:
            return True
        if encoded.startswith("$argon2"):
            argon2 = _argon2()
            if argon2 is None or self.algorithm == "scrypt":
                return False  # nothing better to offer here
            params = _argon2_params(argon2, encoded)
            return params is None or (
                params.type is not argon2.Type.ID
                or params.version < 19
                or params.memory_cost < self.memory_cost
                or params.time_cost < self.time_cost
                or params.hash_len < 16
                or params.salt_len < _SALT_BYTES
            )
        parsed = _parse_scrypt(encoded)
        if parsed is None:
            return True
        if self.algorithm != "scrypt" and _argon2() is not None:
            return True
        n, r, p, salt, key = parsed
        return (
            n < self.scrypt_n
            or r < self.scrypt_r
            or p < self.scrypt_p
            or len(salt) < _SALT_BYTES
            or len(key) < _KEY_BYTES
        )

    def dummy_verify(self, password: str | bytes = "") -> bool:
        """Do the work of checking a known user's password, against dummy hashes; ``False``.

        Call it when the user name is unknown, so that answering takes as
        long as for a known user with a wrong password: one verification per
        profile the hasher knows (its current algorithm and cost, and those
        of the hashes it has verified or was told to :meth:`expect`).
        """
        if not isinstance(password, (str, bytes)) or len(password) > self.max_length:
            password = ""
        try:
            secret = password.encode() if isinstance(password, str) else password
        except UnicodeEncodeError:
            secret = b""
        self._equalise(secret, skip=None)
        return False

    # -- equal work --------------------------------------------------------------------

    def _current_profile(self) -> Profile:
        """The profile of the hashes :meth:`hash` makes now (its dummy made on first use)."""
        if self.algorithm == "scrypt" or _argon2() is None:
            key: Profile = ("scrypt", self.scrypt_n, self.scrypt_r, self.scrypt_p)
        else:
            key = ("argon2", self.time_cost, self.memory_cost, self.parallelism)
        current = self._current
        if current is None or current[0] != key:
            dummy = self.hash(secrets.token_hex(16))
            profile = _profile(dummy)
            if profile is None:  # pragma: no cover - our own hashes always parse
                raise RuntimeError("unreadable hash from this hasher")
            with self._dummy_lock:
                self._dummies.setdefault(profile, dummy)
            current = self._current = (key, profile)
        return current[1]

    def _learn(self, encoded: str) -> Profile | None:
        """Remember the profile of ``encoded`` (bounded); None if it is not a usable hash."""
        profile = _profile(encoded)
        if profile is None:
            return None
        with self._dummy_lock:
            if profile not in self._dummies and len(self._dummies) < _MAX_PROFILES:
                dummy = _dummy_hash(profile)
                if dummy is None:
                    return None
                self._dummies[profile] = dummy
        return profile

    def _equalise(self, secret: bytes, skip: Profile | None) -> None:
        """Verify ``secret`` against the dummy of every known profile but ``skip``."""
        self._current_profile()
        with self._dummy_lock:
            dummies = [d for p, d in self._dummies.items() if p != skip]
        for dummy in dummies:
            self._check(secret, dummy)

    def _check(self, secret: bytes, encoded: str) -> bool:
        """One real verification of ``secret`` against ``encoded``."""
        if encoded.startswith("$argon2"):
            return self._verify_argon2(secret, encoded)
        if encoded.startswith("$scrypt$"):
            return self._verify_scrypt(secret, encoded)
        return False

    # -- async -------------------------------------------------------------------------

    async def hash_async(self, password: str | bytes) -> str:
        """:meth:`hash` in a worker thread, keeping the event loop free."""
        return await asyncio.to_thread(self.hash, password)

    async def verify_async(self, password: str | bytes, encoded: str | None) -> bool:
        """:meth:`verify` in a worker thread, keeping the event loop free."""
        return await asyncio.to_thread(self.verify, password, encoded)

    async def dummy_verify_async(self, password: str | bytes = "") -> bool:
        """:meth:`dummy_verify` in a worker thread; always ``False``."""
        return await asyncio.to_thread(self.dummy_verify, password)

    # -- backends ----------------------------------------------------------------------

    def _argon2_hasher(self, argon2: Any) -> Any:
        return argon2.PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            hash_len=_KEY_BYTES,
            salt_len=_SALT_BYTES,
            type=argon2.Type.ID,
        )

    def _verify_argon2(self, secret: bytes, encoded: str) -> bool:
        argon2 = _argon2()
        if argon2 is None:
            return False
        params = _argon2_params(argon2, encoded)
        if params is None or not (
            params.time_cost <= _MAX_TIME_COST
            and params.memory_cost <= _MAX_MEMORY_BYTES // 1024
            and params.parallelism <= _MAX_PARALLELISM
        ):
            return False
        try:
            with self._gate:
                return bool(self._argon2_hasher(argon2).verify(encoded, secret))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        except (ValueError, TypeError):
            return False

    def _verify_scrypt(self, secret: bytes, encoded: str) -> bool:
        parsed = _parse_scrypt(encoded)
        if parsed is None:
            return False
        n, r, p, salt, key = parsed
        with self._gate:
            candidate = _scrypt(secret, salt, n, r, p, len(key))
        return hmac.compare_digest(candidate, key)


def _argon2() -> Any:
    """The argon2 module, or None when argon2-cffi is not installed."""
    try:
        import argon2
    except ImportError:
        return None
    return argon2


def _argon2_params(argon2: Any, encoded: str) -> Any:
    try:
        return argon2.extract_parameters(encoded)
    except (argon2.exceptions.InvalidHashError, ValueError, TypeError):
        return None


def _profile(encoded: str) -> Profile | None:
    """The scheme and cost parameters of a usable hash, or None."""
    if encoded.startswith("$argon2"):
        argon2 = _argon2()
        params = None if argon2 is None else _argon2_params(argon2, encoded)
        if params is None or not (
            params.time_cost <= _MAX_TIME_COST
            and params.memory_cost <= _MAX_MEMORY_BYTES // 1024
            and params.parallelism <= _MAX_PARALLELISM
            and 8 <= params.salt_len <= 64
            and 4 <= params.hash_len <= 64
        ):
            return None
        return (
            "argon2",
            params.type.name,
            params.version,
            params.time_cost,
            params.memory_cost,
            params.parallelism,
            params.salt_len,
            params.hash_len,
        )
    parsed = _parse_scrypt(encoded)
    if parsed is None:
        return None
    n, r, p, salt, key = parsed
    return ("scrypt", n, r, p, len(salt), len(key))


def _dummy_hash(profile: Profile) -> str | None:
    """A hash of a random password with exactly the parameters of ``profile`` (None: cannot)."""
    secret = secrets.token_bytes(16)
    if profile[0] == "argon2":
        argon2 = _argon2()
        _, kind, version, t, m, p, salt_len, hash_len = profile
        try:
            raw = argon2.low_level.hash_secret(
                secret, secrets.token_bytes(salt_len), t, m, p, hash_len, argon2.Type[kind], version
            )
        except (argon2.exceptions.HashingError, ValueError, KeyError):
            return None
        return str(raw.decode("ascii"))
    _, n, r, p, salt_len, key_len = profile
    salt = secrets.token_bytes(salt_len)
    key = _scrypt(secret, salt, n, r, p, key_len)
    return f"$scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(key)}"


def _scrypt_ok(n: int, r: int, p: int) -> bool:
    return (
        2 <= n <= 2**20
        and n & (n - 1) == 0
        and 1 <= r <= 32
        and 1 <= p <= 16
        and 128 * r * (n + p + 2) <= _MAX_MEMORY_BYTES
    )


def _scrypt(secret: bytes, salt: bytes, n: int, r: int, p: int, dklen: int = _KEY_BYTES) -> bytes:
    # OpenSSL needs 128*r*(n+p+2) bytes; the default cap (32 MiB) is too low for OWASP's N.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen)


def _parse_scrypt(encoded: str) -> tuple[int, int, int, bytes, bytes] | None:
    m = _SCRYPT.fullmatch(encoded)
    if m is None:
        return None
    n, r, p = int(m[1]), int(m[2]), int(m[3])
    salt, key = _unb64(m[4]), _unb64(m[5])
    if salt is None or key is None or not _scrypt_ok(n, r, p) or len(key) < 16:
        return None
    return n, r, p, salt, key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


default_hasher = PasswordHasher()


def hash_password(password: str | bytes) -> str:
    """Hash ``password`` with the default hasher (see :meth:`PasswordHasher.hash`)."""
    return default_hasher.hash(password)


def verify_password(password: str | bytes, encoded: str | None) -> bool:
    """Check ``password`` against ``encoded``; ``False`` for any bad input, never raises."""
    return default_hasher.verify(password, encoded)


def needs_rehash(encoded: str) -> bool:
    """Whether ``encoded`` should be re-hashed with the default parameters."""
    return default_hasher.needs_rehash(encoded)


def dummy_verify(password: str | bytes = "") -> bool:
    """Spend one verification's time for an unknown user; always ``False``."""
    return default_hasher.dummy_verify(password)


async def hash_password_async(password: str | bytes) -> str:
    """:func:`hash_password` in a worker thread."""
    return await default_hasher.hash_async(password)


async def verify_password_async(password: str | bytes, encoded: str | None) -> bool:
    """:func:`verify_password` in a worker thread."""
    return await default_hasher.verify_async(password, encoded)


async def dummy_verify_async(password: str | bytes = "") -> bool:
    """:func:`dummy_verify` in a worker thread."""
    return await default_hasher.dummy_verify_async(password)


__all__ = [
    "ARGON2_MEMORY_COST",
    "ARGON2_PARALLELISM",
    "ARGON2_TIME_COST",
    "MAX_PASSWORD_LENGTH",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "PasswordHasher",
    "default_hasher",
    "dummy_verify",
    "dummy_verify_async",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify_password",
    "verify_password_async",
]
