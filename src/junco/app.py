"""The application: registration of routes, hooks, middleware, mounts and lifespan."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from . import _hooks
from ._dispatch import handle_http, scan_headers
from .exceptions import ConfigurationError, HTTPException, abort
from .request import Request
from .response import Response, _content_type_bytes
from .routing import Mount, Parser, Route, Router, URLPattern
from .types import ASGIApp, Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("junco")
_MIDDLEWARE_HOOKS = ("before_request", "after_request", "after_error_request")


class Junco:
    """A junco application: an ASGI callable.

    Every limit is per app. Left as ``None``, the byte limits take Microdot's
    class attributes on :class:`Request` (``Request.max_content_length``, ...)
    as they are when the app is created.

    Args:
        debug: Show tracebacks in 500 responses. Never in production.
        max_content_length: Largest request body accepted (413 above).
        max_body_length: Largest body buffered into ``request.body``; larger
            bodies are read with ``request.stream``.
        max_readline: Longest line ``request.stream.readline()`` returns.
        max_form_fields: Most fields in a urlencoded form (400 above).
        max_query_fields: Most fields in a query string (400 above).
        max_json_depth: Deepest JSON nesting accepted (400 above).
        max_header_bytes: Most bytes of request headers (431 above).
        body_timeout: Seconds the request body may stall (no data arriving)
            before the read fails with 408; ``None`` for no limit.
        default_content_type: Content type of str/bytes responses.
        lifespan_startup: ``f(scope)``, sync or async, run at startup.
        lifespan_shutdown: ``f(scope)``, sync or async, run at shutdown.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        max_content_length: int | None = None,
        max_body_length: int | None = None,
        max_readline: int | None = None,
        max_form_fields: int = 1000,
        max_query_fields: int = 1000,
        max_json_depth: int = 64,
        max_header_bytes: int = 32 * 1024,
        body_timeout: float | None = 30.0,
        default_content_type: str | None = None,
        lifespan_startup: Callable[..., Any] | None = None,
        lifespan_shutdown: Callable[..., Any] | None = None,
    ) -> None:
        self.debug = debug
        self.max_content_length = _pick(max_content_length, Request.max_content_length)
        self.max_body_length = _pick(max_body_length, Request.max_body_length)
        self.max_readline = _pick(max_readline, Request.max_readline)
        self.max_form_fields = max_form_fields
        self.max_query_fields = max_query_fields
        self.max_json_depth = max_json_depth
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout
        self.default_content_type = default_content_type or Response.default_content_type
        self.router = Router()
        self.before_request_handlers: list[_hooks.Hook] = []
        self.after_request_handlers: list[_hooks.Hook] = []
        self.after_error_request_handlers: list[_hooks.Hook] = []
        self.error_handlers: _hooks.ErrorHandlers = {}
        self.startup_handlers: list[Callable[..., Any]] = []
        self.shutdown_handlers: list[Callable[..., Any]] = []
        if lifespan_startup is not None:
            self.startup_handlers.append(lifespan_startup)
        if lifespan_shutdown is not None:
            self.shutdown_handlers.append(lifespan_shutdown)
        self.state: dict[str, Any] = {}
        self.middleware: list[Any] = []
        self.extensions: dict[str, Any] = {}
        self._asgi: ASGIApp = self._app
        self._plain = True  # no ASGI middleware and no mounts: skip _app
        self._plans: dict[tuple[int, ...], _hooks.Plan] = {}
        self._plans_gen = -1
        self._root_plan: _hooks.Plan | None = None
        self.server: Any = None
        _hooks.bump()

    # -- configuration ----------------------------------------------------------------

    @property
    def default_content_type(self) -> str:
        return self._default_content_type

    @default_content_type.setter
    def default_content_type(self, value: str) -> None:
        self._default_content_type = value
        self.default_ct = _content_type_bytes(value)

    def register_type(
        self,
        name: str,
        pattern: str = "[^/]+",
        parser: Parser | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a URL argument type for this app only (``<name:arg>``).

        Args:
            name: The type name used in patterns.
            pattern: The regex one argument of this type matches.
            parser: Converts the matched text; returning ``None`` means no match.
            schema: Its JSON Schema in the OpenAPI document (``junco.openapi``).
        """
        self.router.register_type(name, pattern, parser)
        if schema is not None:
            self.extensions.setdefault("junco.path_schemas", {})[name] = dict(schema)

    # -- routes ------------------------------------------------------------------------

    def route(
        self, url_pattern: str, methods: list[str] | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Register the decorated function for ``url_pattern`` and ``methods``.

        Args:
            url_pattern: e.g. ``/users/<int:id>``.
            methods: HTTP methods; ``['GET']`` when omitted.
            response_model: Validate and serialise return values as this type
                (see :mod:`junco.typed`); the return annotation otherwise.
        """

        def decorator(f: F) -> F:
            self.add_route(url_pattern, f, methods, response_model=response_model)
            return f

        return decorator

    def add_route(
        self,
        url_pattern: str,
        handler: Callable[..., Any],
        methods: list[str] | None = None,
        *,
        response_model: Any = None,
    ) -> Route:
        """Register ``handler`` without a decorator; returns the route."""
        websocket = bool(getattr(handler, "_junco_websocket", False))
        if websocket:
            ms: tuple[str, ...] = ("WEBSOCKET",)
        else:
            ms = tuple(m.upper() for m in (methods or ["GET"]))
        pattern = URLPattern(url_pattern, self.router.converters)
        if not websocket:
            # Decided once, here: a handler with nothing to bind is returned as is.
            from .typed import bind

            handler = bind(self, handler, [a for a, _ in pattern.args], response_model)
        route = Route(self, pattern, ms, handler, _hooks.is_async_callable(handler), websocket)
        self.router.add(route)
        _hooks.bump()
        return route

    def get(self, url_pattern: str, *, response_model: Any = None) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['GET'])``."""
        return self.route(url_pattern, ["GET"], response_model=response_model)

    def post(self, url_pattern: str, *, response_model: Any = None) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['POST'])``."""
        return self.route(url_pattern, ["POST"], response_model=response_model)

    def put(self, url_pattern: str, *, response_model: Any = None) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['PUT'])``."""
        return self.route(url_pattern, ["PUT"], response_model=response_model)

    def patch(self, url_pattern: str, *, response_model: Any = None) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['PATCH'])``."""
        return self.route(url_pattern, ["PATCH"], response_model=response_model)

    def delete(self, url_pattern: str, *, response_model: Any = None) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['DELETE'])``."""
        return self.route(url_pattern, ["DELETE"], response_model=response_model)

    async def call_handler(self, route: Route, request: Request, args: Mapping[str, Any]) -> Any:
        """Call a route's handler: coroutines awaited, sync functions in a thread."""
        handler = route.handler
        if route.is_async:
            return await handler(request, **args)
        if inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler):
            return handler(request, **args)  # creating a generator never blocks
        rv = await asyncio.to_thread(handler, request, **args)
        if inspect.isawaitable(rv):
            rv = await rv
        return rv

    # -- hooks -------------------------------------------------------------------------

    def before_request(self, f: F) -> F:
        """Run ``f(request)`` before each request; a non-None result is the response."""
        self.before_request_handlers.append((f, _hooks.is_async_callable(f)))
        _hooks.bump()
        return f

    def after_request(self, f: F) -> F:
        """Run ``f(request, response)`` after each successful request.

        A non-None result replaces the response. After-hooks run in reverse
        order of registration (the last registered runs first).
        """
        self.after_request_handlers.append((f, _hooks.is_async_callable(f)))
        _hooks.bump()
        return f

    def after_error_request(self, f: F) -> F:
        """Run ``f(request, response)`` after a request that ended in an error."""
        self.after_error_request_handlers.append((f, _hooks.is_async_callable(f)))
        _hooks.bump()
        return f

    def errorhandler(
        self, status_code_or_exception_class: int | type[BaseException]
    ) -> Callable[[F], F]:
        """Register an error handler.

        For a status code the handler is ``f(request)``; for an exception class
        it is ``f(request, exception)`` and the most specific class wins.
        """

        def decorator(f: F) -> F:
            self.error_handlers[status_code_or_exception_class] = f
            _hooks.bump()
            return f

        return decorator

    def add_middleware(self, middleware: Any, **options: Any) -> Any:
        """Add native middleware (an object) or wrap the app in ASGI middleware (a class).

        An object with any of ``before_request``, ``after_request`` and
        ``after_error_request`` joins the hook chain. A class is treated as
        ASGI middleware and instantiated as ``cls(app, **options)`` around the
        whole application (the last added is the outermost).
        """
        if inspect.isclass(middleware):
            factory: Any = middleware
            self._asgi = cast(ASGIApp, factory(self._asgi, **options))
            self._plain = False
            self.middleware.append(self._asgi)
            return self._asgi
        if options:
            raise TypeError("options are only for ASGI middleware classes")
        if not any(hasattr(middleware, name) for name in _MIDDLEWARE_HOOKS):
            raise TypeError(
                f"{middleware!r} has none of {', '.join(_MIDDLEWARE_HOOKS)}; pass an ASGI "
                "middleware as a class"
            )
        for name, registry in zip(
            _MIDDLEWARE_HOOKS,
            (
                self.before_request_handlers,
                self.after_request_handlers,
                self.after_error_request_handlers,
            ),
            strict=True,
        ):
            fn = getattr(middleware, name, None)
            if fn is not None:
                registry.append((fn, _hooks.is_async_callable(fn)))
        self.middleware.append(middleware)
        _hooks.bump()
        return middleware

    # -- mounting ----------------------------------------------------------------------

    def mount(self, subapp: Any, url_prefix: str = "", local: bool = False) -> None:
        """Serve ``subapp`` under ``url_prefix``.

        A junco sub-app is searched live (routes added later work). With
        ``local=False`` its hooks and error handlers apply to the whole parent;
        with ``local=True`` only to its own routes. Any other ASGI app is
        called with ``root_path`` extended by the prefix; junco hooks do not
        run for it.
        """
        url_prefix = url_prefix.rstrip("/")
        if url_prefix and not url_prefix.startswith("/"):
            raise ValueError("url_prefix must start with '/'")
        native = isinstance(subapp, Junco)
        if native and subapp is self:
            raise ConfigurationError("an app cannot be mounted on itself")
        if not native and not url_prefix:
            raise ConfigurationError("a foreign ASGI app needs a url_prefix")
        self.router.mount(Mount(url_prefix, subapp, local, native))
        self._plain = False
        _hooks.bump()

    # -- plans -------------------------------------------------------------------------

    def root_plan(self) -> _hooks.Plan:
        """Hooks and error handlers for requests answered by this app's own routes."""
        plan = self._root_plan
        if plan is None or self._plans_gen != _hooks.generation[0]:
            self._plans.clear()
            self._plans_gen = _hooks.generation[0]
            plan = self._root_plan = _hooks.build_plan(self, ())
        return plan

    def plan_for(self, chain: tuple[Mount, ...]) -> _hooks.Plan:
        """Hooks and error handlers for a route reached through ``chain``."""
        self.root_plan()  # refreshes the cache if anything was registered
        key = tuple(id(m) for m in chain)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _hooks.build_plan(self, chain)
        return plan

    # -- lifespan ----------------------------------------------------------------------

    def on_startup(self, f: F) -> F:
        """Register ``f()`` or ``f(scope)`` to run when the server starts."""
        self.startup_handlers.append(f)
        return f

    def on_shutdown(self, f: F) -> F:
        """Register ``f()`` or ``f(scope)`` to run when the server stops."""
        self.shutdown_handlers.append(f)
        return f

    # -- ASGI --------------------------------------------------------------------------

    # The ASGI entry point; see _dispatch.handle_http.
    __call__ = handle_http
    # Microdot code calls ``Microdot.abort(...)``.
    abort = staticmethod(abort)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            match = None
            if self.router.mounts:
                match = self._foreign(scope)
            if match is None or not _guards_pass(self, scope):
                # (a failing guard is rendered as an error by the normal chain)
                await handle_http(self, scope, receive, send, True)
            else:
                await _call_foreign(match[0], match[1], scope, receive, send)
        elif kind == "websocket":
            from .websocket import handle_websocket

            await handle_websocket(self, scope, receive, send)
        elif kind == "lifespan":
            from .lifespan import handle_lifespan

            await handle_lifespan(self, scope, receive, send)

    def _foreign(self, scope: Scope) -> tuple[Mount, str] | None:
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        table = self.router.static.get(path)
        if table is not None:
            return None
        m = self.router.match(scope.get("method", "GET"), path)
        return m.foreign

    # -- checking ----------------------------------------------------------------------

    def check(self) -> list[Any]:
        """What this app is missing for production: a list of ``junco.checks.Finding``.

        Errors first. ``junco check module:app`` prints them and exits non-zero
        when there are any.
        """
        from .checks import check_app

        return check_app(self)

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        debug: bool = False,
        ssl: Any = None,
        workers: int = 1,
        reload: bool = False,
        **options: Any,
    ) -> None:
        """Serve the app with uvicorn (blocking). See :mod:`junco.server`."""
        from .server import run

        run(
            self,
            host=host,
            port=port,
            debug=debug,
            ssl=ssl,
            workers=workers,
            reload=reload,
            **options,
        )

    async def start_server(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        debug: bool = False,
        ssl: Any = None,
        **options: Any,
    ) -> None:
        """Serve the app with uvicorn inside the running event loop."""
        from .server import start_server

        await start_server(self, host=host, port=port, debug=debug, ssl=ssl, **options)

    def shutdown(self) -> None:
        """Ask the server started by ``run``/``start_server`` to stop gracefully."""
        if self.server is not None:
            self.server.should_exit = True


async def _call_foreign(
    mount: Mount, prefix: str, scope: Scope, receive: Receive, send: Send
) -> None:
    sub = dict(scope)
    sub["root_path"] = scope.get("root_path", "") + prefix + mount.prefix
    # ASGI: ``path`` is the full path and includes ``root_path``.
    await mount.app(sub, receive, send)


def _guards_pass(app: Junco, scope: Scope) -> bool:
    """Host, header-size and path checks, for requests handed to foreign mounts."""
    try:
        scan_headers(app, scope)
    except HTTPException:
        return False
    path = scope["path"]
    return not ("\x00" in path or "\r" in path or "\n" in path)


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value
