"""The ``junco`` command: ``run``, ``routes`` and ``check`` for an app named ``module:app``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .. import __version__
from ..exceptions import ConfigurationError
from . import runner, startup


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``junco`` command."""
    parser = argparse.ArgumentParser(prog="junco", description="Run and inspect junco apps.")
    parser.add_argument("--version", action="version", version=f"junco {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    app_help = "the app as module:attribute (attribute defaults to 'app')"

    run = commands.add_parser("run", help="serve an app", description="Serve an app.")
    run.add_argument("app", help=app_help)
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument(
        "--port",
        type=int,
        default=startup.default_port(),
        help="port to bind (default: $PORT, else 5000)",
    )
    run.add_argument("--workers", type=_positive, default=1, help="worker processes")
    run.add_argument("--reload", action="store_true", help="restart on code changes (uvicorn)")
    run.add_argument("--server", choices=runner.SERVERS, default="uvicorn", help="ASGI server")
    run.add_argument("--debug", action="store_true", help="tracebacks in 500 responses")
    run.add_argument("--certfile", help="TLS certificate chain (PEM)")
    run.add_argument("--keyfile", help="TLS private key (PEM)")
    run.add_argument("--log-level", default=None, help="server log level (uvicorn, hypercorn)")
    run.add_argument(
        "--log-format",
        choices=startup.LOG_FORMATS,
        default="text",
        help="junco's own log lines (junco, junco.audit): readable text or JSON lines",
    )
    _add_bounds(run)

    routes = commands.add_parser("routes", help="print the route table")
    routes.add_argument("app", help=app_help)
    check = commands.add_parser("check", help="report configuration problems")
    check.add_argument("app", help=app_help)
    check.add_argument(
        "--workers",
        type=_positive,
        default=None,
        help="worker processes it will run in (default $WEB_CONCURRENCY, else 1)",
    )
    return parser


def _add_bounds(run: argparse.ArgumentParser) -> None:
    """The per-client bounds of ``junco run`` (see docs/deployment.md)."""
    bounds = run.add_argument_group("client bounds (per worker)")
    bounds.add_argument(
        "--header-timeout", type=_seconds, default=runner.HEADER_TIMEOUT, metavar="S",
        help=f"seconds to send a complete request head (default {runner.HEADER_TIMEOUT:g})",
    )  # fmt: skip
    bounds.add_argument(
        "--keep-alive-timeout", type=_seconds, default=runner.KEEP_ALIVE_TIMEOUT, metavar="S",
        help=f"seconds an idle connection stays open (default {runner.KEEP_ALIVE_TIMEOUT:g})",
    )  # fmt: skip
    bounds.add_argument(
        "--max-connections", type=_positive, default=runner.MAX_CONNECTIONS, metavar="N",
        help=f"open connections per worker, 503 past it (default {runner.MAX_CONNECTIONS})",
    )  # fmt: skip


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``junco run`` passes to :func:`junco.server.run`.

    Raises:
        ConfigurationError: ``--keyfile`` without ``--certfile``.
    """
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "debug": args.debug,
        "workers": args.workers,
        "reload": args.reload,
        "server": args.server,
        "header_timeout": args.header_timeout,
        "keep_alive_timeout": args.keep_alive_timeout,
        "max_connections": args.max_connections,
    }
    if args.keyfile and not args.certfile:
        raise ConfigurationError("--keyfile needs --certfile")
    if args.certfile:
        options["ssl"] = runner.TLSFiles(args.certfile, args.keyfile)
    if args.log_level:
        key = {"uvicorn": "log_level", "hypercorn": "loglevel"}.get(args.server)
        if key is None:
            raise ConfigurationError(f"--log-level is not supported with {args.server}")
        options[key] = args.log_level.upper() if args.server == "hypercorn" else args.log_level
    return options


def print_routes(app: Any, out: TextIO) -> None:
    """Write the app's routes, one per line: methods, path pattern, handler."""
    rows = []
    for path, route in app.router.iter_routes():
        handler = route.handler
        name = f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
        rows.append((",".join(route.methods) or route.protocol.upper(), path, name))
    if not rows:
        out.write("no routes\n")
        return
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    for methods, path, name in rows:
        out.write(f"{methods:<{width[0]}}  {path:<{width[1]}}  {name}\n")


def check_app(app: Any, out: TextIO, workers: int | None = None) -> int:
    """Print what ``app.check()`` finds; return the exit status (1 if anything)."""
    check = getattr(app, "check", None)
    findings: list[Any] = []
    if callable(check):
        findings = list((check(workers) if workers else check()) or ())
    for finding in findings:
        out.write(f"{finding}\n")
    if findings:
        out.write(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}\n")
        return 1
    out.write("no findings\n")
    return 0


def start(args: argparse.Namespace) -> None:
    """``junco run``: logging, the app, the banner, then the server (blocking)."""
    options = run_options(args)
    app = runner.load_app(args.app)
    busy = startup.port_in_use(args.host, args.port)
    if busy is not None:
        raise ConfigurationError(busy)
    scheme = "https" if args.certfile else "http"
    url = f"{scheme}://{args.host}:{args.port}"
    if args.host in ("0.0.0.0", "::"):  # noqa: S104 - naming it, not binding
        url += " (every interface)"
    debug = args.debug or app.debug
    startup.announce_later(startup.banner(app, url, args.server, args.workers, debug))
    with startup.logging_to_stderr(args.log_format):
        runner.run(args.app, **options)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``junco`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    # As uvicorn does: modules in the current directory are importable.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        if args.command == "run":
            start(args)
            return 0
        app = runner.load_app(args.app)
        if args.command == "routes":
            print_routes(app, sys.stdout)
            return 0
        return check_app(app, sys.stdout, args.workers)
    except ConfigurationError as exc:
        print(f"junco: error: {exc}", file=sys.stderr)
        return 2
    except (ImportError, RuntimeError) as exc:
        print(f"junco: {exc}", file=sys.stderr)
        return 1
