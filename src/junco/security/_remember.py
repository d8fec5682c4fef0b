"""Remember-me tokens: single-use, revocable, in token families kept in a session store.

Theory of operation
-------------------
The remember cookie is signed (so forged cookies cost no store lookup) and
carries the user id, the session version, the absolute expiry, a *family*
id and a random *token*. The store, never the cookie, decides whether the
token is live. Three kinds of records, all under ``remember:`` keys (session
ids never contain ``:``, so they cannot collide):

- ``remember:u:<user>`` → ``{"g": generation}``: one per user. Deleting it
  (logout, password change, :meth:`RememberTokens.revoke_user`) revokes every
  family of the user: each family remembers the generation it was born in.
- ``remember:f:<family>`` → ``{"u": user id, "g": generation, "p": digest of
  the previous token, "r": when it was rotated}``: one per login with
  "remember me". Deleting it revokes the family.
- ``remember:t:<digest of the token>`` → ``{"f": family, "s": 0 | 1}``: one
  per token, ``s`` = used. Only the digest is stored.

Restoring a login swaps the token record to *used* in one atomic store call
(``swap``: replace if present, return the old record; Redis ``SET XX GET
KEEPTTL``). Of any number of concurrent restores with one cookie exactly one
sees ``s == 0`` and mints the next token; the family record is then updated
with ``swap`` as well, so a family deleted meanwhile is never brought back.
A token that is already used is a replay: within ``grace`` seconds of its
rotation (a browser's parallel requests) it restores the login without a new
token; later it means the cookie was copied, and the whole family is revoked.

Everything fails closed: a record that is missing (evicted from a memory
store, expired, Redis restarted empty) or malformed refuses the token.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("junco")

#: The longest a user record must live: browsers cap cookies at 400 days.
_USER_TTL = 400 * 86400


@runtime_checkable
class AtomicStore(Protocol):
    """A session store that can also replace a record atomically (Memory and Redis stores)."""

    async def load(self, session_id: str) -> dict[str, Any] | None: ...

    async def save(self, session_id: str, data: dict[str, Any], ttl: int) -> None: ...

    async def delete(self, session_id: str) -> None: ...

    async def swap(self, session_id: str, data: dict[str, Any]) -> dict[str, Any] | None: ...


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def _user_key(user_id: str | int) -> str:
    # json.dumps tells the int 1 from the string "1"; the digest bounds the key.
    return "remember:u:" + _digest(json.dumps(user_id))


class RememberTokens:
    """The token families of one ``Login``, kept in ``store``.

    Args:
        store: Where the records live (must have an atomic ``swap``).
        grace: Seconds during which the token just rotated out still
            restores a login (without minting another token).
        own: The store was made for these tokens (no session store to share).
    """

    def __init__(self, store: AtomicStore, grace: float, own: bool = False) -> None:
        self.store = store
        self.grace = grace
        self.own = own

    async def issue(
        self, user_id: str | int, ttl: int, family: str | None = None
    ) -> dict[str, str]:
        """A new token (in a new family unless ``family`` is given): ``{"f": ..., "t": ...}``."""
        store = self.store
        if family is None:
            user_key = _user_key(user_id)
            record = await store.load(user_key)
            generation = record.get("g") if isinstance(record, dict) else None
            if not isinstance(generation, str):
                generation = secrets.token_hex(8)
            await store.save(user_key, {"g": generation}, _USER_TTL)
            family = secrets.token_urlsafe(16)
            entry = {"u": user_id, "g": generation, "p": None, "r": 0}
            await store.save("remember:f:" + family, entry, ttl)
        token = secrets.token_urlsafe(24)
        await store.save("remember:t:" + _digest(token), {"f": family, "s": 0}, ttl)
        return {"f": family, "t": token}

    async def consume(
        self, user_id: str | int, family: str, token: str, now: float, ttl: int
    ) -> dict[str, str] | bool | None:
        """Spend ``token``: the next token, ``True`` (a replay within grace), or None (refused)."""
        store = self.store
        digest = _digest(token)
        old = await store.swap("remember:t:" + digest, {"f": family, "s": 1})
        if not isinstance(old, dict) or old.get("f") != family:
            return None
        fkey = "remember:f:" + family
        if old.get("s") != 0:
            entry = await store.load(fkey)
            if (
                isinstance(entry, dict)
                and entry.get("p") == digest
                and isinstance(entry.get("r"), (int, float))
                and now - entry["r"] < self.grace
                and await self._alive(entry, user_id)
            ):
                return True
            logger.warning("remember-me token replayed: family revoked (a copied cookie?)")
            await store.delete(fkey)
            return None
        entry = await store.load(fkey)
        if not isinstance(entry, dict) or not await self._alive(entry, user_id):
            await store.delete(fkey)
            return None
        # swap, not save: a family revoked since the load above stays revoked.
        if await store.swap(fkey, {**entry, "p": digest, "r": now}) is None:
            return None
        return await self.issue(user_id, ttl, family)

    async def _alive(self, entry: dict[str, Any], user_id: str | int) -> bool:
        if entry.get("u") != user_id or type(entry.get("u")) is not type(user_id):
            return False
        record = await self.store.load(_user_key(user_id))
        return isinstance(record, dict) and record.get("g") == entry.get("g")

    async def family_alive(self, family: str) -> bool:
        """Whether ``family`` was not revoked (sessions restored from it check this)."""
        return isinstance(await self.store.load("remember:f:" + family), dict)

    async def revoke_family(self, family: str) -> None:
        """Revoke one family (its live token and the sessions restored from it)."""
        await self.store.delete("remember:f:" + family)

    async def revoke_user(self, user_id: str | int) -> None:
        """Revoke every remember token of the user."""
        await self.store.delete(_user_key(user_id))
