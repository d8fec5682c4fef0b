"""MultiDict for query strings and forms; Headers, case-insensitive and multi-valued."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar, overload

T = TypeVar("T")
_MISSING: Any = object()

HeaderInput = Mapping[str, "str | list[str]"] | Iterable[tuple[str, str]] | None


class MultiDict(MutableMapping[str, str]):
    """A mapping in which a key can hold several values, in order.

    ``d[key]`` and ``d.get(key)`` give the first value; ``getlist`` gives all.
    Assigning replaces every value of a key; ``add`` appends one.
    """

    __slots__ = ("_d",)

    def __init__(self, initial: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        self._d: dict[str, list[str]] = {}
        if initial is not None:
            items = initial.items() if isinstance(initial, Mapping) else initial
            for key, value in items:
                self.add(key, value)

    def __getitem__(self, key: str) -> str:
        return self._d[key][0]

    def __setitem__(self, key: str, value: str) -> None:
        self._d[key] = [value]

    def __delitem__(self, key: str) -> None:
        del self._d[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items_all()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._d == other._d
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def add(self, key: str, value: str) -> None:
        """Append ``value`` to the values of ``key``."""
        values = self._d.get(key)
        if values is None:
            self._d[key] = [value]
        else:
            values.append(value)

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str | T) -> str | T: ...
    @overload
    def get(self, key: str, default: T, type: Callable[[str], T]) -> T: ...
    @overload
    def get(self, key: str, *, type: Callable[[str], T]) -> T | None: ...

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        """Return the first value of ``key``, or ``default``.

        Args:
            key: The name to look up.
            default: Returned when the key is missing or ``type`` rejects the value.
            type: A callable converting the value (``int``, ``float``, ...); a
                ``ValueError`` or ``TypeError`` from it gives ``default``.
        """
        values = self._d.get(key)
        if not values:
            return default
        if type is None:
            return values[0]
        try:
            return type(values[0])
        except (ValueError, TypeError):
            return default

    def getlist(self, key: str, type: Callable[[str], Any] | None = None) -> list[Any]:
        """Return every value of ``key`` (converted by ``type``, skipping rejects)."""
        values = self._d.get(key, [])
        if type is None:
            return list(values)
        out = []
        for value in values:
            try:
                out.append(type(value))
            except (ValueError, TypeError):
                continue
        return out

    def items_all(self) -> list[tuple[str, str]]:
        """Every ``(key, value)`` pair, repeated keys included."""
        return [(k, v) for k, vs in self._d.items() for v in vs]

    def to_dict(self, flat: bool = True) -> dict[str, Any]:
        """A plain dict: first values when ``flat``, else lists."""
        if flat:
            return {k: vs[0] for k, vs in self._d.items()}
        return {k: list(vs) for k, vs in self._d.items()}


# RFC 9110 token characters for header names; values may not hold CR, LF or NUL
# (header injection) nor anything outside latin-1 (not encodable on the wire).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[^\x00-\xff]")
_NAMES: dict[str, str] = {}  # validated header name -> lower-cased, bounded cache
_RAW_NAMES: dict[str, bytes] = {}  # lower-cased name -> its bytes, bounded cache
_SCANS_BEFORE_DICT = 2


def _name(key: str) -> str:
    """Validate a header name once; return it lower-cased."""
    lower = _NAMES.get(key)
    if lower is None:
        if not isinstance(key, str) or not _TOKEN.match(key):
            raise ValueError(f"invalid header name {key!r}")
        lower = key.lower()
        if len(_NAMES) < 4096:
            _NAMES[key] = lower
    return lower


def _check_value(name: str, value: str) -> None:
    # The fast test first: most values are plain ASCII without CR/LF/NUL.
    if value.isascii() and "\r" not in value and "\n" not in value and "\x00" not in value:
        return
    if "\r" in value or "\n" in value or "\x00" in value:
        raise ValueError(f"header {name!r} contains a control character")
    if _BAD_VALUE.search(value) is not None:
        raise ValueError(f"header {name!r} is not latin-1; percent-encode it")


class Headers(MutableMapping[str, str]):
    """HTTP headers: case-insensitive names, several values per name.

    ``h[name]`` gives the first value, ``getlist`` all of them; assigning
    replaces, ``add`` appends. Names are stored lower-cased, as HTTP/2 and
    ASGI use them. Invalid names, and values with CR, LF, NUL or characters
    outside latin-1, are refused with ``ValueError``.

    Built from an ASGI header list, the first lookups scan that list directly;
    the dict is only built when the headers are used more than that.
    """

    __slots__ = ("_d", "_raw", "_scans")

    def __init__(self, initial: HeaderInput | Headers = None) -> None:
        self._raw: Iterable[tuple[bytes, bytes]] | None = None
        self._scans = 0
        self._d: dict[str, list[str]] | None = {}
        if initial is None:
            return
        if type(initial) is dict and self._from_dict(initial):
            return
        if isinstance(initial, Headers):
            self._d = {k: list(v) for k, v in initial._data().items()}
            return
        items = initial.items() if isinstance(initial, Mapping) else initial
        for key, value in items:
            if isinstance(value, list):
                for v in value:
                    self.add(key, v)
            else:
                self.add(key, value)

    def _from_dict(self, initial: dict[str, Any]) -> bool:
        """Fill from a plain dict of str values in one pass (False: a list value met)."""
        d: dict[str, list[str]] = {}
        for key, value in initial.items():
            if type(value) is not str:
                return False
            lower = _NAMES.get(key) or _name(key)
            if not (
                value.isascii() and "\r" not in value and "\n" not in value and "\x00" not in value
            ):
                _check_value(key, value)
            values = d.get(lower)
            if values is None:
                d[lower] = [value]
            else:
                values.append(value)
        self._d = d
        return True

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Wrap an ASGI header list (latin-1, as HTTP/1.1 defines); parsed lazily."""
        h = cls.__new__(cls)
        h._raw = raw
        h._scans = 0
        h._d = None
        return h

    def _data(self) -> dict[str, list[str]]:
        d = self._d
        if d is None:
            d = {}
            for name, value in self._raw or ():
                key = name.decode("latin-1").lower()
                v = value.decode("latin-1")
                values = d.get(key)
                if values is None:
                    d[key] = [v]
                else:
                    values.append(v)
            self._d = d
        return d

    def _scan(self, key: str) -> list[str] | None:
        """Look ``key`` up in the raw ASGI list (only while no dict is built)."""
        try:
            kb = key.lower().encode("latin-1")
        except UnicodeEncodeError:
            return []
        found = None
        n = len(kb)
        for name, value in self._raw or ():
            # ASGI names are lower-case already: lower() only a name that may match.
            if name == kb or (len(name) == n and name.lower() == kb):
                if found is None:
                    found = [value.decode("latin-1")]
                else:
                    found.append(value.decode("latin-1"))
        return found

    def _lookup(self, key: str) -> list[str] | None:
        if self._d is None:
            self._scans += 1
            if self._scans <= _SCANS_BEFORE_DICT:
                return self._scan(key)
        return self._data().get(key.lower())

    def __getitem__(self, key: str) -> str:
        values = self._lookup(key)
        if not values:
            raise KeyError(key)
        return values[0]

    def __setitem__(self, key: str, value: str) -> None:
        lower = _NAMES.get(key) or _name(key)
        if not (
            value.isascii() and "\r" not in value and "\n" not in value and "\x00" not in value
        ):
            _check_value(key, value)
        d = self._d
        if d is None:
            d = self._data()
        d[lower] = [value]

    def __delitem__(self, key: str) -> None:
        del self._data()[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self._lookup(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"Headers({self.items_all()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._data() == other._data()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str | T) -> str | T: ...

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header ``key``, or ``default``."""
        values = self._lookup(key)
        return values[0] if values else default

    def add(self, key: str, value: str) -> None:
        """Append a value for ``key`` (for ``Set-Cookie``, ``Vary``, ...)."""
        lower = _name(key)
        _check_value(key, value)
        d = self._d if self._d is not None else self._data()
        values = d.get(lower)
        if values is None:
            d[lower] = [value]
        else:
            values.append(value)

    def setdefault(self, key: str, default: str = "") -> str:
        """Set ``key`` to ``default`` unless present; return the first value."""
        lower = _name(key)
        d = self._d if self._d is not None else self._data()
        values = d.get(lower)
        if values:
            return values[0]
        _check_value(key, default)
        d[lower] = [default]
        return default

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key``, in order."""
        return list(self._lookup(key) or ())

    def items_all(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, repeated names included."""
        return [(k, v) for k, vs in self._data().items() for v in vs]

    def add_vary(self, *fields: str) -> None:
        """Merge ``fields`` into a single ``Vary`` header without duplicates."""
        d = self._data()
        existing = [f.strip() for v in d.get("vary", ()) for f in v.split(",")]
        merged: dict[str, str] = {}  # lower-cased field -> first spelling seen
        for field in (*existing, *fields):
            if field:
                merged.setdefault(field.lower(), field)
        self["Vary"] = ", ".join(merged.values())

    def to_asgi(self) -> list[tuple[bytes, bytes]]:
        """The headers as an ASGI list of byte pairs."""
        out = []
        raw_names = _RAW_NAMES
        for k, vs in self._data().items():
            name = raw_names.get(k)
            if name is None:
                name = k.encode("latin-1")
                if len(raw_names) < 4096:
                    raw_names[k] = name
            for v in vs:
                out.append((name, v.encode("latin-1")))
        return out


class _Repeated(bytes):
    """The type of :data:`REPEATED`: an empty bytes value with an identity of its own."""

    __slots__ = ()


REPEATED: bytes = _Repeated()
"""What :func:`pick_headers` reads for a single-valued header sent more than once.

It equals ``b""``, which is never a valid host, origin, id or length, so every
check that refuses an empty value refuses it too; ``value is REPEATED`` tells
a repeat from a header sent once with an empty value.
"""

LIST = b", "
"""The separator of a list header's values (RFC 9110 section 5.3), for :func:`pick_headers`."""


class HeaderNames:
    """The headers a component reads, in order, each with how its repeats combine.

    Built once (at import or construction), then handed to :func:`pick_headers`
    for every request: ``HeaderNames({b"host": None, b"x-forwarded-for": LIST})``.
    ``None`` marks a single-valued header (sent twice it is ambiguous and reads
    :data:`REPEATED`); a separator marks a list header, whose repeats are
    joined with it (:data:`LIST`; ``b"; "`` for cookies).
    """

    __slots__ = ("names", "slots")

    def __init__(self, names: Mapping[bytes, bytes | None]) -> None:
        self.names = tuple(names)
        self.slots = {name: (i, join) for i, (name, join) in enumerate(names.items())}


def pick_headers(
    headers: Iterable[tuple[bytes, bytes]], wanted: HeaderNames, found: list[bytes | None]
) -> int:
    """Find the ``wanted`` headers in one pass over ASGI ``headers``; return the total size.

    The one header scan of junco, with one policy for repeats (see
    :class:`HeaderNames`). Allocation-free: the caller passes ``found``, a list
    of ``None`` as long as ``wanted.names``, and reads each header's value at
    its position (``None`` when absent).

    Args:
        headers: ``scope["headers"]``: lower-case names, as ASGI specifies.
        wanted: The names to find, and how their repeats combine.
        found: Filled in place with the value of each wanted header present.

    Returns:
        The size of all headers in bytes (names and values), for a size cap.
    """
    slots = wanted.slots
    total = 0
    for name, value in headers:
        total += len(name) + len(value)
        if name in slots:
            i, join = slots[name]
            seen = found[i]
            if seen is None:
                found[i] = value
            else:
                found[i] = REPEATED if join is None else seen + join + value
    return total


def single_header(scope: Mapping[str, Any], name: bytes) -> bytes | None:
    """The value of the header ``name`` (lower-case bytes), read straight from the scope.

    For components that need one header before (or without) building
    :class:`Headers`: ``None`` when the header is absent, :data:`REPEATED`
    (``b""``) when it was sent more than once (see :func:`pick_headers`). A
    repeated ``Host``, ``Origin`` or request id is ambiguous, and ``b""`` is
    never a valid host, origin or id, so every such check refuses it.
    """
    found: list[bytes | None] = [None]
    pick_headers(scope.get("headers", ()), HeaderNames({name: None}), found)
    return found[0]
