"""The package as a user installs it: build the wheel, install it in a fresh venv, serve."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import junco

ROOT = Path(__file__).resolve().parents[1]
HELLO = """
import asyncio

from junco import Junco
from junco.testing import TestClient

app = Junco()


@app.get("/")
async def index(request):
    return "Hello, world!"


if __name__ == "__main__":
    r = asyncio.run(TestClient(app).get("/"))
    print(r.status_code, r.text, __import__("junco").__file__)
"""


def run(*argv: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="copies the tracked files with git")
def test_the_wheel_installs_and_serves(tmp_path: Path) -> None:
    # Build from the tracked files only, as a fresh clone would.
    source = tmp_path / "src-copy"
    files = run("git", "ls-files", "-z", cwd=ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", dist, cwd=source)
    (wheel,) = dist.glob("junco-*.whl")
    assert wheel.name == f"junco-{junco.__version__}-py3-none-any.whl"
    # Every tracked module is in it: a folder without __init__.py would be left out.
    modules = {n.removeprefix("src/") for n in files if n.startswith("src/") and n.endswith(".py")}
    with zipfile.ZipFile(wheel) as archive:
        assert modules - set(archive.namelist()) == set()
    assert {"junco/server/cli.py", "junco/testing/client.py"} <= modules

    env = tmp_path / "venv"
    venv.create(env, with_pip=True, system_site_packages=False)
    python = env / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--no-index", wheel, cwd=tmp_path)
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "hello.py").write_text(HELLO)
    out = run(python, "hello.py", cwd=app_dir)
    assert out.startswith("200 Hello, world! ")
    assert str(env) in out  # the installed copy, not this checkout
    assert run(env / "bin" / "junco", "--version", cwd=app_dir).strip() == (
        f"junco {junco.__version__}"
    )
    assert "GET  /  hello.index" in run(env / "bin" / "junco", "routes", "hello:app", cwd=app_dir)
    assert "GET  /  hello.index" in run(python, "-m", "junco", "routes", "hello:app", cwd=app_dir)
    typed = run(
        python,
        "-c",
        "import junco, pathlib; print(pathlib.Path(junco.__file__).parent)",
        cwd=app_dir,
    )
    assert (Path(typed.strip()) / "py.typed").is_file()


def test_metadata_is_complete() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == junco.__version__
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["license-files"] == ["LICENSE"]
    assert any(
        c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"]
    )
    assert project["readme"] == "README.md"
    assert "build>=1.0" in project["optional-dependencies"]["dev"]
