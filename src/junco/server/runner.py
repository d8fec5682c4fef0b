"""Serving an app on a real ASGI server: uvicorn (the default), granian or hypercorn.

junco never parses HTTP itself. This module turns the arguments of ``app.run()``,
``app.start_server()`` and ``junco run`` into server settings with safe defaults.

A server that starts fresh processes (``workers > 1``, ``reload``, granian) cannot
be handed the app object: each process imports it again. Those processes import
:func:`worker_app`, which loads the app named in ``JUNCO_APP`` and applies what
the parent decided (``debug``), and makes ``app.shutdown()`` stop the whole
server by signalling the supervising process.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import signal
import ssl as _ssl
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from .. import _draining
from ..exceptions import ConfigurationError
from .startup import announce, import_string_hint, importing, port_in_use, run_during_import

SERVERS = ("uvicorn", "granian", "hypercorn")
GRACEFUL_SHUTDOWN = 10
"""Seconds the server waits for in-flight requests when stopping."""
HEADER_ROOM = 16 * 1024
"""Bytes allowed for the request line and framing on top of the app's header limit."""
HEADER_TIMEOUT = 10.0
"""Seconds a client has to send a complete request head."""
KEEP_ALIVE_TIMEOUT = 5.0
"""Seconds an idle keep-alive connection stays open."""
MAX_CONNECTIONS = 4096
"""Open connections per worker before new requests get 503."""
WORKER_TARGET = "junco.server:worker_app"
ENV_APP = "JUNCO_APP"
ENV_DEBUG = "JUNCO_DEBUG"
ENV_SUPERVISOR = "JUNCO_SUPERVISOR_PID"
_NOT_STARTED = "the server did not start; its log says why"


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """A certificate chain file, its key file and the key's password."""

    certfile: str
    keyfile: str | None = None
    password: str | None = None


TLS = _ssl.SSLContext | TLSFiles | None


def tls_options(ssl: Any) -> TLS:
    """Normalise the ``ssl`` argument of ``run``/``start_server``.

    Args:
        ssl: ``None``; an :class:`ssl.SSLContext`; a certificate path; a tuple
            ``(certfile, keyfile[, password])``; or a mapping with ``certfile``
            and optionally ``keyfile`` and ``password``.

    Raises:
        TypeError: for anything else.
    """
    if ssl is None or isinstance(ssl, (_ssl.SSLContext, TLSFiles)):
        return ssl
    if isinstance(ssl, (str, os.PathLike)):
        return TLSFiles(os.fspath(ssl))
    if isinstance(ssl, (tuple, list)) and 1 <= len(ssl) <= 3 and ssl[0] is not None:
        keyfile = ssl[1] if len(ssl) > 1 else None
        return TLSFiles(
            os.fspath(ssl[0]),
            None if keyfile is None else os.fspath(keyfile),
            ssl[2] if len(ssl) > 2 else None,
        )
    if isinstance(ssl, Mapping):
        unknown = set(ssl) - {"certfile", "keyfile", "password"}
        if unknown or "certfile" not in ssl:
            raise TypeError("an ssl mapping takes 'certfile' and optionally 'keyfile', 'password'")
        keyfile = ssl.get("keyfile")
        return TLSFiles(
            os.fspath(ssl["certfile"]),
            None if keyfile is None else os.fspath(keyfile),
            ssl.get("password"),
        )
    raise TypeError(f"ssl must be an SSLContext, a path, a tuple or a mapping, not {ssl!r}")


class _FixedContext:
    """uvicorn's ``ssl_context_factory`` that hands over a context built by the caller."""

    def __init__(self, context: _ssl.SSLContext) -> None:
        self.context = context

    def __call__(self, config: Any, default: Callable[[], _ssl.SSLContext]) -> _ssl.SSLContext:
        return self.context


