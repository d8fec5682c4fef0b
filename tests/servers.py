"""Real servers for end-to-end tests: uvicorn on 127.0.0.1, a free port, a thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, **config: Any) -> Iterator[str]:
    """Run ``app`` on a real uvicorn in a background thread; yield its base URL.

    Extra keyword arguments go to ``uvicorn.Config`` (``http="h11"``, ...).
    """
    port = config.pop("port", None) or free_port()
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on"}
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietWSGIHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_wsgi(wsgi: Any) -> Iterator[str]:
    """Run a WSGI app on wsgiref's server (a thread per request); yield its base URL."""
    server = make_server(
        "127.0.0.1", 0, wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietWSGIHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
