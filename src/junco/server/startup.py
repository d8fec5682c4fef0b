"""What ``junco run`` and ``app.run()`` tell the person starting an app.

The mistakes of the first hour, caught where they are made: a file name
given instead of a module name, ``app.run()`` at module level imported by
``junco run``/``routes``/``check``, a busy port (macOS keeps 5000 for
AirPlay); plus the ``PORT`` variable of hosting platforms, the start-up
banner and readable logging.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ..security.sessions import RANDOM_KEY_STATE as RANDOM_KEY_STATE  # owned by the sessions

DEFAULT_PORT = 5000
ENV_PORT = "PORT"
_loading: list[str] = []  # modules load_app is importing right now


def default_port() -> int:
    """The ``PORT`` environment variable when it is a port number, else 5000."""
    value = os.environ.get(ENV_PORT, "").strip()
    if value.isdigit() and 0 < int(value) < 65536:
        return int(value)
    return DEFAULT_PORT


@contextmanager
def importing(module: str) -> Iterator[None]:
    """Mark ``module`` as being imported by junco (``app.run()`` then does nothing)."""
    _loading.append(module)
    try:
        yield
    finally:
        _loading.pop()


def run_during_import(out: TextIO | None = None) -> bool:
    """True, after saying what to do, when ``run()`` is called by a module junco imports.

    ``junco run todo:app`` imports ``todo``; a ``todo.py`` that ends with
    ``app.run()`` would start a second server (or block ``junco routes``)
    right there. The call is skipped instead.
    """
    if not _loading:
        return False
    module = _loading[-1]
    print(
        f"junco: {module} calls app.run() when imported; junco skipped it, since it is "
        f'already loading the app. Put the call under `if __name__ == "__main__":`',
        file=out or sys.stderr,
    )
    return True


def import_string_hint(target: str) -> str | None:
    """What to say when ``target`` is a file path rather than ``module:app``."""
    path, _, attr = target.partition(":")
    if not (path.endswith(".py") or "/" in path or "\\" in path):
        return None
    module = path.removesuffix(".py").replace("\\", "/").strip("/").replace("/", ".")
    module = module.removeprefix("..").lstrip(".")
    return f"use the module name, not a file: `junco run {module}:{attr or 'app'}`"


def port_in_use(host: str, port: int) -> str | None:
    """A message when something already listens on ``host:port``, else None."""
    if not port:
        return None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return None  # the server reports an unusable host itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return None
        else:
            return None
    message = f"port {port} is in use: try `--port {port + 1}` (or app.run(port={port + 1}))"
    if port == DEFAULT_PORT:
        message += (
            "; on macOS the AirPlay Receiver listens on port 5000 (System Settings >"
            " General > AirDrop & Handoff)"
        )
    return message


# -- the banner -------------------------------------------------------------------------


def banner(app: Any, url: str, server: str, workers: int, debug: bool) -> list[str]:
    """The lines ``junco run`` prints before serving: where, how, and what to watch."""
    lines = [
        f"junco: serving on {url}",
        f"  server {server}, {workers} worker{'s' if workers != 1 else ''}, "
        f"debug {'ON: tracebacks reach clients' if debug else 'off'}",
    ]
    lines.extend(f"  warning: {w}" for w in _warnings(app, workers))
    return lines


_pending: list[str] = []


def announce_later(lines: list[str]) -> None:
    """Keep ``lines`` for :func:`announce`: printed once the settings are known to be valid."""
    _pending[:] = lines


def announce(out: TextIO | None = None) -> None:
    """Print (to stderr) and forget the lines given to :func:`announce_later`."""
    for line in _pending:
        print(line, file=out or sys.stderr)
    _pending.clear()


def _warnings(app: Any, workers: int) -> Iterator[str]:
    from ..checks import memory_state

    memory = memory_state(app)
    if memory:
        where = "each worker has its own" if workers > 1 else "state is lost at restart"
        yield f"{', '.join(memory)} kept in memory ({where}): use a Redis store"
    state = getattr(app, "state", {})
    if state.get(RANDOM_KEY_STATE):
        yield "the secret key is random: sessions will not survive a restart"


# -- logging ----------------------------------------------------------------------------


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and request id, exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "junco.audit":
            try:  # an audit record is a JSON object already: nest it, not its text
                out["audit"] = json.loads(out.pop("message"))
            except ValueError:
                out["message"] = record.getMessage()
        rid = getattr(record, "request_id", None)
        if rid not in (None, "-"):
            out["request_id"] = rid
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


LOG_FORMATS = ("text", "json")


@contextmanager
def logging_to_stderr(fmt: str = "text") -> Iterator[None]:
    """:func:`configure_logging` for the duration of the block, undone afterwards."""
    logger = logging.getLogger("junco")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    configure_logging(fmt)
    try:
        yield
    finally:
        logger.handlers, level, logger.propagate = saved
        logger.setLevel(level)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> logging.Handler:
    """Send junco's loggers (``junco``, ``junco.audit``) to stderr, readable or as JSON lines.

    Only junco's own loggers are touched (the server configures its own), and
    only when nothing handles them yet, so an app's logging setup wins.
    """
    handler: logging.Handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    logger = logging.getLogger("junco")
    if not logger.handlers:
        logger.addHandler(handler)
        logger.propagate = False  # one line per record, whatever the root logger has
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
    return handler