@dataclass(frozen=True, slots=True)
class Bounds:
    """What the server bounds for each client, per worker process.

    Attributes:
        header_timeout: Seconds a connection has to send a complete request
            head, counted from when it opens or its last response ends; a
            silent or dripping client is closed after it.
        keep_alive_timeout: Seconds an idle keep-alive connection stays open.
        max_connections: Open connections (and requests in flight) per worker;
            past it, requests get 503 and the connection is closed.
    """

    header_timeout: float = HEADER_TIMEOUT
    keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT
    max_connections: int = MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if not self.header_timeout > 0 or not self.keep_alive_timeout > 0:
            raise ConfigurationError("timeouts must be positive numbers of seconds")
        if self.max_connections < 1:
            raise ConfigurationError("max_connections must be at least 1")


_PARSERS = {"auto": "HttpToolsProtocol", "httptools": "HttpToolsProtocol", "h11": "H11Protocol"}


def max_head(app: Any = None) -> int:
    """Bytes of request head the server accepts: the app's header limit plus framing."""
    return int(getattr(app, "max_header_bytes", 32 * 1024)) + HEADER_ROOM


def uvicorn_options(
    host: str, port: int, tls: TLS, app: Any = None, bounds: Bounds | None = None
) -> dict[str, Any]:
    """The ``uvicorn.Config`` keyword arguments junco uses before the caller's own.

    Args:
        host: Address to bind.
        port: Port to bind.
        tls: From :func:`tls_options`.
        app: The app, when known, to size the request head limit from its own.
        bounds: The per-client bounds (junco's defaults when ``None``).
    """
    bounds = bounds or Bounds()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "lifespan": "on",
        "server_header": False,
        "date_header": True,
        # Trust no forwarding headers unless told: junco's proxy middleware decides.
        "proxy_headers": False,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN,
        # junco's protocols add the head deadline and size cap uvicorn lacks.
        "http": _PROTOCOLS + _PARSERS["httptools" if _has_httptools() else "h11"],
        "ws": _PROTOCOLS + "WebSocketProtocol",
        # uvloop, accepting every pending connection per iteration (see junco.server.accept).
        "loop": _LOOP if _has_uvloop() else "auto",
        "timeout_keep_alive": bounds.keep_alive_timeout,
        "limit_concurrency": bounds.max_connections,
        # h11's own cap sits above junco's, which answers 431 first.
        "h11_max_incomplete_event_size": 2 * max_head(app),
    }
    if isinstance(tls, TLSFiles):
        options.update(
            ssl_certfile=tls.certfile, ssl_keyfile=tls.keyfile, ssl_keyfile_password=tls.password
        )
    elif tls is not None:
        options["ssl_context_factory"] = _FixedContext(tls)
    return options


_PROTOCOLS = "junco.server.protocols:"
_LOOP = "junco.server.accept:new_event_loop"


@cache
def _has_httptools() -> bool:
    return importlib.util.find_spec("httptools") is not None


@cache
def _has_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def _uvicorn_parser(options: dict[str, Any]) -> dict[str, Any]:
    """Map ``http="h11"``/``"httptools"`` to junco's bounded protocol of that parser,
    and ``loop="auto"``/``"uvloop"`` to junco's batch-accepting uvloop."""
    parser = options.get("http")
    if isinstance(parser, str) and parser in _PARSERS:
        options = options | {"http": _PROTOCOLS + _PARSERS[parser]}
    if options.get("loop") in ("auto", "uvloop") and _has_uvloop():
        options = options | {"loop": _LOOP}
    return options


@contextmanager
def _environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (inherited by worker processes) for the block."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _head_env(app: Any, bounds: Bounds) -> dict[str, str]:
    from .protocols import ENV_HEAD, head_setting

    return {ENV_HEAD: head_setting(bounds.header_timeout, max_head(app))}


