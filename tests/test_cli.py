"""The ``junco`` command: argument parsing, routes, check, and error reporting."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from junco import ConfigurationError, Junco, Request, __version__
from junco.server import TLSFiles, cli

ROOT = Path(__file__).resolve().parents[1]

app = Junco()


@app.route("/", methods=["GET", "POST"])
async def index(request: Request) -> str:
    return "index"


@app.get("/users/<int:id>")
async def user(request: Request, id: int) -> str:
    return str(id)


admin = Junco()


@admin.delete("/users/<int:id>")
async def remove(request: Request, id: int) -> None:
    return None


app.mount(admin, "/admin")


class Checked(Junco):
    """An app whose ``check`` reports what the test says."""

    def __init__(self, findings: list[str]) -> None:
        super().__init__()
        self.findings = findings

    def check(self, workers: int | None = None) -> list[Any]:
        return self.findings


flagged = Checked(["secret key is too short", "sessions without Secure cookies"])
clean = Checked([])


def parse(*argv: str) -> Any:
    return cli.build_parser().parse_args(argv)


def test_run_defaults() -> None:
    args = parse("run", "pkg.mod:app")
    assert args.app == "pkg.mod:app"
    assert cli.run_options(args) == {
        "host": "127.0.0.1",
        "port": 5000,
        "debug": False,
        "workers": 1,
        "reload": False,
        "server": "uvicorn",
        "header_timeout": 10.0,
        "keep_alive_timeout": 5.0,
        "max_connections": 4096,
    }


def test_run_every_option() -> None:
    args = parse(
        "run", "m:app", "--host", "0.0.0.0", "--port", "8080", "--workers", "3", "--reload",
        "--server", "uvicorn", "--debug", "--certfile", "c.pem", "--keyfile", "k.pem",
        "--log-level", "warning", "--header-timeout", "2.5", "--keep-alive-timeout", "1",
        "--max-connections", "64",
    )  # fmt: skip
    assert cli.run_options(args) == {
        "host": "0.0.0.0",
        "port": 8080,
        "debug": True,
        "workers": 3,
        "reload": True,
        "server": "uvicorn",
        "ssl": TLSFiles("c.pem", "k.pem"),
        "log_level": "warning",
        "header_timeout": 2.5,
        "keep_alive_timeout": 1.0,
        "max_connections": 64,
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["--header-timeout", "0"],
        ["--header-timeout", "inf"],
        ["--keep-alive-timeout", "-1"],
        ["--max-connections", "0"],
    ],
)
def test_bounds_must_be_positive(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("run", "m:app", *argv)
    assert "must be" in capsys.readouterr().err


def test_log_level_goes_to_the_chosen_server() -> None:
    options = cli.run_options(
        parse("run", "m:app", "--server", "hypercorn", "--log-level", "debug")
    )
    assert options["loglevel"] == "DEBUG"
    with pytest.raises(ConfigurationError, match="granian"):
        cli.run_options(parse("run", "m:app", "--server", "granian", "--log-level", "debug"))


def test_keyfile_needs_certfile() -> None:
    with pytest.raises(ConfigurationError, match="--certfile"):
        cli.run_options(parse("run", "m:app", "--keyfile", "k.pem"))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["run"],
        ["serve", "m:app"],
        ["run", "m:app", "--workers", "0"],
        ["run", "m:app", "--workers", "many"],
        ["run", "m:app", "--port", "http"],
        ["run", "m:app", "--server", "waitress"],
    ],
)
def test_bad_arguments_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "usage: junco" in capsys.readouterr().err


def test_print_routes_lists_mounted_routes_too() -> None:
    out = io.StringIO()
    cli.print_routes(app, out)
    lines = out.getvalue().splitlines()
    assert [line.split() for line in lines] == [
        ["GET,POST", "/", "tests.test_cli.index"],
        ["GET", "/users/<int:id>", "tests.test_cli.user"],
        ["DELETE", "/admin/users/<int:id>", "tests.test_cli.remove"],
    ]
    out = io.StringIO()
    cli.print_routes(Junco(), out)
    assert out.getvalue() == "no routes\n"


def test_check_reports_findings() -> None:
    out = io.StringIO()
    assert cli.check_app(flagged, out) == 1
    assert out.getvalue().splitlines() == [
        "secret key is too short",
        "sessions without Secure cookies",
        "2 findings",
    ]
    # An object without check() (any ASGI app) has nothing to report.
    for quiet in (clean, object()):
        out = io.StringIO()
        assert cli.check_app(quiet, out) == 0
        assert out.getvalue() == "no findings\n"


def test_main_routes_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["routes", "tests.test_cli:app"]) == 0
    assert "/admin/users/<int:id>" in capsys.readouterr().out
    assert cli.main(["check", "tests.test_cli:flagged"]) == 1
    assert "2 findings" in capsys.readouterr().out
    assert cli.main(["check", "tests.test_cli:clean"]) == 0
    assert capsys.readouterr().out == "no findings\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["routes", "junco_no_such_module:app"], "cannot import 'junco_no_such_module'"),
        (["check", "tests.test_cli:nothing"], "has no 'nothing'"),
        (["run", "not an import string"], "not an import string"),
        (["run", "tests.test_cli:app", "--keyfile", "k.pem"], "--keyfile needs --certfile"),
        (["run", "tests.test_cli:app", "--reload", "--server", "hypercorn"], "uvicorn server"),
    ],
)
def test_main_reports_errors_without_a_traceback(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("junco: error: ")
    assert message in err
    assert "Traceback" not in err


def test_main_finds_modules_in_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "junco_cli_probe.py").write_text(
        "from junco import Junco\nsite = Junco()\nsite.get('/here')(lambda request: 'x')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert cli.main(["routes", "junco_cli_probe:site"]) == 0
    finally:
        sys.modules.pop("junco_cli_probe", None)
    assert "/here" in capsys.readouterr().out
    assert sys.path[0] == str(tmp_path)


def test_python_dash_m_junco() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "junco", "--version"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == f"junco {__version__}"


def test_console_script_is_installed() -> None:
    junco = shutil.which("junco")
    assert junco is not None, 'the junco command is missing: pip install -e ".[dev]"'
    done = subprocess.run(
        [junco, "routes", "examples.showcase.app:app"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert "/books/<int:id>" in done.stdout


def test_check_of_a_real_app_lists_junco_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "tests.test_cli:app"]) == 1
    out = capsys.readouterr().out
    assert "CSRF" in out  # the POST and DELETE routes are unprotected
    assert out.splitlines()[-1].endswith("findings")
