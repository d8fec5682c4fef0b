"""Signed cookie values: HMAC-SHA256 over the exact text, with key rotation.

A signed value is ``text + "." + base64url(HMAC(k, text))`` (43 characters,
unpadded), with ``k`` derived from each secret key and a purpose, so a
signature made for one purpose (a session id, say) never verifies for another.
The first key signs; every key verifies. The signature is compared in its
encoded form, so a value verifies only if it is exactly what :meth:`Signer.sign`
wrote: ``=`` padding or other low bits never pass (one value, one string).

Objects are compact JSON in base64url, zlib-compressed (marked by a leading
``.``) when that is shorter, the layout itsdangerous uses. The HMAC's inner and
outer hash states are computed once per key, so verifying costs two SHA-256
blocks and a few C calls: a third of ``hmac.digest`` and a fraction of
itsdangerous, whose serializer this replaces for sessions.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from typing import Any

from .._parsing import has_long_digit_run

try:  # orjson is optional
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised when the extra is absent
    _orjson = None  # type: ignore[assignment]

MAC_LENGTH = 43  # 32 bytes in unpadded base64url
#: Verified values remembered per signer (see :meth:`Signer.loads`); at most this many.
_SEEN_LIMIT = 256
_COMPRESS_ABOVE = 200
_MAX_INFLATED = 64 * 1024
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_Hash = Any  # hashlib's hash objects have no public type
_State = tuple[_Hash, _Hash]  # HMAC's inner and outer hashes, key already absorbed


class Signer:
    """Signs and verifies text and JSON objects under a list of keys (first signs)."""

    __slots__ = ("_seen", "_states")

    def __init__(self, keys: list[bytes], purpose: str) -> None:
        states = []
        for key in keys:
            block = hmac.digest(key, purpose.encode(), "sha256").ljust(64, b"\0")
            states.append(
                (
                    hashlib.sha256(bytes(b ^ 0x36 for b in block)),
                    hashlib.sha256(bytes(b ^ 0x5C for b in block)),
                )
            )
        self._states: tuple[_State, ...] = tuple(states)
        # raw value -> its verified, decoded JSON payload. A browser sends the
        # same session cookie on every request until it is re-written, so the
        # HMAC and base64 work is done once per cookie, not once per request.
        # Only values that verified under this signer's keys (fixed for its
        # life) get in: a forged value is never remembered, and an entry stays
        # exactly as valid as it was. Each loads() still parses the JSON afresh
        # (the caller owns and may mutate what it gets).
        # The flag says whether orjson may parse it (decided once, too).
        self._seen: dict[str, tuple[bytes, bool]] = {}

    def sign(self, text: str) -> str:
        return f"{text}.{_mac(self._states[0], text.encode('ascii')).decode('ascii')}"

    def unsign(self, raw: str) -> str | None:
        """The text ``raw`` carries if its signature is valid under one of the keys."""
        text = self._verify(raw)
        return None if text is None else text.decode("ascii")

    def _verify(self, raw: str) -> bytes | None:
        if not raw.isascii():
            return None
        text, dot, sig = raw.encode("ascii").rpartition(b".")
        if not dot or len(sig) != MAC_LENGTH:
            return None
        for state in self._states:
            if hmac.compare_digest(_mac(state, text), sig):
                return text
        return None

    def dumps(self, obj: Any) -> str:
        payload = json.dumps(obj, separators=(",", ":")).encode("ascii")
        text = _b64(payload)
        if len(payload) > _COMPRESS_ABOVE:
            packed = _b64(zlib.compress(payload))
            if len(packed) + 1 < len(text):
                text = "." + packed
        return self.sign(text)

    def loads(self, raw: str) -> Any:
        """The object ``raw`` carries; None if it is not validly signed or not JSON."""
        entry = self._seen.get(raw)
        if entry is None:
            payload = self._payload(raw)
            if payload is None:
                return None
            entry = (payload, _orjson is not None and not has_long_digit_run(payload))
            seen = self._seen
            if len(seen) >= _SEEN_LIMIT:
                seen.clear()  # clients can present endless valid cookies
            seen[raw] = entry
        try:
            return _json_loads(*entry)
        except (ValueError, RecursionError):
            return None

    def _payload(self, raw: str) -> bytes | None:
        """The JSON bytes ``raw`` carries if its signature verifies (inflated if packed)."""
        text = self._verify(raw)
        if text is None:
            return None
        packed = text.startswith(b".")
        if packed:
            text = text[1:]
        try:
            payload = binascii.a2b_base64(
                text.translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4), strict_mode=True
            )
            if packed:
                inflate = zlib.decompressobj()
                payload = inflate.decompress(payload, _MAX_INFLATED)
                if inflate.unconsumed_tail or not inflate.eof:
                    return None
        except (ValueError, zlib.error):
            return None
        return payload


def _mac(state: _State, data: bytes) -> bytes:
    inner, outer = state
    h = inner.copy()
    h.update(data)
    o = outer.copy()
    o.update(h.digest())
    return binascii.b2a_base64(o.digest(), newline=False)[:MAC_LENGTH].translate(_TO_URLSAFE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_loads(payload: bytes, fast: bool) -> Any:
    # orjson when it gives what the stdlib gives (``fast``: it refuses NaN,
    # which json.dumps may have written, and would round integers past 64 bits).
    if fast:
        try:
            return _orjson.loads(payload)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(payload)