def _raise_file_limit(bounds: Bounds) -> None:
    """Let a worker hold ``max_connections`` sockets: raise the soft RLIMIT_NOFILE if lower."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = bounds.max_connections + 256  # listening sockets, files, Redis, logs
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


# -- finding and loading the app --------------------------------------------------------


def load_app(target: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` defaults to ``app``).

    Raises:
        ConfigurationError: the string is malformed, or names no module or attribute.
    """
    hint = import_string_hint(target)
    if hint is not None:
        raise ConfigurationError(hint)
    module_name, _, attr = target.partition(":")
    attr = attr or "app"
    names = module_name.split(".") + attr.split(".")
    if not all(n.isidentifier() for n in names):
        raise ConfigurationError(f"{target!r} is not an import string like 'package.module:app'")
    try:
        with importing(module_name):
            obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):
            raise ConfigurationError(
                f"cannot import {module_name!r}: run from the directory that contains it"
            ) from exc
        raise
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigurationError(f"module {module_name!r} has no {attr!r}") from None
    return obj


def import_string_for(app: Any) -> str:
    """Find an import string ``"module:name"`` that yields this very object.

    Modules other than ``__main__`` win, preferring the one that defines the
    app's route handlers; for ``__main__`` the module name comes from how the
    script was started (``python -m pkg.mod``) or from its file's place on
    ``sys.path``.

    Raises:
        ConfigurationError: no importable module holds the app.
    """
    handler_modules = {
        getattr(route.handler, "__module__", None)
        for route in getattr(getattr(app, "router", None), "routes", ())
    }
    found: list[tuple[bool, bool, int, str, str]] = []
    main_attr: str | None = None
    for module_name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for name, value in list(namespace.items()):
            if value is not app or not name.isidentifier():
                continue
            if module_name in ("__main__", "__mp_main__"):
                main_attr = main_attr or name
            else:
                rank = (module_name not in handler_modules, name != "app", module_name.count("."))
                found.append((*rank, module_name, name))
    if found:
        *_, module_name, name = min(found)
        return f"{module_name}:{name}"
    if main_attr is not None:
        main_name = main_module_name(sys.modules["__main__"])
        if main_name is not None:
            return f"{main_name}:{main_attr}"
    raise ConfigurationError(
        "cannot find an import string for this app, which workers and reload need: "
        "define it at module level and start it with `junco run module:app`"
    )


def main_module_name(main: ModuleType) -> str | None:
    """The importable name of the ``__main__`` module, or ``None``."""
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name)
    file = getattr(main, "__file__", None)
    if not file or not file.endswith(".py"):
        return None
    path = Path(file).resolve()
    best: str | None = None
    for entry in sys.path:
        try:
            rel = path.relative_to(Path(entry or os.getcwd()).resolve())
        except (ValueError, OSError):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(p.isidentifier() for p in parts):
            name = ".".join(parts)
            if best is None or len(name) < len(best):
                best = name
    return best


class Stopper:
    """Stands in for a server on ``app.server``: setting ``should_exit`` calls ``stop`` once."""

    def __init__(self, stop: Callable[[], Any]) -> None:
        self._stop = stop
        self._should_exit = False

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value and not self._should_exit:
            self._should_exit = True
            self._stop()


def worker_app() -> Any:
    """Load the app in a worker process started by :func:`run` (a server factory).

    Raises:
        RuntimeError: outside a process started by :func:`run`.
    """
    target = os.environ.get(ENV_APP)
    if not target:
        raise RuntimeError(f"{ENV_APP} is not set: start the app with `junco run module:app`")
    app = load_app(target)
    if os.environ.get(ENV_DEBUG) == "1":
        app.debug = True
    supervisor = os.environ.get(ENV_SUPERVISOR)
    if supervisor and hasattr(app, "shutdown"):
        pid = int(supervisor)
        app.server = Stopper(lambda: os.kill(pid, signal.SIGTERM))
    return app


def _worker_env(target: str, debug: bool) -> dict[str, str]:
    return {ENV_APP: target, ENV_DEBUG: "1" if debug else "0", ENV_SUPERVISOR: str(os.getpid())}


