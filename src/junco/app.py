"""The application: registration of routes, hooks, middleware, mounts and lifespan."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from . import _hooks, phases
from ._dispatch import handle_http
from ._foreign import serve_foreign
from .calling import call_endpoint, is_async_callable
from .exceptions import ConfigurationError, abort
from .lifespan import handle_lifespan
from .paths import app_path, path_problem
from .request import Request
from .response import _CT_FOLLOWERS, Response, _content_type_bytes
from .routing import Match, Mount, Parser, Route, RouteOptions, Router, URLPattern
from .types import ASGIApp, Message, Receive, Scope, Send

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
logger = logging.getLogger("junco")
_MIDDLEWARE_HOOKS = ("before_request", "after_request", "after_error_request")

# -- extension points: the core names no extension; extensions register here ----------

#: ``handler(app, scope, receive, send)`` for one ASGI scope type other than "http".
ScopeHandler = Callable[["Junco", Scope, Receive, Send], Awaitable[None]]
#: ``binder(app, handler, url_arg_names, response_model)`` → the handler to call.
ParamBinder = Callable[["Junco", Callable[..., Any], list[str], Any], Callable[..., Any]]

_scope_handlers: dict[str, ScopeHandler] = {}
_param_binders: list[ParamBinder] = []


def register_scope(kind: str, handler: ScopeHandler) -> None:
    """Serve ASGI scopes of type ``kind`` with ``handler`` (a protocol module calls this).

    ``junco.websocket`` registers ``"websocket"`` when imported; a scope type
    nobody registered is ignored, as ASGI allows.
    """
    if kind == "http":
        raise ConfigurationError("the core serves 'http' scopes itself")
    _scope_handlers[kind] = handler


def register_param_binder(binder: ParamBinder) -> None:
    """Install the binder that turns a handler's annotated parameters into arguments.

    ``junco.typed`` installs one when imported; it decides, once per route at
    registration, whether a handler needs a binding wrapper. There is one.
    """
    _param_binders[:] = [binder]


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
        if default_content_type is None:
            self._set_default_ct(Response.default_content_type)
            _CT_FOLLOWERS.add(self)
        else:
            self.default_content_type = default_content_type
        self.router = Router()
        self._version = 0
        self._parents: weakref.WeakSet[Junco] = weakref.WeakSet()
        self._plans: dict[tuple[int, ...], _hooks.Plan] = {}
        self._root_plan: _hooks.Plan | None = None
        self.before_request_handlers = []
        self.after_request_handlers = []
        self.after_error_request_handlers = []
        self.error_handlers = {}
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
        self.server: Any = None
        #: ``f(request, error) -> str``: the HTML of the error pages junco renders
        #: for browsers (see :mod:`junco.errors`); ``None`` for the built-in page.
        self.error_page: Callable[..., str] | None = None
        #: Route names given with ``name=`` (by ``id`` of the route); see :meth:`url_for`.
        self.route_names: dict[int, str] = {}

    # -- configuration ----------------------------------------------------------------

    # Microdot's hook lists and error handlers: plain lists of functions and a
    # dict, usable directly. Changing them (or assigning new ones) at any time
    # takes effect on the next request.
    before_request_handlers = _hooks.Tracked(_hooks.HookList)
    after_request_handlers = _hooks.Tracked(_hooks.HookList)
    after_error_request_handlers = _hooks.Tracked(_hooks.HookList)
    error_handlers = _hooks.Tracked(_hooks.HandlerDict)

    def _changed(self, seen: set[int] | None = None) -> None:
        """Something that plans are built from changed: drop this app's plans and its parents'."""
        self._version += 1
        self._root_plan = None
        self._plans = {}
        seen = seen if seen is not None else set()
        seen.add(id(self))
        for parent in list(self._parents):
            if id(parent) not in seen:
                parent._changed(seen)

    @property
    def default_content_type(self) -> str:
        return self._default_content_type

    @default_content_type.setter
    def default_content_type(self, value: str) -> None:
        _CT_FOLLOWERS.discard(
            self
        )  # set for this app: Response's class attribute no longer applies
        self._set_default_ct(value)

    def _set_default_ct(self, value: str) -> None:
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
        self,
        url_pattern: str,
        methods: list[str] | None = None,
        name: str | None = None,
        *,
        response_model: Any = None,
    ) -> Callable[[F], F]:
        """Register the decorated function for ``url_pattern`` and ``methods``.

        Args:
            url_pattern: e.g. ``/users/<int:id>``.
            methods: HTTP methods; ``['GET']`` when omitted.
            name: The route's name for :meth:`url_for`; the function's name by default.
            response_model: Validate and serialise return values as this type
                (see :mod:`junco.typed`); the return annotation otherwise.
        """

        def decorator(f: F) -> F:
            self.add_route(url_pattern, f, methods, name, response_model=response_model)
            return f

        return decorator

    def add_route(
        self,
        url_pattern: str,
        handler: Callable[..., Any],
        methods: list[str] | None = None,
        name: str | None = None,
        *,
        response_model: Any = None,
    ) -> Route:
        """Register ``handler`` without a decorator; returns the route."""
        RouteOptions.mark_routed(handler)  # the function given, whatever wraps it below
        protocol = RouteOptions.of(handler).protocol
        pattern = URLPattern(url_pattern, self.router.converters)
        ms: tuple[str, ...] = ()  # a route of another protocol is filed by protocol
        if protocol == "http":
            ms = tuple(m.upper() for m in (methods or ["GET"]))
            handler = _bind(self, handler, [a for a, _ in pattern.args], response_model)
        route = Route(self, pattern, ms, handler, is_async_callable(handler), protocol)
        self.router.add(route)
        if name is not None:
            self.route_names[id(route)] = name
        self._changed()
        return route

    def get(
        self, url_pattern: str, name: str | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['GET'])``."""
        return self.route(url_pattern, ["GET"], name, response_model=response_model)

    def post(
        self, url_pattern: str, name: str | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['POST'])``."""
        return self.route(url_pattern, ["POST"], name, response_model=response_model)

    def put(
        self, url_pattern: str, name: str | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['PUT'])``."""
        return self.route(url_pattern, ["PUT"], name, response_model=response_model)

    def patch(
        self, url_pattern: str, name: str | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['PATCH'])``."""
        return self.route(url_pattern, ["PATCH"], name, response_model=response_model)

    def delete(
        self, url_pattern: str, name: str | None = None, *, response_model: Any = None
    ) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['DELETE'])``."""
        return self.route(url_pattern, ["DELETE"], name, response_model=response_model)

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called ``name`` (its handler's name unless ``name=``).

        Mounted apps' routes are found too, with their prefix; inside a request
        the ASGI ``root_path`` is prepended. Arguments not in the pattern
        become the query string. See :mod:`junco.urls`.

        Raises:
            junco.urls.BuildError: no such route, or the arguments do not fit.
        """
        from .urls import url_for

        return url_for(self, name, **params)

    def query(self, url_pattern: str) -> Callable[[F], F]:
        """Shortcut for ``route(url_pattern, methods=['QUERY'])`` (a safe request with a body)."""
        return self.route(url_pattern, ["QUERY"])

    async def call_handler(self, route: Route, request: Request, args: Mapping[str, Any]) -> Any:
        """Call a route's handler under the endpoint policy (see :mod:`junco.calling`)."""
        return await call_endpoint(route.handler, route.is_async, request, **args)

    # -- hooks -------------------------------------------------------------------------

    def before_request(self, f: F) -> F:
        """Run ``f(request)`` before each request; a non-None result is the response."""
        self.before_request_handlers.append(f)
        return f

    def after_request(self, f: F) -> F:
        """Run ``f(request, response)`` after each successful request.

        A non-None result replaces the response. After-hooks run in reverse
        order of registration (the last registered runs first).
        """
        self.after_request_handlers.append(f)
        return f

    def after_error_request(self, f: F) -> F:
        """Run ``f(request, response)`` after a request that ended in an error."""
        self.after_error_request_handlers.append(f)
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
            return f

        return decorator

    def add_middleware(self, middleware: Any, **options: Any) -> Any:
        """Add native middleware (an object) or wrap the app in ASGI middleware (a class).

        An object with any of ``before_request``, ``after_request`` and
        ``after_error_request`` joins the hook chain in the phase it declares
        (its ``phase`` attribute, a :class:`~junco.phases.Phase`; ``Phase.APP``
        without one): each hook goes at the end of its phase in the hook
        lists, so components run in phase order whatever order they were
        added in, and after-hooks unwind in reverse. What it ``requires`` is
        checked when the first plan is built (see :mod:`junco.phases`).

        A class is treated as ASGI middleware and instantiated as
        ``cls(app, **options)`` around the whole application (the last added
        is the outermost).

        Raises:
            ConfigurationError: an object without hooks, a ``phase`` that is
                not a ``Phase``, or options with an object.
        """
        if inspect.isclass(middleware):
            factory: Any = middleware
            self._asgi = cast(ASGIApp, factory(self._asgi, **options))
            self._plain = False
            self.middleware.append(self._asgi)
            return self._asgi
        if options:
            raise ConfigurationError("options are only for ASGI middleware classes")
        if not any(hasattr(middleware, name) for name in _MIDDLEWARE_HOOKS):
            raise ConfigurationError(
                f"{middleware!r} has none of {', '.join(_MIDDLEWARE_HOOKS)}; pass an ASGI "
                "middleware as a class"
            )
        phase = phases.phase_of(middleware)
        self.middleware.append(middleware)
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
                registry.place(fn, phase)
        return middleware

    # -- mounting ----------------------------------------------------------------------

    def mount(self, subapp: Any, url_prefix: str = "", local: bool = False) -> None:
        """Serve ``subapp`` under ``url_prefix``.

        A junco sub-app is searched live (routes added later work). With
        ``local=False`` its hooks and error handlers apply to the whole parent;
        with ``local=True`` only to its own routes. Any other ASGI app is
        called with ``root_path`` extended by the prefix, inside this app's
        policy: the header checks and ``before_request`` hooks run first (and
        may refuse), the ``after_request`` hooks see its status and headers;
        its body is its own (see :mod:`junco._foreign`).
        """
        url_prefix = url_prefix.rstrip("/")
        if url_prefix and not url_prefix.startswith("/"):
            raise ConfigurationError("url_prefix must start with '/'")
        problem = path_problem(url_prefix) if url_prefix else None
        if problem is not None:
            # Request paths like it are refused with 400: the mount could never match.
            raise ConfigurationError(
                f"url_prefix {url_prefix!r} is not a canonical path: {problem}"
            )
        native = isinstance(subapp, Junco)
        if native and subapp is self:
            raise ConfigurationError("an app cannot be mounted on itself")
        if not native and not url_prefix:
            raise ConfigurationError("a foreign ASGI app needs a url_prefix")
        self.router.mount(Mount(url_prefix, subapp, local, native))
        self._plain = False
        if native:
            subapp._parents.add(self)
        self._changed()

    # -- plans -------------------------------------------------------------------------

    def root_plan(self) -> _hooks.Plan:
        """Hooks and error handlers for requests answered by this app's own routes."""
        plan = self._root_plan
        if plan is None:
            plan = self._root_plan = _hooks.build_plan(self, ())
        return plan

    def plan_for(self, chain: tuple[Mount, ...]) -> _hooks.Plan:
        """Hooks and error handlers for a route reached through ``chain``."""
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

    async def dispatch_request(self, req: Request) -> Response:
        """Run ``req`` through the app and return the response it produced.

        Microdot's entry point, for tests that drive the app by hand. A thin
        adapter: the request's ASGI scope goes through the normal path and the
        messages sent are gathered into a :class:`Response`
        (``Response.already_handled`` if nothing was sent).
        """
        messages: list[Message] = []

        async def collect(message: Message) -> None:
            messages.append(message)

        await self(req.asgi_scope, req.receive, collect)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is None:
            return Response.already_handled
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
        return Response(body, start["status"], raw)

    # -- ASGI --------------------------------------------------------------------------

    # The ASGI entry point; see _dispatch.handle_http.
    __call__ = handle_http
    # Microdot code calls ``Microdot.abort(...)``.
    abort = staticmethod(abort)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            match = self._foreign(scope) if self.router.mounts else None
            if match is None:
                await handle_http(self, scope, receive, send, True)
            else:  # the app's hooks still run around it
                await serve_foreign(self, match, scope, receive, send)
        else:
            handler = _scope_handlers.get(kind)
            if handler is not None:
                await handler(self, scope, receive, send)

    def _foreign(self, scope: Scope) -> Match | None:
        path = app_path(scope)
        table = self.router.static.get(path)
        if table is not None:
            return None
        m = self.router.match(scope.get("method", "GET"), path)
        return m if m.foreign is not None else None

    # -- components --------------------------------------------------------------------

    def component(self, kind: type[T]) -> T | None:
        """The installed extension or native middleware that is a ``kind``, or None.

        Found by type, so a subclass of ``kind`` counts: ``app.component(CORS)``.
        """
        for obj in (*self.extensions.values(), *self.middleware):
            if isinstance(obj, kind):
                return obj
        return None

    # -- checking ----------------------------------------------------------------------

    def check(self, workers: int | None = None) -> list[Any]:
        """What this app is missing for production: a list of ``junco.checks.Finding``.

        Errors first. ``junco check module:app`` prints them and exits non-zero
        when there are any. ``workers``: the number of processes it will run
        in (default ``WEB_CONCURRENCY``, else 1); state kept in memory is an
        error with more than one.
        """
        from .checks import check_app

        return check_app(self, workers)

    # -- running -----------------------------------------------------------------------

    def run(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        debug: bool = False,
        ssl: Any = None,
        workers: int = 1,
        reload: bool = False,
        **options: Any,
    ) -> None:
        """Serve the app with uvicorn (blocking). See :mod:`junco.server`.

        ``port`` defaults to the ``PORT`` environment variable, else 5000.
        Called while ``junco run``/``routes``/``check`` import the module, it
        does nothing but say so: put it under ``if __name__ == "__main__":``.
        """
        from .server import run
        from .server.startup import default_port

        if port is None:
            port = default_port()

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
        """Ask the server started by ``run``/``start_server`` (or ``junco run``) to stop gracefully.

        Under a server started some other way (``uvicorn module:app``) there
        is nothing to stop from here, and a warning says so: stop that
        server itself (Microdot's ASGI app would send SIGTERM to its whole
        process group, which junco does not do on purpose).
        """
        if self.server is not None:
            self.server.should_exit = True
        else:
            logger.warning(
                "app.shutdown(): no server started by junco to stop; stop the outside "
                "server itself (for uvicorn, send its process SIGTERM)"
            )


def _pick(value: int | None, default: int) -> int:
    return default if value is None else value


def _bind(
    app: Junco, handler: Callable[..., Any], url_args: list[str], response_model: Any
) -> Callable[..., Any]:
    """The installed parameter binder's verdict, decided once at registration."""
    if _param_binders:
        return _param_binders[0](app, handler, url_args, response_model)
    if response_model is not None:
        raise ConfigurationError("response_model= needs junco.typed (import junco)")
    return handler


register_scope("lifespan", handle_lifespan)
