"""Serving an app on a real ASGI server: uvicorn (the default), granian or hypercorn.

The package is everything junco does to start and run a server process:

- :mod:`junco.server.runner`: ``app.run()``, ``app.start_server()`` and
  ``junco run`` turned into server settings with safe defaults; loading the app
  in worker processes; the gunicorn worker class;
- :mod:`junco.server.protocols`: uvicorn's HTTP and WebSocket protocols with
  the head deadline, head size cap and prompt stop that ``junco run`` promises;
- :mod:`junco.server.accept`: the uvloop event loop that accepts every pending
  connection at once;
- :mod:`junco.server.startup`: what the person starting an app is told (banner,
  busy port, a file name given for a module);
- :mod:`junco.server.cli`: the ``junco`` command (also ``python -m junco``).

Importing this package needs no server: each is imported when it is used.
"""

from typing import Any

from . import runner as _runner
from .runner import (
    ENV_APP,
    ENV_DEBUG,
    ENV_SUPERVISOR,
    GRACEFUL_SHUTDOWN,
    HEADER_ROOM,
    HEADER_TIMEOUT,
    KEEP_ALIVE_TIMEOUT,
    MAX_CONNECTIONS,
    SERVERS,
    TLS,
    WORKER_TARGET,
    Bounds,
    Stopper,
    TLSFiles,
    gunicorn_worker,
    hypercorn_config,
    import_string_for,
    load_app,
    main_module_name,
    max_head,
    run,
    start_server,
    tls_options,
    uvicorn_options,
    worker_app,
)

__all__ = [
    "ENV_APP",
    "ENV_DEBUG",
    "ENV_SUPERVISOR",
    "GRACEFUL_SHUTDOWN",
    "HEADER_ROOM",
    "HEADER_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "MAX_CONNECTIONS",
    "SERVERS",
    "TLS",
    "WORKER_TARGET",
    "Bounds",
    "Stopper",
    "TLSFiles",
    "gunicorn_worker",
    "hypercorn_config",
    "import_string_for",
    "load_app",
    "main_module_name",
    "max_head",
    "run",
    "start_server",
    "tls_options",
    "uvicorn_options",
    "worker_app",
]


def __getattr__(name: str) -> Any:
    # ``gunicorn -k junco.server.UvicornWorker``: built on first use, so importing
    # junco.server never needs gunicorn.
    if name == "UvicornWorker":
        return _runner.gunicorn_worker()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