# -- running ---------------------------------------------------------------------------


def _require(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        hint = 'pip install "junco[server]"' if name == "uvicorn" else f"pip install {name}"
        raise ImportError(f"serving with {name} needs it installed: {hint}") from None


def run(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 5000,
    debug: bool = False,
    ssl: Any = None,
    workers: int = 1,
    reload: bool = False,
    server: str = "uvicorn",
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    **options: Any,
) -> None:
    """Serve ``app`` until interrupted (blocking).

    SIGINT, SIGTERM and ``app.shutdown()`` stop the server gracefully: open
    SSE streams end and WebSockets close (1001) at once, in-flight requests
    finish (at most ``GRACEFUL_SHUTDOWN`` seconds), the shutdown handlers run
    and it returns.

    Args:
        app: The app, or an import string ``"module:app"``.
        host: Address to bind; ``"0.0.0.0"`` listens on every interface.
        port: Port to bind.
        debug: Set ``app.debug`` (tracebacks in 500 responses).
        ssl: TLS settings, see :func:`tls_options`.
        workers: Number of worker processes.
        reload: Restart when a source file changes (uvicorn only; development).
        server: ``"uvicorn"``, ``"granian"`` or ``"hypercorn"``.
        header_timeout: Seconds a client has to send a complete request head.
        keep_alive_timeout: Seconds an idle keep-alive connection stays open.
        max_connections: Open connections per worker; past it, 503 (uvicorn)
            or new connections wait (granian).
        **options: Passed to the server's configuration, overriding junco's
            (``uvicorn.Config``, ``granian.Granian`` or hypercorn ``Config`` names).

    Raises:
        ConfigurationError: an impossible combination of arguments.
        ImportError: the chosen server is not installed.
        RuntimeError: the server did not start.
    """
    if run_during_import():
        return
    if server not in SERVERS:
        raise ConfigurationError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
    busy = None if options.get("fd") or options.get("uds") else port_in_use(host, port)
    if busy is not None:
        raise ConfigurationError(busy)
    if workers < 1:
        raise ConfigurationError("workers must be at least 1")
    if reload and server != "uvicorn":
        raise ConfigurationError("reload is supported with the uvicorn server only")
    bounds = Bounds(header_timeout, keep_alive_timeout, max_connections)
    tls = tls_options(ssl)
    _raise_file_limit(bounds)
    announce()  # junco run's banner, now that the settings are known to work
    target = app if isinstance(app, str) else None
    if workers == 1 and not reload and server != "granian":
        obj = load_app(app) if target is not None else app
        if debug:
            obj.debug = True
        with _environ(_head_env(obj, bounds)):
            if server == "uvicorn":
                settings = uvicorn_options(host, port, tls, obj, bounds)
                _run_uvicorn(obj, settings | _uvicorn_parser(options))
            else:
                _run_hypercorn(obj, host, port, tls, bounds, options)
        return
    if isinstance(tls, _ssl.SSLContext):
        raise ConfigurationError(
            "an SSLContext cannot be handed to worker processes: pass ssl=(certfile, keyfile)"
        )
    target = target or import_string_for(app)
    with _environ(_worker_env(target, debug) | _head_env(None, bounds)):
        if server == "uvicorn":
            uvicorn = _require("uvicorn")
            settings = uvicorn_options(host, port, tls, None, bounds)
            settings |= {"factory": True, "workers": workers, "reload": reload}
            uvicorn.run(WORKER_TARGET, **(settings | _uvicorn_parser(options)))
        elif server == "granian":
            _run_granian(host, port, workers, tls, bounds, options)
        else:
            _run_hypercorn_workers(host, port, workers, tls, bounds, options)


def _sigterm_handler(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a stopped server returns instead of dying by signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _sigterm_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_uvicorn(app: Any, settings: dict[str, Any]) -> None:
    uvicorn = _require("uvicorn")
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    with _serving(app, server):
        try:
            with _sigterm_as_interrupt():
                server.run()
        except KeyboardInterrupt:
            pass


@contextmanager
def _serving(app: Any, server: Any) -> Iterator[None]:
    """``app.server`` while a uvicorn server runs; a failed start becomes RuntimeError."""
    app.server = server
    _draining.reset()
    try:
        yield
    except SystemExit as exc:  # uvicorn exits when it cannot start; a library raises
        if server.started:
            raise
        raise RuntimeError(_NOT_STARTED) from exc
    finally:
        app.server = None
        _draining.reset()
    if not server.started:
        raise RuntimeError(_NOT_STARTED)


async def start_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 5000,
    debug: bool = False,
    ssl: Any = None,
    server: str = "uvicorn",
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive_timeout: float = KEEP_ALIVE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    **options: Any,
) -> None:
    """Serve ``app`` inside the running event loop until ``app.shutdown()``.

    Args:
        app: The app.
        host: Address to bind.
        port: Port to bind.
        debug: Set ``app.debug``.
        ssl: TLS settings, see :func:`tls_options`.
        server: ``"uvicorn"`` or ``"hypercorn"``.
        header_timeout: Seconds a client has to send a complete request head.
        keep_alive_timeout: Seconds an idle keep-alive connection stays open.
        max_connections: Open connections before requests get 503 (uvicorn).
        **options: Passed to the server's configuration, overriding junco's.

    Raises:
        ConfigurationError: granian (it cannot join a running loop) or an unknown server.
        RuntimeError: the server did not start.
    """
    if debug:
        app.debug = True
    tls = tls_options(ssl)
    bounds = Bounds(header_timeout, keep_alive_timeout, max_connections)
    if server == "hypercorn":
        await _serve_hypercorn(app, host, port, tls, bounds, options, handle_signals=False)
        return
    if server != "uvicorn":
        raise ConfigurationError("start_server supports uvicorn and hypercorn; use run()")
    uvicorn = _require("uvicorn")
    settings = uvicorn_options(host, port, tls, app, bounds) | _uvicorn_parser(options)
    with _environ(_head_env(app, bounds)):
        srv = uvicorn.Server(uvicorn.Config(app, **settings))
        with _serving(app, srv):
            await srv.serve()


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def hypercorn_config(
    host: str,
    port: int,
    tls: TLS,
    options: Mapping[str, Any],
    app: Any = None,
    bounds: Bounds | None = None,
) -> Any:
    """A hypercorn ``Config`` with junco's defaults, then ``options`` as attributes.

    Raises:
        ConfigurationError: an SSLContext (hypercorn takes files) or an unknown option.
    """
    bounds = bounds or Bounds()
    config = _require("hypercorn.config").Config()
    config.bind = [_bind(host, port)]
    config.include_server_header = False
    config.include_date_header = True
    config.graceful_timeout = GRACEFUL_SHUTDOWN
    config.h11_max_incomplete_size = max_head(app)
    config.keep_alive_timeout = bounds.keep_alive_timeout
    config.accesslog = "-"
    if isinstance(tls, _ssl.SSLContext):
        raise ConfigurationError("hypercorn takes TLS files: pass ssl=(certfile, keyfile)")
    if tls is not None:
        config.certfile, config.keyfile = tls.certfile, tls.keyfile
        config.keyfile_password = tls.password
    for key, value in options.items():
        if not hasattr(config, key):
            raise ConfigurationError(f"hypercorn has no setting {key!r}")
        setattr(config, key, value)
    return config


def _run_hypercorn(
    app: Any, host: str, port: int, tls: TLS, bounds: Bounds, options: dict[str, Any]
) -> None:
    asyncio.run(_serve_hypercorn(app, host, port, tls, bounds, options, handle_signals=True))


async def _serve_hypercorn(
    app: Any,
    host: str,
    port: int,
    tls: TLS,
    bounds: Bounds,
    options: dict[str, Any],
    handle_signals: bool,
) -> None:
    serve = _require("hypercorn.asyncio").serve
    config = hypercorn_config(host, port, tls, options, app, bounds)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    app.server = Stopper(lambda: loop.call_soon_threadsafe(stop.set))
    signals = (signal.SIGINT, signal.SIGTERM) if handle_signals else ()
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)

    async def stopping() -> None:
        await stop.wait()
        _draining.begin()  # streams end now instead of holding the graceful stop

    _draining.reset()
    try:
        await serve(app, config, shutdown_trigger=stopping, mode="asgi")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        app.server = None
        _draining.reset()


