"""URL patterns, converters and the router.

A pattern such as ``/users/<int:id>/<path:rest>`` is compiled once into one
regular expression plus a parser per argument. Patterns with no argument are
*static* and live in a dict keyed by path, so most lookups are one dict get.
Converters are registered per router (per app); ``URLPattern.register_type``
remains as Microdot's process-wide fallback and never overrides an app's own.

Lookup order: the app's static routes, its dynamic routes in registration
order, then its mounted sub-apps in mount order (searched live, so routes added
to a sub-app after mounting work). A path that matches only with or without a
trailing slash is redirected (308) to the registered form.

Routes of other protocols (a WebSocket endpoint) share the patterns and the
walk but not the HTTP method tables: ``Router.match`` looks up an HTTP
method, ``Router.match_protocol`` a protocol (see :class:`Router`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .paths import path_problem

if TYPE_CHECKING:
    from .app import Junco

Parser = Callable[[str], Any]


def _parse_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:  # e.g. more digits than int() accepts: no match, not a 500
        return None


@dataclass(frozen=True, slots=True)
class Converter:
    """How one URL argument type matches (``pattern``) and converts (``parser``)."""

    pattern: str
    parser: Parser | None = None


BUILTIN_CONVERTERS: dict[str, Converter] = {
    "string": Converter(r"[^/]+"),
    "int": Converter(r"-?[0-9]+", _parse_int),
    "path": Converter(r".+"),
}
_ARG = re.compile(r"<([^<>]+)>")
_NO_SLASH = frozenset((r"[^/]+", r"-?[0-9]+"))  # argument patterns that never match "/"


class URLPattern:
    """A compiled URL pattern.

    Args:
        url_pattern: e.g. ``/users/<int:id>``; ``<name>``, ``<string:name>``,
            ``<int:name>``, ``<path:name>``, ``<re:REGEX:name>`` or a custom type.
        converters: Converters by type name (the app's, normally).
    """

    _global_types: ClassVar[dict[str, Converter]] = {}

    __slots__ = ("args", "is_static", "pattern", "regex", "tail_slash", "url_pattern")

    def __init__(self, url_pattern: str, converters: dict[str, Converter] | None = None):
        if not url_pattern.startswith("/") and url_pattern != "":
            raise ValueError(f"URL pattern {url_pattern!r} must start with '/'")
        self.url_pattern = url_pattern
        converters = converters if converters is not None else BUILTIN_CONVERTERS
        _check_skeleton(url_pattern)
        self.args: list[tuple[str, Parser | None]] = []
        regex = ""
        pos = 0
        conv = None
        for m in _ARG.finditer(url_pattern):
            regex += re.escape(url_pattern[pos : m.start()])
            name, conv = self._converter(m.group(1), converters)
            if not name.isidentifier():
                raise ValueError(
                    f"invalid argument name {name!r} in URL pattern {url_pattern!r}: an "
                    "argument is <name> or <type:name> with a Python identifier as the "
                    "name, e.g. <int:id>"
                )
            if any(name == seen for seen, _ in self.args):
                raise ValueError(
                    f"URL pattern {url_pattern!r} uses the argument name {name!r} twice; "
                    "each argument needs its own name (they become keyword arguments)"
                )
            regex += f"(?P<a{len(self.args)}>{conv.pattern})"
            self.args.append((name, conv.parser))
            pos = m.end()
        regex += re.escape(url_pattern[pos:])
        self.is_static = not self.args
        #: Whether a path this pattern matches may end with "/": it ends with one,
        #: or with an argument whose pattern may take one (anything but string/int).
        self.tail_slash = url_pattern.endswith("/") or (
            pos == len(url_pattern) and conv is not None and conv.pattern not in _NO_SLASH
        )
        self.pattern = url_pattern
        self.regex = _compile(regex, url_pattern)

    def _converter(self, spec: str, converters: dict[str, Converter]) -> tuple[str, Converter]:
        if spec.startswith("re:"):
            regex, _, name = spec[3:].rpartition(":")
            if not regex:
                raise ValueError(f"<re:REGEX:name> needs a regex in {self.url_pattern!r}")
            _compile(regex, self.url_pattern)
            return name, Converter(f"(?:{regex})")
        type_name, _, name = spec.rpartition(":")
        if not type_name:
            return name, converters["string"]
        conv = converters.get(type_name) or URLPattern._global_types.get(type_name)
        if conv is None:
            known = ", ".join(sorted({*converters, *URLPattern._global_types}))
            raise ValueError(
                f"unknown URL argument type {type_name!r} in {self.url_pattern!r}: "
                f"the types are {known} and re:REGEX (e.g. <int:{name or 'id'}>); "
                "add your own with app.register_type()"
            )
        return name, conv

    @classmethod
    def register_type(
        cls, type_name: str, pattern: str = "[^/]+", parser: Parser | None = None
    ) -> None:
        """Microdot's process-wide registration; prefer ``app.register_type``.

        Types registered here are a fallback for every app; an app's own types
        of the same name win, and ``app.register_type`` never reaches other apps.
        """
        cls._global_types[type_name] = Converter(pattern, parser)

    def compile(self) -> re.Pattern[str]:
        """The compiled regular expression (Microdot's name; junco compiles at construction)."""
        return self.regex

    def match(self, path: str) -> dict[str, Any] | None:
        """The converted arguments if ``path`` matches, else ``None``."""
        m = self.regex.fullmatch(path)
        if m is None:
            return None
        out: dict[str, Any] = {}
        # By group name: a user regex may contain capturing groups of its own.
        for i, (name, parser) in enumerate(self.args):
            value: Any = m.group(f"a{i}")
            if parser is not None:
                try:
                    value = parser(value)
                except Exception:  # hostile input to a custom parser: no match, not a 500
                    return None
                if value is None:
                    return None
            out[name] = value
        return out

    def __repr__(self) -> str:
        return f"URLPattern({self.url_pattern!r})"


_OPTIONS_ATTR = "_junco_route_options"


class RouteOptions:
    """What decorators record about a handler: one record, read when it becomes a route.

    ``@with_websocket`` (or any protocol decorator) writes ``protocol`` here
    instead of leaving a marker for the app to sniff; the app marks the
    function it registered as ``routed``, so a decorator applied above
    ``@app.route`` (too late: the route holds the unwrapped function) is a
    clear error instead of a route that answers 500.
    """

    __slots__ = ("protocol", "routed")

    def __init__(self, protocol: str = "http", routed: bool = False) -> None:
        self.protocol = protocol  # "http", or the ASGI scope type the route answers
        self.routed = routed

    @staticmethod
    def of(handler: Any) -> RouteOptions:
        """The record on ``handler`` (a fresh default one when it has none)."""
        found = getattr(handler, _OPTIONS_ATTR, None)
        return found if isinstance(found, RouteOptions) else RouteOptions()

    def attach(self, handler: Any) -> None:
        """Store this record on ``handler`` (a function or a callable object)."""
        setattr(handler, _OPTIONS_ATTR, self)

    @staticmethod
    def mark_routed(handler: Any) -> None:
        """Record that ``handler`` was registered as a route."""
        # A new record: functools.wraps shares the wrapped function's record.
        # Bound methods and builtins take no attributes; they cannot be re-decorated either.
        with contextlib.suppress(AttributeError, TypeError):
            RouteOptions(RouteOptions.of(handler).protocol, True).attach(handler)

    @staticmethod
    def refuse_routed(f: Any, decorator: str) -> None:
        """Refuse to wrap a function that a route already holds.

        Raises:
            ConfigurationError: ``f`` is already a route's handler.
        """
        if RouteOptions.of(f).routed:
            from .exceptions import ConfigurationError

            name = getattr(f, "__name__", repr(f))
            raise ConfigurationError(
                f"{decorator} must come below @app.route: {name} is already a route's handler, "
                f"so write @app.route(...) first, then {decorator}, then the function"
            )


class Route:
    """A handler bound to a pattern, and to HTTP methods or to another protocol.

    ``protocol`` is ``"http"`` for a route answering the HTTP ``methods``; any
    other value (``"websocket"``) is the ASGI scope type the route answers,
    and such a route has no methods: the router files it in the pattern's
    protocol table, never among the HTTP methods.
    """

    __slots__ = ("app", "handler", "is_async", "methods", "pattern", "protocol")

    def __init__(
        self,
        app: Junco,
        pattern: URLPattern,
        methods: tuple[str, ...],
        handler: Callable[..., Any],
        is_async: bool,
        protocol: str = "http",
    ) -> None:
        self.app = app
        self.pattern = pattern
        self.methods = methods if protocol == "http" else ()
        self.handler = handler
        self.is_async = is_async
        self.protocol = protocol

    @property
    def url_pattern(self) -> str:
        return self.pattern.url_pattern

    def __repr__(self) -> str:
        if self.protocol != "http":
            return f"Route({self.pattern.url_pattern!r}, protocol={self.protocol!r})"
        return f"Route({self.pattern.url_pattern!r}, {self.methods!r})"


@dataclass(slots=True)
class Mount:
    """A sub-app attached at ``prefix``."""

    prefix: str
    app: Any  # a Junco or any ASGI callable
    local: bool
    native: bool


@dataclass(slots=True)
class Match:
    """The outcome of a lookup.

    ``route`` is set on success. Otherwise ``allow`` lists the methods of the
    routes whose pattern matched (405 if non-empty, 404 if empty), and
    ``redirect`` the path to send the client to for a trailing-slash mismatch.
    ``mounts`` is the chain of native mounts from the root to the route's app.
    """

    route: Route | None = None
    args: dict[str, Any] | None = None
    mounts: tuple[Mount, ...] = ()
    allow: dict[str, None] | None = None  # an ordered set: registration order
    redirect: str | None = None
    foreign: tuple[Mount, str] | None = None  # (mount, prefixes of the mounts above it)


# (registration index, pattern, HTTP method -> route, protocol -> route)
_Entry = tuple[int, URLPattern, dict[str, Route], dict[str, Route]]


class Router:
    """Routes of one app, plus its converters and mounts.

    A pattern has two tables: HTTP method -> route, and protocol -> route for
    the routes of other protocols (``"websocket"``). Both are found by the same
    walk (the static dict, then the prefix index over dynamic patterns, then
    the mounts): :meth:`match` looks up an HTTP method, :meth:`match_protocol`
    a protocol. So no method name is reserved, and ``Allow`` lists only HTTP
    methods.
    """

    def __init__(self) -> None:
        self.converters: dict[str, Converter] = dict(BUILTIN_CONVERTERS)
        # path -> HTTP method -> route (the dispatcher's fast path reads it)
        self.static: dict[str, dict[str, Route]] = {}
        # path -> protocol -> route, for the static patterns of other protocols
        self.static_protocols: dict[str, dict[str, Route]] = {}
        # every dynamic pattern, and the same entries indexed by literal prefix
        self.dynamic: list[_Entry] = []
        self._dynamic_index: dict[str, _Entry] = {}
        self._prefixes = _PrefixNode()
        self.mounts: list[Mount] = []
        self.routes: list[Route] = []
        self._tail_slashes = 0  # patterns that may match a path ending with "/"

    def register_type(
        self, name: str, pattern: str = "[^/]+", parser: Parser | None = None
    ) -> None:
        """Add a URL argument type for this router only."""
        if not name.isidentifier():
            raise ValueError(f"invalid type name {name!r}")
        _compile(pattern, name)
        self.converters[name] = Converter(pattern, parser)

    def add(self, route: Route) -> None:
        """File ``route`` under its pattern: by HTTP method, or by protocol."""
        pattern = route.pattern
        http = route.protocol == "http"
        if pattern.is_static:
            tables = self.static if http else self.static_protocols
            table = tables.setdefault(pattern.url_pattern, {})
        else:
            entry = self._dynamic_index.get(pattern.url_pattern)
            if entry is None:
                entry = (len(self.dynamic), pattern, {}, {})
                self._dynamic_index[pattern.url_pattern] = entry
                self._prefixes.add(entry)
                self.dynamic.append(entry)
            table = entry[2] if http else entry[3]
        if pattern.tail_slash:
            self._tail_slashes += 1
        # First registration wins, as routes are tried in order.
        for key in route.methods if http else (route.protocol,):
            table.setdefault(key, route)
        self.routes.append(route)

    def mount(self, mount: Mount) -> None:
        self.mounts.append(mount)

    def match(self, method: str, path: str) -> Match:
        """Find the route for the HTTP ``method`` and ``path``; see :class:`Match`."""
        allow: dict[str, None] = {}
        found = self._find(method, None, path, (), allow)
        if found is not None:
            return found
        if (
            not allow
            and path != "/"
            and (path.endswith("/") or self.may_end_with_slash())
            and path[1:2] not in ("/", "\\")
            and path.isprintable()
        ):
            other = path[:-1] if path.endswith("/") else path + "/"
            probe: dict[str, None] = {}
            if self._find(method, None, other, (), probe) is not None or probe:
                return Match(redirect=other)
        return Match(allow=allow)

    def may_end_with_slash(self) -> bool:
        """Whether any route here or in a mounted junco app may match a path ending in "/".

        When none can, adding a slash to a path that matched nothing cannot
        make it match, and the trailing-slash probe of a 404 is skipped. A
        foreign mount cannot either: a path that is not under its prefix does
        not get there by gaining a slash (prefixes never end with one).
        """
        if self._tail_slashes:
            return True
        return any(m.native and m.app.router.may_end_with_slash() for m in self.mounts)

    def match_protocol(self, protocol: str, path: str) -> Match:
        """Find the route of ``protocol`` (an ASGI scope type, e.g. ``"websocket"``) for ``path``.

        The same walk as :meth:`match`, in the protocol tables; no ``allow``
        and no trailing-slash redirect (a handshake does not follow one).
        """
        found = self._find("", protocol, path, (), {})
        return found if found is not None else Match()

    def _find(
        self,
        method: str,
        protocol: str | None,
        path: str,
        chain: tuple[Mount, ...],
        allow: dict[str, None],
    ) -> Match | None:
        methods = self.static.get(path)
        others = self.static_protocols.get(path) if self.static_protocols else None
        if methods is not None or others is not None:
            route = _pick(methods, others, method, protocol, allow)
            if route is not None:
                return Match(route, {}, chain)
        # A few patterns are cheaper to try than the index is to walk.
        dynamic = self.dynamic if len(self.dynamic) < 4 else self._prefixes.candidates(path)
        for _, pattern, methods, others in dynamic:
            args = pattern.match(path)
            if args is None:
                continue
            route = methods.get(method) if protocol is None else None  # the common hit, inline
            if route is None:
                route = _pick(methods, others, method, protocol, allow)
            if route is not None:
                return Match(route, args, chain)
        for mount in self.mounts:
            prefix = mount.prefix
            if prefix and not (path == prefix or path.startswith(prefix + "/")):
                continue
            rest = path[len(prefix) :]
            if not mount.native:
                outer = "".join(m.prefix for m in chain)
                return Match(foreign=(mount, outer), mounts=chain)
            found = mount.app.router._find(method, protocol, rest, (*chain, mount), allow)
            if found is not None:
                return found  # type: ignore[no-any-return]
        return None

    def iter_routes(self) -> Iterable[tuple[str, Route]]:
        """Every ``(full_path_pattern, route)`` including mounted sub-apps."""
        for route in self.routes:
            yield route.pattern.url_pattern, route
        for mount in self.mounts:
            if mount.native:
                for path, route in mount.app.router.iter_routes():
                    yield mount.prefix + path, route


_BRACES = re.compile(r"\{(\w*)(?::(\w+))?\}")
_COLON_ARG = re.compile(r"(?<=/):(\w+)")


def _check_skeleton(url_pattern: str) -> None:
    """Refuse other frameworks' syntax, stray brackets and non-canonical paths.

    Each of these would otherwise become a literal route that never matches
    (``/items/{id}`` only answers a client asking for ``/items/%7Bid%7D``).
    The message shows the pattern written the junco way.
    """
    skeleton = _ARG.sub("x", url_pattern)
    if "{" in skeleton or "}" in skeleton:
        fixed = _BRACES.sub(_angle, url_pattern)
        raise ValueError(
            f"URL pattern {url_pattern!r} uses {{braces}}: junco writes URL arguments in "
            f"angle brackets, {fixed!r} (<name>, or <type:name> such as <int:id>)"
        )
    if _COLON_ARG.search(skeleton):
        fixed = _COLON_ARG.sub(r"<\1>", url_pattern)
        raise ValueError(
            f"URL pattern {url_pattern!r} uses ':name': junco writes URL arguments in "
            f"angle brackets, {fixed!r} (<name>, or <type:name> such as <int:id>)"
        )
    if "<" in skeleton or ">" in skeleton:
        raise ValueError(
            f"URL pattern {url_pattern!r} has a '<' or '>' that does not enclose an "
            "argument: write each argument whole, as <name> or <type:name> (e.g. <int:id>), "
            "with no '<' or '>' inside"
        )
    problem = path_problem(skeleton or "/")
    if problem is not None:
        raise ValueError(
            f"URL pattern {url_pattern!r} is not a canonical path ({problem}): requests "
            "for such paths are refused with 400, so the route could never match"
        )


def _angle(m: re.Match[str]) -> str:
    name, type_name = m.group(1) or "name", m.group(2)
    return f"<{type_name}:{name}>" if type_name else f"<{name}>"


class _PrefixNode:
    """Dynamic patterns indexed by their leading literal segments.

    A pattern such as ``/r7/items/<int:id>`` can only match a path that starts
    with ``/r7/items/``, so it is filed under the node ``r7 -> items``. A lookup
    walks the path's segments down the tree and tests only the patterns filed
    at the nodes it passes, in registration order (the order the linear scan
    used), each still with its full regular expression. The result is the same
    as trying every pattern; the cost grows with the depth of the path, not
    with the number of routes.
    """

    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _PrefixNode] = {}
        self.entries: list[_Entry] = []

    def add(self, entry: _Entry) -> None:
        node = self
        # Every segment before the last "/" ahead of the first argument is literal.
        literal = entry[1].url_pattern.split("<", 1)[0]
        for segment in literal.split("/")[1:-1]:
            node = node.children.setdefault(segment, _PrefixNode())
        node.entries.append(entry)

    def candidates(self, path: str) -> list[_Entry]:
        """The patterns that may match ``path``, in registration order."""
        found = self.entries
        merged: list[_Entry] | None = None
        node = self
        for segment in path.split("/")[1:-1]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
            if node.entries:
                if found:  # patterns at two depths: restore registration order
                    merged = (merged or list(found)) + node.entries
                found = node.entries
        if merged is not None:
            merged.sort(key=_first)
            return merged
        return found


def _first(entry: _Entry) -> int:
    return entry[0]


def _compile(regex: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:  # re.error is not a ValueError before Python 3.13
        raise ValueError(f"invalid regular expression in {where!r}: {exc}") from None


def _pick(
    methods: dict[str, Route] | None,
    others: dict[str, Route] | None,
    method: str,
    protocol: str | None,
    allow: dict[str, None],
) -> Route | None:
    """The route of one pattern for ``method`` (or ``protocol``); else add its methods to allow."""
    if protocol is not None:
        return others.get(protocol) if others else None
    if methods:
        route = methods.get(method)
        if route is None and method == "HEAD":
            route = methods.get("GET")  # HEAD is answered by GET
        if route is not None:
            return route
        allow.update(dict.fromkeys(methods))
    if others and (method == "GET" or method == "HEAD"):
        # A handshake starts as a GET: a plain GET to a path that only another
        # protocol answers reaches that route, whose handler refuses it (400, not
        # a handshake) instead of a 404 that would hide the endpoint's purpose.
        return next(iter(others.values()))
    return None


def allowed_methods(methods: Iterable[str]) -> str:
    """The ``Allow`` header value: the methods in registration order, then HEAD and OPTIONS.

    As Microdot writes it: HEAD follows when GET is there, OPTIONS always ends it.
    """
    out = dict.fromkeys(methods)
    if "GET" in out:
        out.setdefault("HEAD")
    out.setdefault("OPTIONS")
    return ", ".join(out)
