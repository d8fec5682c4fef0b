"""The client's address, scheme and host as told by a trusted reverse proxy.

::

    ProxyHeaders(app, trusted=["10.0.0.0/8"])

    @app.get("/")
    async def index(request):
        return client_ip(request)

Forwarded headers are believed only when the direct peer (``scope["client"]``)
is one of the ``trusted`` addresses or networks; from anyone else they are
ignored, since any client can send them.

The client address is found by walking ``X-Forwarded-For`` (or RFC 7239
``Forwarded``) from the right, skipping trusted proxies: the first address
that is not a proxy is the client. Each proxy appends the address it saw, so
whatever a client wrote itself sits further left and is never reached past an
untrusted hop. A malformed entry met on the way makes the whole header count
as absent: the client is then the peer. The scheme and, when enabled, the host
come from the same hop's ``X-Forwarded-Proto`` and ``X-Forwarded-Host``
entries when the lists line up with ``X-Forwarded-For``, else from their last
entry (the one the nearest proxy wrote).

Results live in the ASGI scope, so everything downstream agrees:
``scope["client"]`` becomes ``(client, 0)``, ``scope["scheme"]`` the forwarded
scheme, and the ``host`` header is replaced in a new header list
(``request.headers`` is re-parsed on next use). ``request.client_ip`` holds the
address. :func:`client_ip` and :class:`~junco.security.AllowedHosts` apply the
app's ``ProxyHeaders`` themselves if its hook has not run yet, so registration
order does not matter for them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..datastructures import LIST, HeaderNames, pick_headers
from ..exceptions import ConfigurationError
from ..phases import Phase
from ..request import Slot

if TYPE_CHECKING:
    from ..request import Request

_APPLIED: Slot[bool] = Slot("_junco_proxy_applied")
#: The client's address (``request.client_ip``); read it with :func:`client_ip`.
CLIENT_IP: Slot[str] = Slot("client_ip")
_FOUND = "_junco_proxy_found"  # app.__dict__ key: (app version, its ProxyHeaders or None)
_CACHE_SIZE = 1024
_SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss"), "ws": ("http", "ws")}
_SCHEMES["wss"] = _SCHEMES["https"]
_X_HEADERS = {b"x-forwarded-for": "for", b"x-forwarded-proto": "proto", b"x-forwarded-host": "host"}
_RFC_HEADERS = {b"forwarded": "forwarded"}
_PAIR = re.compile(r'[ \t]*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)=("(?:[^"\\]|\\.)*"|[^\s",;]*)[ \t]*')
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyHeaders:
    """Native middleware taking the client address, scheme and host from a trusted proxy.

    Args:
        app: The app to install on; or add it later with ``app.add_middleware``.
        trusted: Addresses and networks of your proxies (``"10.0.0.0/8"``,
            ``"::1"``). ``"*"`` trusts any direct peer (for platforms whose
            proxy address is unknown), but still only one hop: the client is
            then the last ``X-Forwarded-For`` entry. ``"unix"`` trusts peers
            without an address (a Unix socket).
        headers: ``"x-forwarded"`` (``X-Forwarded-For/-Proto/-Host``) or
            ``"forwarded"`` (RFC 7239). Only one kind is read: a proxy that
            writes one kind passes the other through from the client untouched.
        forwarded_host: Also take the host from the proxy. Off by default:
            many proxies pass a client's ``X-Forwarded-Host`` through as is;
            turn it on only if yours always sets it.

    Raises:
        ValueError: an entry of ``trusted`` is not an address or network, or
            ``headers`` is unknown.
    """

    #: Rewrites the scope before every hook that reads the client, scheme or host.
    phase = Phase.TRANSPORT

    def __init__(
        self,
        app: Any = None,
        trusted: Iterable[str] = ("127.0.0.1", "::1"),
        *,
        headers: str = "x-forwarded",
        forwarded_host: bool = False,
    ) -> None:
        if isinstance(trusted, str):
            trusted = [trusted]
        self.any_peer = False
        self.unix = False
        networks: list[Network] = []
        for entry in trusted:
            entry = entry.strip()
            if entry == "*":
                self.any_peer = True
            elif entry == "unix":
                self.unix = True
            else:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ConfigurationError(f"not an IP address or network: {entry!r}") from None
        self.networks: tuple[Network, ...] = tuple(networks)
        if headers not in ("x-forwarded", "forwarded"):
            raise ConfigurationError("headers must be 'x-forwarded' or 'forwarded'")
        self.rfc7239 = headers == "forwarded"
        self.forwarded_host = forwarded_host
        self._wanted = _RFC_HEADERS if self.rfc7239 else _X_HEADERS
        self._names = HeaderNames(dict.fromkeys(self._wanted, LIST))  # all list headers
        self._trusted_cache: dict[str, bool] = {}
        if app is not None:
            if not hasattr(app, "add_middleware"):
                raise ConfigurationError("the first argument is the app; pass trusted= by keyword")
            app.add_middleware(self)

    def apply(self, request: Request) -> None:
        """Set ``request.client_ip`` and rewrite the scope from trusted proxy headers.

        Idempotent: a request is only processed once.
        """
        if _APPLIED.is_set(request):
            return
        _APPLIED.set(request, True)
        scope = request.asgi_scope
        client = scope.get("client")
        peer: str | None = client[0] if client else None
        CLIENT_IP.set(request, peer or "")
        if not self.trusts_peer(peer):
            return
        values: list[bytes | None] = [None] * len(self._names.names)
        pick_headers(scope.get("headers", ()), self._names, values)
        found = {
            self._wanted[name]: [value.decode("latin-1")]  # repeats joined with ", "
            for name, value in zip(self._names.names, values, strict=True)
            if value is not None
        }
        if not found:
            return
        hops = _rfc7239_hops(found) if self.rfc7239 else _x_forwarded_hops(found)
        fors, protos, hosts = hops
        index, ip = self._client(fors)
        if ip is not None and ip != peer:
            CLIENT_IP.set(request, ip)
            scope["client"] = (ip, 0)
        proto = _pick(protos, index, len(fors))
        if proto is not None:
            schemes = _SCHEMES.get(proto.strip().lower())
            if schemes is not None:
                scope["scheme"] = schemes[scope.get("type") == "websocket"]
        if self.forwarded_host:
            host = _pick(hosts, index, len(fors))
            if host is not None:
                _replace_host(request, host.strip())

    before_request = apply

    def trusts_peer(self, peer: str | None) -> bool:
        """Whether forwarded headers from a direct peer at ``peer`` are believed."""
        if peer is None or peer == "":
            return self.unix
        return self.any_peer or self.is_proxy(peer)

    def is_proxy(self, address: str) -> bool:
        """Whether ``address`` is in one of the ``trusted`` networks."""
        known = self._trusted_cache.get(address)
        if known is None:
            ip = _ip_or_none(address)
            known = ip is not None and _in_networks(ip, self.networks)
            if len(self._trusted_cache) >= _CACHE_SIZE:
                self._trusted_cache.clear()  # clients can send endless addresses
            self._trusted_cache[address] = known
        return known

    def _client(self, fors: list[str]) -> tuple[int | None, str | None]:
        """Index and address of the client: the right-most hop that is not a proxy.

        Entries are parsed only as far as the walk goes: a long forged list
        costs nothing beyond the split.
        """
        for i in range(len(fors) - 1, -1, -1):
            ip = _parse_node(fors[i])
            if ip is None:
                return None, None  # malformed: believe none of it
            if i == 0 or not self.is_proxy(ip):
                return i, ip
        return None, None


Hops = tuple[list[str], list[str], list[str]]  # for, proto and host of each hop


def _x_forwarded_hops(found: dict[str, list[str]]) -> Hops:
    hosts = _split_list(found.get("host"))
    return _split_list(found.get("for")), _split_list(found.get("proto")), hosts


def _rfc7239_hops(found: dict[str, list[str]]) -> Hops:
    elements = parse_forwarded(", ".join(found["forwarded"]))
    if elements is None:
        return [], [], []
    fors = [e.get("for", "") for e in elements]
    protos = [e.get("proto", "") for e in elements]
    hosts = [e.get("host", "") for e in elements]
    return fors, protos, hosts


def _split_list(values: list[str] | None) -> list[str]:
    if not values:
        return []
    return [item.strip() for item in ",".join(values).split(",")]


def _pick(values: list[str], index: int | None, hops: int) -> str | None:
    """The entry of the client's hop when the lists line up, else the last one."""
    if not values:
        return None
    value = values[index] if index is not None and len(values) == hops else values[-1]
    return value or None


def parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """Parse an RFC 7239 ``Forwarded`` value into one dict per element (None if malformed).

    Parameter names are lower-cased; quoted values are unquoted.
    """
    elements: list[dict[str, str]] = [{}]
    pos, end = 0, len(value)
    while pos < end:
        m = _PAIR.match(value, pos)
        if m is not None and m.end() > pos:
            name, raw = m.group(1).lower(), m.group(2)
            if name in elements[-1]:
                return None
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            elements[-1][name] = raw
            pos = m.end()
        while pos < end and value[pos] in " \t":
            pos += 1
        if pos == end:
            break
        sep = value[pos]
        if sep == ",":
            elements.append({})
        elif sep != ";":
            return None
        pos += 1
    return elements


def _parse_node(value: str) -> str | None:
    """The address in an ``X-Forwarded-For`` entry or a ``for=`` node, normalised."""
    v = value.strip()
    if v.startswith("["):
        close = v.find("]")
        rest = v[close + 1 :]
        if close < 0 or (rest and not _is_port(rest)):
            return None
        v = v[1:close]
    elif v.count(":") == 1:  # IPv4 with a port (IPv6 has several colons)
        v, _, port = v.partition(":")
        if not _is_port(":" + port):
            return None
    ip = _ip_or_none(v)
    return None if ip is None else str(ip)