def _run_hypercorn_workers(
    host: str, port: int, workers: int, tls: TLS, bounds: Bounds, options: dict[str, Any]
) -> None:
    config = hypercorn_config(host, port, tls, {"workers": workers} | options, None, bounds)
    # hypercorn evaluates the part after the colon, so a call makes it a factory.
    config.application_path = WORKER_TARGET + "()"
    code = _require("hypercorn.run").run(config)
    if code:
        raise RuntimeError(f"hypercorn exited with status {code}")


def _run_granian(
    host: str, port: int, workers: int, tls: TLS, bounds: Bounds, options: dict[str, Any]
) -> None:
    granian = _require("granian")
    # A bounded read buffer bounds the request head, as h11's limit does for uvicorn;
    # hyper's header read timeout also covers a silent or idle connection.
    http1 = _require("granian.http").HTTP1Settings(
        max_buffer_size=max_head(), header_read_timeout=round(bounds.header_timeout * 1000)
    )
    settings: dict[str, Any] = {
        "http1_settings": http1,
        "address": host,
        "port": port,
        "interface": _require("granian.constants").Interfaces.ASGI,
        "workers": workers,
        "factory": True,
        # Requests in flight per worker; granian's default (backlog / workers)
        # stalls a worker at 1,024 open streams.
        "backpressure": bounds.max_connections,
        "backlog": max(2048, bounds.max_connections),
        # Also ends a known granian hang when a signal arrives while workers start.
        "workers_kill_timeout": GRACEFUL_SHUTDOWN,
    }
    if tls is not None and not isinstance(tls, _ssl.SSLContext):
        settings.update(
            ssl_cert=Path(tls.certfile),
            ssl_key=Path(tls.keyfile) if tls.keyfile else None,
            ssl_key_password=tls.password,
        )
    granian.Granian(WORKER_TARGET, **(settings | options)).serve()


# -- gunicorn ----------------------------------------------------------------------------


def __getattr__(name: str) -> Any:
    # ``gunicorn -k junco.server.UvicornWorker``: built on first use, so importing
    # this module never needs gunicorn.
    if name == "UvicornWorker":
        return gunicorn_worker()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def gunicorn_worker() -> type[Any]:
    """A gunicorn worker class: uvicorn's, with junco's server settings.

    Raises:
        ImportError: neither ``uvicorn-worker`` nor uvicorn's old worker module is there.
    """
    try:
        base = importlib.import_module("uvicorn_worker").UvicornWorker
    except ImportError:
        with warnings.catch_warnings():  # uvicorn.workers is deprecated, not gone
            warnings.simplefilter("ignore", DeprecationWarning)
            base = _require("uvicorn.workers").UvicornWorker
    settings = uvicorn_options("127.0.0.1", 0, None)
    for key in ("host", "port", "timeout_graceful_shutdown"):  # gunicorn decides these
        del settings[key]
    attributes = {
        "CONFIG_KWARGS": {**base.CONFIG_KWARGS, **settings},
        "__module__": __name__,
        "__doc__": "uvicorn's gunicorn worker with junco's server settings.",
    }
    return type("UvicornWorker", (base,), attributes)
