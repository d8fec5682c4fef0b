"""Refuse requests whose ``Host`` is not one of yours (Host header poisoning).

::

    AllowedHosts(app, ["example.com", ".example.org", "localhost:8000"])

Entries, compared case-insensitively and ignoring one trailing dot:

- ``"example.com"``: that name, on any port;
- ``"example.com:8443"``: that name on that port only;
- ``".example.org"``: ``example.org`` and every subdomain (Django's rule);
- ``"*.example.org"``: the subdomains only, not ``example.org`` itself;
- ``"127.0.0.1"``, ``"[::1]"`` (or ``"::1"``), with or without a port;
- ``"*"``: any well-formed host (say so explicitly; there is no default).

A missing, malformed or unknown ``Host`` is answered with ``400`` and a body
that does not repeat it. Behind a reverse proxy the host checked is the one
:class:`~junco.security.ProxyHeaders` took from it (with
``forwarded_host=True``): its phase, ``HOST``, comes after ``TRANSPORT``, where
``ProxyHeaders`` runs, whatever order the two were added in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..datastructures import single_header
from ..exceptions import ConfigurationError, HTTPException
from ..origins import host_from_text, split_host
from ..phases import Phase

if TYPE_CHECKING:
    from ..request import Request

_CACHE_SIZE = 256
REFUSAL = "Invalid Host header"


class AllowedHosts:
    """Native middleware answering ``400`` to requests for hosts not in ``hosts``.

    Args:
        app: The app to install on; or add it later with ``app.add_middleware``.
        hosts: The allowed hosts (see the module documentation for the forms).

    Raises:
        ValueError: no hosts, or an entry that is not a host name or address.
    """

    #: The first refusal; after TRANSPORT, so the host checked is the proxy's.
    phase = Phase.HOST

    def __init__(self, app: Any = None, hosts: Iterable[str] | None = None) -> None:
        if app is not None and not hasattr(app, "add_middleware"):
            raise ConfigurationError("the first argument is the app; pass hosts= by keyword")
        if isinstance(hosts, str):
            hosts = [hosts]
        entries = list(hosts or ())
        if not entries:
            raise ConfigurationError("AllowedHosts needs at least one host (['*'] allows any)")
        self.hosts = tuple(entries)
        self.any_host = False
        names: set[str] = set()
        name_ports: set[tuple[str, int]] = set()
        suffixes: list[str] = []  # ".example.org": the apex and the subdomains
        subdomains: list[str] = []  # "*.example.org": the subdomains only
        for entry in entries:
            text = entry.strip().lower()
            if text == "*":
                self.any_host = True
            elif text.startswith(("*.", ".")):
                apex = _wildcard(text.removeprefix("*").removeprefix("."), entry)
                (subdomains if text[0] == "*" else suffixes).append(apex)
            else:
                host, port = _entry(text, entry)
                if port is None:
                    names.add(host)
                else:
                    name_ports.add((host, port))
        self._names = frozenset(names)
        self._name_ports = frozenset(name_ports)
        self._suffixes = tuple(suffixes)
        self._dot_suffixes = tuple("." + s for s in suffixes + subdomains)
        # Host values known to pass: the common exact forms, then what was seen.
        fast = {n.encode() for n in names | set(suffixes)}
        fast |= {f"{n}:{p}".encode() for n, p in name_ports}
        self._ok: set[bytes] = fast
        self._ok_limit = len(fast) + _CACHE_SIZE
        if app is not None:
            app.add_middleware(self)

    def before_request(self, request: Request) -> None:
        """Raise ``HTTPException(400)`` unless the request's host is allowed."""
        raw = request._raw_host  # seen by the dispatcher's header scan
        if raw is None:
            raw = single_header(request.asgi_scope, b"host")
        if raw is None or (raw not in self._ok and not self.allows(raw)):
            raise HTTPException(400, REFUSAL)

    def allows(self, raw: bytes) -> bool:
        """Whether the ``Host`` value ``raw`` is allowed."""
        parsed = split_host(raw)
        if parsed is None:
            return False
        host, port = parsed
        ok = (
            self.any_host
            or host in self._names
            or (host, port) in self._name_ports
            or host in self._suffixes
            or host.endswith(self._dot_suffixes)
        )
        if ok and len(self._ok) < self._ok_limit:
            self._ok.add(raw)
        return ok


def _entry(text: str, original: str) -> tuple[str, int | None]:
    if text.count(":") > 1 and not text.startswith("["):
        text = f"[{text}]"  # a bare IPv6 address
    parsed = host_from_text(text)
    if parsed is None:
        raise ConfigurationError(f"not a host name: {original!r}")
    return parsed


def _wildcard(text: str, original: str) -> str:
    host, port = _entry(text, original)
    if port is not None:
        raise ConfigurationError(f"a wildcard entry cannot have a port: {original!r}")
    return host


__all__ = ["AllowedHosts", "split_host"]
