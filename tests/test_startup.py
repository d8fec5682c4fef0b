"""First-hour mistakes caught where they are made, the banner, PORT and logging."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from junco import ConfigurationError, Junco
from junco.security.ratelimit import RateLimit
from junco.security.sessions import Session
from junco.server import cli, runner, startup
from junco.stores.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
RUNS_AT_IMPORT = textwrap.dedent(
    """
    from junco import Junco

    app = Junco()

    @app.get("/")
    async def index(request):
        return "hi"

    app.run(port=1)  # the classic mistake: not under `if __name__ == "__main__":`
    print("imported to the end")
    """
)


@pytest.fixture(autouse=True)
def junco_logger() -> Iterator[None]:
    """Whatever a test does to the ``junco`` logger is undone."""
    logger = logging.getLogger("junco")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield
    logger.handlers, level, logger.propagate = saved
    logger.setLevel(level)


def junco(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real ``junco`` command in a fresh process (bounded: a server would block)."""
    return subprocess.run(
        [sys.executable, "-m", "junco", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["routes", "check"])
def test_app_run_at_import_does_not_start_a_server(tmp_path: Path, command: str) -> None:
    (tmp_path / "todo.py").write_text(RUNS_AT_IMPORT)
    done = junco(command, "todo:app", cwd=tmp_path)
    assert "imported to the end" in done.stdout
    assert "todo calls app.run() when imported; junco skipped it" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
    if command == "routes":
        assert (done.returncode, done.stdout.split()[-3:-1]) == (0, ["GET", "/"])


def test_app_run_while_loading_is_skipped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object) -> None:
        raise AssertionError("a server was started")

    monkeypatch.setattr(runner, "_run_uvicorn", never)
    with startup.importing("todo"):
        Junco().run()
    assert "todo calls app.run() when imported" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        ("todo.py", "junco run todo:app"),
        ("./todo.py:api", "junco run todo:api"),
        ("src/shop/main.py", "junco run src.shop.main:app"),
    ],
)
def test_a_file_name_says_to_use_the_module_name(
    target: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["routes", target]) == 2
    err = capsys.readouterr().err
    assert f"use the module name, not a file: `{hint}`" in err


@pytest.fixture
def listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_busy_port_says_which_port_to_try(
    listener: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "tests.test_cli:app", "--port", str(listener)]) == 2
    err = capsys.readouterr().err
    assert f"port {listener} is in use: try `--port {listener + 1}`" in err
    assert "serving on" not in err  # no banner for a server that cannot start
    assert startup.port_in_use("127.0.0.1", listener) is not None
    with pytest.raises(ConfigurationError, match="is in use"):
        runner.run(Junco(), port=listener)


def test_port_5000_mentions_airplay() -> None:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 5000))
        sock.listen()
    except OSError:
        pass  # something else holds it: in use all the same
    try:
        message = startup.port_in_use("127.0.0.1", 5000)
    finally:
        sock.close()
    assert message is not None
    assert "AirPlay" in message


def test_a_free_port_is_fine() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert startup.port_in_use("127.0.0.1", port) is None
    assert startup.port_in_use("127.0.0.1", 0) is None


def test_port_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    assert cli.build_parser().parse_args(["run", "m:app"]).port == 8123
    assert startup.default_port() == 8123
    for junk in ("", "http", "0", "70000"):
        monkeypatch.setenv("PORT", junk)
        assert startup.default_port() == 5000


def test_banner_says_where_and_warns_about_memory_state() -> None:
    app = Junco()
    Session(app, "k" * 32, store=MemoryStore())
    RateLimit(app)
    lines = startup.banner(app, "http://127.0.0.1:5000", "uvicorn", 1, False)
    assert lines[0] == "junco: serving on http://127.0.0.1:5000"
    assert "uvicorn, 1 worker, debug off" in lines[1]
    assert "rate limits, sessions kept in memory (state is lost at restart)" in lines[2]
    lines = startup.banner(app, "http://x", "granian", 4, True)
    assert "4 workers, debug ON" in lines[1]
    assert "each worker has its own" in lines[2]
    app.state[startup.RANDOM_KEY_STATE] = True
    assert "sessions will not survive a restart" in startup.banner(app, "u", "s", 1, False)[-1]
    assert len(startup.banner(Junco(), "u", "uvicorn", 1, False)) == 2


def test_json_log_lines() -> None:
    record = logging.LogRecord("junco.audit", logging.INFO, __file__, 1, "login %s", ("ok",), None)
    record.request_id = "abc"
    line = json.loads(startup.JSONFormatter().format(record))
    assert line["logger"] == "junco.audit"
    assert line["message"] == "login ok"
    assert line["request_id"] == "abc"
    assert line["level"] == "INFO"
    assert line["time"].endswith("Z")
    record = logging.LogRecord("junco.audit", logging.INFO, __file__, 1, '{"event": "x"}', (), None)
    assert json.loads(startup.JSONFormatter().format(record))["audit"] == {"event": "x"}


def test_configure_logging_leaves_an_apps_setup_alone() -> None:
    logger = logging.getLogger("junco")
    logger.handlers = []
    handler = startup.configure_logging("json")
    assert logger.handlers == [handler]
    assert isinstance(handler.formatter, startup.JSONFormatter)
    again = startup.configure_logging("text")
    assert logger.handlers == [handler]  # not added twice
    assert again is not handler


def memory_app() -> Junco:
    from junco.pubsub import Broadcast

    app = Junco()
    Session(app, "k" * 32, store=MemoryStore())
    RateLimit(app)
    Broadcast("memory://").init_app(app)
    return app


memory_backed = memory_app()


def test_several_workers_with_memory_state_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    app = memory_backed
    assert "J014" not in [f.code for f in app.check()]
    (finding,) = [f for f in app.check(workers=4) if f.code == "J014"]
    assert finding.severity == "error"
    assert "Broadcast messages, rate limits, sessions" in finding.message
    assert "4 workers" in finding.message
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert "J014" in [f.code for f in app.check()]
    monkeypatch.delenv("WEB_CONCURRENCY")
    assert cli.main(["check", "tests.test_startup:memory_backed", "--workers", "2"]) == 1
    assert "J014 error" in capsys.readouterr().out


def test_logging_to_stderr_is_undone() -> None:
    logger = logging.getLogger("junco")
    logger.handlers = []
    with startup.logging_to_stderr("json"):
        assert len(logger.handlers) == 1
        assert logger.propagate is False
    assert logger.handlers == []
    assert logger.propagate is True