def _is_port(text: str) -> bool:
    port = text[1:]
    return (
        text[:1] == ":"
        and 0 < len(port) <= 5
        and port.isascii()
        and port.isdigit()
        and int(port) <= 65535
    )


def _ip_or_none(value: str) -> Address | None:
    if len(value) > 64:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _in_networks(ip: Address, networks: tuple[Network, ...]) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def _replace_host(request: Request, host: str) -> None:
    from ..origins import split_host

    raw = host.encode("latin-1")  # it was decoded from latin-1
    if split_host(raw) is None:
        return
    scope = request.asgi_scope
    headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"host"]
    headers.append((b"host", raw))
    scope["headers"] = headers
    request._headers = None
    request._raw_host = raw


def _find(request: Request) -> ProxyHeaders | None:
    # The app's answer is cached until anything is registered on it.
    app = request.app
    gen = app._version
    cached = app.__dict__.get(_FOUND)
    if cached is None or cached[0] != gen:
        found = next((m for m in app.middleware if isinstance(m, ProxyHeaders)), None)
        cached = app.__dict__[_FOUND] = (gen, found)
    if cached[1] is not None:
        return cached[1]
    sub = request.subapp
    if sub is not None:
        for middleware in sub.middleware:
            if isinstance(middleware, ProxyHeaders):
                return middleware
    return None


def apply_proxy_headers(request: Request) -> None:
    """Run the app's :class:`ProxyHeaders` on ``request`` now, if it has one and it has not run.

    Components that read the client address, scheme or host in a hook that may
    run before ``ProxyHeaders`` call this first.
    """
    if not _APPLIED.is_set(request):
        proxy = _find(request)
        if proxy is None:
            _APPLIED.set(request, True)
        else:
            proxy.apply(request)


def client_ip(request: Request) -> str:
    """The client's IP address: from a trusted proxy's headers, else the peer's.

    The one function rate limits, audit trails and logs should use. Returns
    ``""`` when the server gave no peer address (a Unix socket, say).
    """
    ip = CLIENT_IP.get(request)
    if ip is None:
        apply_proxy_headers(request)
        ip = CLIENT_IP.get(request)
        if ip is None:
            client = request.asgi_scope.get("client")
            ip = CLIENT_IP.set(request, client[0] if client else "")
    return ip


__all__ = ["ProxyHeaders", "apply_proxy_headers", "client_ip", "parse_forwarded"]
