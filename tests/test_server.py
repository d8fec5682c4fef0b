"""junco.server: TLS mapping, server settings, finding and loading the app, run() guards."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from junco import ConfigurationError, Junco, Request
from junco.server import runner as srv
from tests.servers import free_port


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    return cert, key


def write_module(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


APP_SOURCE = textwrap.dedent(
    """
    from junco import Junco

    app = Junco()

    @app.get("/")
    async def index(request):
        return "hi"
    """
)


@pytest.fixture
def probe_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on sys.path whose modules are forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


# -- TLS ------------------------------------------------------------------------------


def test_tls_options_accepts_every_documented_form(tmp_path: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    assert srv.tls_options(None) is None
    assert srv.tls_options(context) is context
    assert srv.tls_options("c.pem") == srv.TLSFiles("c.pem")
    assert srv.tls_options(tmp_path / "c.pem") == srv.TLSFiles(str(tmp_path / "c.pem"))
    assert srv.tls_options(("c.pem", "k.pem")) == srv.TLSFiles("c.pem", "k.pem")
    assert srv.tls_options(["c.pem", "k.pem", "pw"]) == srv.TLSFiles("c.pem", "k.pem", "pw")
    assert srv.tls_options({"certfile": "c.pem"}) == srv.TLSFiles("c.pem")
    full = {"certfile": "c.pem", "keyfile": tmp_path / "k.pem", "password": "pw"}
    assert srv.tls_options(full) == srv.TLSFiles("c.pem", str(tmp_path / "k.pem"), "pw")
    files = srv.TLSFiles("c.pem")
    assert srv.tls_options(files) is files


@pytest.mark.parametrize(
    "bad",
    [
        42,
        (),
        (None, "k.pem"),
        ("c", "k", "p", "extra"),
        {"keyfile": "k.pem"},
        {"certfile": "c.pem", "cert_reqs": 2},
        {"ssl_certfile": "c.pem"},
    ],
)
def test_tls_options_rejects_other_values(bad: Any) -> None:
    with pytest.raises(TypeError):
        srv.tls_options(bad)


def test_uvicorn_options_are_the_safe_defaults() -> None:
    app = Junco(max_header_bytes=10_000)
    options = srv.uvicorn_options("127.0.0.1", 8123, None, app)
    assert options["server_header"] is False
    assert options["date_header"] is True
    assert options["proxy_headers"] is False
    assert options["lifespan"] == "on"
    assert options["timeout_graceful_shutdown"] == srv.GRACEFUL_SHUTDOWN
    assert options["h11_max_incomplete_event_size"] > srv.max_head(app) == 10_000 + srv.HEADER_ROOM
    assert options["limit_concurrency"] == srv.MAX_CONNECTIONS
    assert options["timeout_keep_alive"] == srv.KEEP_ALIVE_TIMEOUT
    assert options["http"] == "junco.server.protocols:HttpToolsProtocol"
    assert options["ws"] == "junco.server.protocols:WebSocketProtocol"
    assert not any(k.startswith("ssl") for k in options)
    # Every key is a real uvicorn setting: Config takes them all.
    config = uvicorn.Config(app, **options)
    assert (config.host, config.port, config.server_header) == ("127.0.0.1", 8123, False)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert config.http_protocol_class.__module__ == "junco.server.protocols"


@pytest.mark.parametrize(
    ("parser", "expected"),
    [
        ("h11", "junco.server.protocols:H11Protocol"),
        ("httptools", "junco.server.protocols:HttpToolsProtocol"),
        ("auto", "junco.server.protocols:HttpToolsProtocol"),
        ("my.module:Protocol", "my.module:Protocol"),
    ],
)
def test_uvicorn_parser_names_map_to_junco_protocols(parser: str, expected: str) -> None:
    assert srv._uvicorn_parser({"http": parser})["http"] == expected
    assert srv._uvicorn_parser({}) == {}


def test_bounds_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="positive"):
        srv.Bounds(header_timeout=0)
    with pytest.raises(ConfigurationError, match="at least 1"):
        srv.Bounds(max_connections=0)


def test_head_limits_reach_the_protocol_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from junco.server import protocols

    monkeypatch.delenv(protocols.ENV_HEAD, raising=False)
    assert protocols.head_limits() == (srv.HEADER_TIMEOUT, protocols.MAX_HEAD)
    app = Junco(max_header_bytes=1000)
    with srv._environ(srv._head_env(app, srv.Bounds(header_timeout=2.5))):
        assert protocols.head_limits() == (2.5, 1000 + srv.HEADER_ROOM)
    assert protocols.ENV_HEAD not in os.environ


def test_uvicorn_loads_tls_files(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    options = srv.uvicorn_options("127.0.0.1", 0, srv.tls_options((cert, key)))
    assert options["ssl_certfile"] == str(cert)
    assert options["ssl_keyfile"] == str(key)
    config = uvicorn.Config(Junco(), **options)
    config.load()
    assert isinstance(config.ssl, ssl.SSLContext)
    assert config.is_ssl


def test_uvicorn_uses_the_callers_ssl_context(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    config = uvicorn.Config(Junco(), **srv.uvicorn_options("127.0.0.1", 0, context))
    config.load()
    assert config.ssl is context


def test_hypercorn_config_defaults_tls_and_options(tmp_path: Path) -> None:
    config = srv.hypercorn_config(
        "::1", 8443, srv.TLSFiles("c.pem", "k.pem", "pw"), {"keep_alive_timeout": 3}
    )
    assert config.bind == ["[::1]:8443"]
    assert config.include_server_header is False
    assert config.graceful_timeout == srv.GRACEFUL_SHUTDOWN
    assert config.h11_max_incomplete_size == 32 * 1024 + srv.HEADER_ROOM == srv.max_head()
    assert (config.certfile, config.keyfile, config.keyfile_password) == ("c.pem", "k.pem", "pw")
    assert config.keep_alive_timeout == 3
    assert srv.hypercorn_config("127.0.0.1", 1, None, {}).bind == ["127.0.0.1:1"]


def test_hypercorn_config_rejects_what_it_cannot_use() -> None:
    with pytest.raises(ConfigurationError, match="no setting"):
        srv.hypercorn_config("127.0.0.1", 1, None, {"no_such_setting": 1})
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with pytest.raises(ConfigurationError, match="TLS files"):
        srv.hypercorn_config("127.0.0.1", 1, context, {})


# -- loading and finding the app ------------------------------------------------------


def test_load_app_imports_module_and_attribute() -> None:
    from examples.showcase import app as module

    assert srv.load_app("examples.showcase.app:app") is module.app
    assert srv.load_app("examples.showcase.app") is module.app
    assert srv.load_app("examples.showcase.app:") is module.app
    assert srv.load_app("examples.showcase.app:app.router") is module.app.router


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "not an import string"),
        ("my app:app", "not an import string"),
        ("pkg.mod:app()", "not an import string"),
        ("junco_no_such_module:app", "cannot import"),
        ("junco_no_such_package.mod:app", "cannot import"),
        ("examples.no_such_module:app", "cannot import"),
        ("examples.showcase.app:nothing", "has no 'nothing'"),
    ],
)
def test_load_app_explains_bad_targets(target: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        srv.load_app(target)


def test_load_app_keeps_errors_from_inside_the_module(probe_dir: Path) -> None:
    write_module(probe_dir, "junco_probe_broken", "import junco_missing_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="junco_missing_dependency"):
        srv.load_app("junco_probe_broken:app")


def test_import_string_for_a_module_level_app(probe_dir: Path) -> None:
    write_module(probe_dir, "junco_probe_a", APP_SOURCE)
    write_module(probe_dir, "junco_probe_b", "from junco_probe_a import app as application\n")
    app = srv.load_app("junco_probe_b:application")
    # Both modules hold it; the one defining its handlers is the natural choice.
    assert srv.import_string_for(app) == "junco_probe_a:app"
    assert srv.load_app(srv.import_string_for(app)) is app


def test_import_string_for_an_app_without_routes(probe_dir: Path) -> None:
    write_module(probe_dir, "junco_probe_c", "from junco import Junco\nweb = Junco()\n")
    app = srv.load_app("junco_probe_c:web")
    assert srv.import_string_for(app) == "junco_probe_c:web"


def test_import_string_for_a_local_app_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="junco run module:app"):
        srv.import_string_for(Junco())


def test_import_string_for_an_app_in_main(probe_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = Junco()
    script = write_module(probe_dir, "junco_script", "")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    main.site = app  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert srv.import_string_for(app) == "junco_script:site"


def test_main_module_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def main_from(file: Path | None, spec_name: str | None = None) -> types.ModuleType:
        module = types.ModuleType("__main__")
        if file is not None:
            module.__file__ = str(file)
        if spec_name is not None:
            module.__spec__ = types.SimpleNamespace(name=spec_name)  # type: ignore[assignment]
        return module

    assert srv.main_module_name(main_from(package / "mod.py")) == "pkg.mod"
    assert srv.main_module_name(main_from(package / "__init__.py")) == "pkg"
    assert srv.main_module_name(main_from(None, "pkg.mod")) == "pkg.mod"
    assert srv.main_module_name(main_from(None)) is None
    assert srv.main_module_name(main_from(tmp_path / "notes.txt")) is None
    assert srv.main_module_name(main_from(Path("/nowhere/else/script.py"))) is None


def test_import_string_for_scripts_started_for_real(tmp_path: Path) -> None:
    """``python file.py`` and ``python -m pkg.mod`` name the module the child must import."""
    source = (
        APP_SOURCE + "\nfrom junco.server import import_string_for\nprint(import_string_for(app))\n"
    )
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write_module(package, "site", source)
    write_module(tmp_path, "script", source)
    env = {**os.environ, "PYTHONPATH": ""}

    def output(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=30, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert output("script.py") == "script:app"
    assert output("-m", "pkg.site") == "pkg.site:app"


# -- worker processes -------------------------------------------------------------------


def test_worker_app_loads_the_app_the_parent_named(
    probe_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(probe_dir, "junco_probe_w", APP_SOURCE)
    monkeypatch.setenv(srv.ENV_APP, "junco_probe_w:app")
    monkeypatch.setenv(srv.ENV_DEBUG, "1")
    monkeypatch.delenv(srv.ENV_SUPERVISOR, raising=False)
    app = srv.worker_app()
    assert app is srv.load_app("junco_probe_w:app")
    assert app.debug is True
    assert app.server is None


def test_shutdown_in_a_worker_signals_the_supervisor(
    probe_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_module(probe_dir, "junco_probe_s", APP_SOURCE)
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setenv(srv.ENV_APP, "junco_probe_s:app")
        monkeypatch.setenv(srv.ENV_DEBUG, "0")
        monkeypatch.setenv(srv.ENV_SUPERVISOR, str(supervisor.pid))
        app = srv.worker_app()
        assert app.debug is False
        assert isinstance(app.server, srv.Stopper)
        app.shutdown()
        assert supervisor.wait(timeout=10) == -signal.SIGTERM
        app.shutdown()  # a second call sends nothing (the pid may be reused by now)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_worker_app_needs_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(srv.ENV_APP, raising=False)
    with pytest.raises(RuntimeError, match="junco run"):
        srv.worker_app()


def test_stopper_calls_its_callback_once() -> None:
    calls: list[int] = []
    stopper = srv.Stopper(lambda: calls.append(1))
    assert stopper.should_exit is False
    stopper.should_exit = False
    stopper.should_exit = True
    stopper.should_exit = True
    assert stopper.should_exit is True
    assert calls == [1]


def test_worker_env_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(srv.ENV_DEBUG, "keep")
    monkeypatch.delenv(srv.ENV_APP, raising=False)
    with srv._environ(srv._worker_env("m:app", True)):
        assert os.environ[srv.ENV_APP] == "m:app"
        assert os.environ[srv.ENV_DEBUG] == "1"
        assert os.environ[srv.ENV_SUPERVISOR] == str(os.getpid())
    assert srv.ENV_APP not in os.environ
    assert os.environ[srv.ENV_DEBUG] == "keep"


# -- run() and start_server() guards -----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"server": "waitress"}, "server must be one of"),
        ({"workers": 0}, "at least 1"),
        ({"reload": True, "server": "hypercorn"}, "uvicorn server only"),
        ({"workers": 2}, "junco run module:app"),
        ({"reload": True}, "junco run module:app"),
        ({"server": "granian"}, "junco run module:app"),
    ],
)
def test_run_refuses_impossible_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        srv.run(Junco(), port=free_port(), **kwargs)


def test_run_refuses_an_ssl_context_for_workers() -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with pytest.raises(ConfigurationError, match="SSLContext"):
        srv.run("examples.showcase.app:app", workers=2, ssl=context)


def test_start_server_refuses_granian() -> None:
    import asyncio

    with pytest.raises(ConfigurationError, match="uvicorn and hypercorn"):
        asyncio.run(srv.start_server(Junco(), server="granian"))


def test_run_raises_when_startup_fails() -> None:
    app = Junco()

    @app.on_startup
    def broken() -> None:
        raise OSError("no database")

    with pytest.raises(RuntimeError, match="did not start"):
        srv.run(app, port=free_port(), log_level="critical")
    assert app.server is None


def test_run_with_an_import_string_and_debug(probe_dir: Path) -> None:
    """A string target is imported; ``debug`` reaches the app even though run() failed."""
    write_module(
        probe_dir,
        "junco_probe_d",
        APP_SOURCE + "\n@app.on_startup\ndef fail():\n    raise OSError('stop here')\n",
    )
    with pytest.raises(RuntimeError, match="did not start"):
        srv.run("junco_probe_d:app", port=free_port(), debug=True, log_level="critical")
    assert srv.load_app("junco_probe_d:app").debug is True


def test_sigterm_becomes_keyboard_interrupt_while_serving() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), srv._sigterm_as_interrupt():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


def test_missing_server_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ImportError, match=r'pip install "junco\[server\]"'):
        srv.run(Junco(), port=free_port())
    with pytest.raises(ImportError, match="pip install junco_no_such_server"):
        srv._require("junco_no_such_server")


def test_app_run_delegates_to_the_server_module() -> None:
    app = Junco()

    @app.get("/")
    async def index(request: Request) -> str:
        return "x"

    with pytest.raises(ConfigurationError, match="at least 1"):
        app.run(workers=0)


def test_gunicorn_worker_carries_junco_settings() -> None:
    import junco.server

    worker = junco.server.UvicornWorker  # what ``gunicorn -k`` names
    assert worker is srv.UvicornWorker is srv.gunicorn_worker()
    assert worker.__module__ == "junco.server.runner"
    settings = worker.CONFIG_KWARGS
    assert settings["server_header"] is False
    assert settings["proxy_headers"] is False
    assert settings["lifespan"] == "on"
    assert settings["http"] == "junco.server.protocols:HttpToolsProtocol"
    assert "host" not in settings
    assert "port" not in settings
    with pytest.raises(AttributeError, match="no_such_name"):
        srv.no_such_name  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_name"):
        junco.server.no_such_name  # noqa: B018


def test_gunicorn_worker_falls_back_to_uvicorns_old_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn_worker", None)  # as if not installed
    srv.gunicorn_worker.cache_clear()
    try:
        worker = srv.gunicorn_worker()
        assert worker.__mro__[1].__module__ == "uvicorn.workers"
        assert worker.CONFIG_KWARGS["server_header"] is False
    finally:
        srv.gunicorn_worker.cache_clear()
