"""``python -m junco run`` as a real process on 127.0.0.1, and ``start_server`` in a loop.

The servers run :data:`app` below, imported as ``tests.e2e.test_runner_e2e:app``.
Each test bounds its waits and kills its process group if anything goes wrong.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from junco import Junco, Request
from tests.servers import free_port
from tests.test_server import make_cert

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TARGET = "tests.e2e.test_runner_e2e:app"
MARK_ENV = "JUNCO_E2E_MARK"
WAIT = 60.0  # seconds; generous: two cores, other jobs running beside the tests

app = Junco()


@app.get("/")
async def index(request: Request) -> dict[str, object]:
    return {"pid": os.getpid(), "debug": app.debug}


@app.get("/stop")
async def stop(request: Request) -> str:
    app.shutdown()
    return "bye"


@app.get("/boom")
async def boom(request: Request) -> str:
    raise ValueError("kaboom")


@app.on_shutdown
def leave_mark() -> None:
    # Proves the graceful path ran: lifespan shutdown happens only after serving stops.
    mark = os.environ.get(MARK_ENV)
    if mark:
        with open(mark, "a") as f:
            f.write(f"{os.getpid()}\n")


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One client for the module: building one loads the CA bundle, which is slow."""
    with httpx.Client(timeout=5) as client:
        yield client


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    mark: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server did not exit:\n{self.output()}")

    def stopped_pids(self) -> list[int]:
        return [int(line) for line in self.mark.read_text().split()] if self.mark.exists() else []


@contextmanager
def junco_run(
    tmp_path: Path, *args: str, target: str = TARGET, cwd: Path = ROOT
) -> Iterator[Served]:
    """Start ``python -m junco run target --port P *args``; yield once it answers."""
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    env = {**os.environ, MARK_ENV: str(tmp_path / "stopped"), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "junco", "run", target, "--port", str(port), *args]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    scheme = "https" if "--certfile" in args else "http"
    served = Served(process, f"{scheme}://127.0.0.1:{port}", log, tmp_path / "stopped")
    try:
        _wait_until_up(served)
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=WAIT)


def _wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            pytest.fail(f"the server exited with {served.process.returncode}:\n{served.output()}")
        try:
            with socket_probe(served.base):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer within {WAIT} s:\n{served.output()}")


@contextmanager
def socket_probe(base: str) -> Iterator[None]:
    host, port = base.rsplit("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=1):
        yield


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


# -- uvicorn ------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_and_stops_gracefully_on_a_signal(
    tmp_path: Path, sig: signal.Signals, http: httpx.Client
) -> None:
    with junco_run(tmp_path) as served:
        r = http.get(served.base + "/")
        assert r.status_code == 200
        assert r.json() == {"pid": served.process.pid, "debug": False}
        assert "server" not in r.headers  # server_header=False
        assert "date" in r.headers
        failed = http.get(served.base + "/boom")
        assert failed.status_code == 500
        assert "kaboom" not in failed.text
        served.process.send_signal(sig)
        assert served.wait_exit() == 0, served.output()
        assert served.stopped_pids() == [served.process.pid]


def test_shutdown_from_a_handler_stops_the_server_after_answering(
    tmp_path: Path, http: httpx.Client
) -> None:
    with junco_run(tmp_path, "--debug") as served:
        assert "kaboom" in http.get(served.base + "/boom").text  # --debug
        r = http.get(served.base + "/stop")
        assert (r.status_code, r.text) == (200, "bye")
        assert served.wait_exit() == 0, served.output()
        assert served.stopped_pids() == [served.process.pid]


def test_workers_share_the_port_and_stop_together(tmp_path: Path, http: httpx.Client) -> None:
    with junco_run(tmp_path, "--workers", "2", "--debug") as served:
        up = "Application startup complete"
        wait_for(lambda: served.output().count(up) == 2, "both workers")
        seen = http.get(served.base + "/").json()
        assert seen["debug"] is True  # --debug reached a freshly imported app
        assert seen["pid"] != served.process.pid  # answered by a worker process
        # app.shutdown() in one worker stops the supervisor, which stops every worker.
        assert http.get(served.base + "/stop").text == "bye"
        assert served.wait_exit() == 0, served.output()
        wait_for(lambda: len(served.stopped_pids()) == 2, "both workers to run shutdown")
        assert served.process.pid not in served.stopped_pids()
        _assert_gone(seen["pid"])


def _assert_gone(pid: int) -> None:
    wait_for(lambda: not _alive(pid), f"process {pid} to end")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_reload_picks_up_a_changed_module(tmp_path: Path, http: httpx.Client) -> None:
    source = textwrap.dedent(
        """
        from junco import Junco

        app = Junco()

        @app.get("/")
        async def index(request):
            return "first"
        """
    )
    module = tmp_path / "junco_reload_probe.py"
    module.write_text(source)
    target = "junco_reload_probe:app"
    with junco_run(tmp_path, "--reload", target=target, cwd=tmp_path) as served:
        assert http.get(served.base + "/").text == "first"
        changed = source.replace('"first"', '"second"')
        module.write_text(changed)
        writes = [time.monotonic()]

        def reloaded() -> bool:
            try:
                if http.get(served.base + "/", timeout=2).text == "second":
                    return True
            except httpx.TransportError:
                return False  # between the old worker and the new one
            # The reloader's file watcher starts after the first worker; on a busy
            # machine the first write can land before it watches. Write again
            # (a new mtime and content) until a reload is seen.
            if time.monotonic() - writes[-1] > 3:
                module.write_text(changed + f"\n# touch {len(writes)}\n")
                writes.append(time.monotonic())
            return False

        wait_for(reloaded, "the reloaded module")
        served.process.send_signal(signal.SIGINT)
        assert served.wait_exit() == 0, served.output()


def test_tls_from_certificate_files(tmp_path: Path, http: httpx.Client) -> None:
    cert, key = make_cert(tmp_path)
    client_context = ssl.create_default_context(cafile=str(cert))
    with junco_run(tmp_path, "--certfile", str(cert), "--keyfile", str(key)) as served:
        assert served.base.startswith("https://")
        with httpx.Client(verify=client_context, timeout=5) as client:
            r = client.get(served.base + "/")
        assert r.status_code == 200
        assert r.json()["pid"] == served.process.pid
        served.process.send_signal(signal.SIGINT)
        assert served.wait_exit() == 0, served.output()


def test_startup_failure_is_reported(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "junco", "run", "junco_absent_module:app", "--port", str(port)],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT,
    )  # fmt: skip
    assert done.returncode == 2
    assert "cannot import 'junco_absent_module'" in done.stderr


# -- other servers ------------------------------------------------------------------------


def test_granian_workers_over_tls(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    tls = ["--certfile", str(cert), "--keyfile", str(key)]
    http = httpx.Client(verify=ssl.create_default_context(cafile=str(cert)), timeout=5)
    with http, junco_run(tmp_path, "--server", "granian", "--workers", "2", *tls) as served:
        # A signal while granian still starts workers can stall it (bounded by
        # workers_kill_timeout), so begin once both are up.
        wait_for(lambda: served.output().count("Started worker") == 2, "both workers")
        r = http.get(served.base + "/")
        assert r.status_code == 200
        pid = r.json()["pid"]
        assert pid != served.process.pid
        big = http.get(served.base + "/", headers={"X-Big": "a" * 100_000})
        assert big.status_code == 431  # the bounded read buffer junco sets
        assert http.get(served.base + "/stop").text == "bye"
        assert served.wait_exit() == 0, served.output()
        wait_for(lambda: len(served.stopped_pids()) == 2, "both workers to run shutdown")
        _assert_gone(pid)


def test_hypercorn_serves_and_stops_on_sigterm(tmp_path: Path, http: httpx.Client) -> None:
    with junco_run(tmp_path, "--server", "hypercorn") as served:
        r = http.get(served.base + "/")
        assert r.json() == {"pid": served.process.pid, "debug": False}
        assert "server" not in r.headers
        served.process.send_signal(signal.SIGTERM)
        assert served.wait_exit() == 0, served.output()
        assert served.stopped_pids() == [served.process.pid]


def test_hypercorn_workers_stop_on_app_shutdown(tmp_path: Path, http: httpx.Client) -> None:
    with junco_run(tmp_path, "--server", "hypercorn", "--workers", "2") as served:
        pid = http.get(served.base + "/").json()["pid"]
        assert pid != served.process.pid
        assert http.get(served.base + "/stop").text == "bye"
        assert served.wait_exit() == 0, served.output()
        _assert_gone(pid)


def test_gunicorn_with_the_junco_worker(tmp_path: Path, http: httpx.Client) -> None:
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, MARK_ENV: str(tmp_path / "stopped")}
    command = [
        sys.executable, "-m", "gunicorn", "-k", "junco.server.UvicornWorker", "-w", "2",
        "-b", f"127.0.0.1:{port}", "--control-socket", str(tmp_path / "gunicorn.ctl"), TARGET,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    served = Served(process, f"http://127.0.0.1:{port}", log, tmp_path / "stopped")
    try:
        _wait_until_up(served)
        wait_for(lambda: served.output().count("Application startup complete") == 2, "workers")
        r = http.get(served.base + "/")
        assert r.status_code == 200
        assert "server" not in r.headers  # junco's settings, not uvicorn's defaults
        process.send_signal(signal.SIGTERM)
        assert served.wait_exit() == 0, served.output()
        assert len(served.stopped_pids()) == 2
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=WAIT)


# -- start_server inside a running loop -----------------------------------------------------


async def _serve_then_shutdown(server: str, **options: object) -> tuple[int, str, bool]:
    local = Junco()
    stopped: list[bool] = []

    @local.get("/")
    async def hello(request: Request) -> str:
        return f"hello over {request.scheme}"

    local.on_shutdown(lambda: stopped.append(True))
    port = free_port()
    verify = options.pop("verify", True)
    scheme = "https" if "ssl" in options else "http"
    task = asyncio.create_task(local.start_server(port=port, server=server, **options))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(verify=verify) as client:  # type: ignore[arg-type]
            r = await _first_answer(client, f"{scheme}://127.0.0.1:{port}/", task)
        assert local.server is not None
        local.shutdown()
        await asyncio.wait_for(task, WAIT)
    finally:
        if not task.done():
            task.cancel()
    return r.status_code, r.text, stopped == [True] and local.server is None


async def _first_answer(
    client: httpx.AsyncClient, url: str, task: asyncio.Task[None]
) -> httpx.Response:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if task.done():
            task.result()
            pytest.fail("start_server returned before serving")
        try:
            return await client.get(url)
        except httpx.TransportError:
            await asyncio.sleep(0.05)
    pytest.fail("start_server did not answer in time")


def test_start_server_inside_a_running_loop() -> None:
    result = asyncio.run(_serve_then_shutdown("uvicorn", log_level="warning"))
    assert result == (200, "hello over http", True)


def test_start_server_with_an_ssl_context(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    result = asyncio.run(
        _serve_then_shutdown("uvicorn", ssl=context, verify=client, log_level="warning")
    )
    assert result == (200, "hello over https", True)


def test_start_server_on_hypercorn_with_tls_files(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    client = ssl.create_default_context(cafile=str(cert))
    result = asyncio.run(
        _serve_then_shutdown("hypercorn", ssl=(cert, key), verify=client, accesslog=None)
    )
    assert result == (200, "hello over https", True)


# -- what junco run tells the person running it -------------------------------------------


def test_banner_warns_when_junco_drew_the_secret_key(tmp_path: Path) -> None:
    (tmp_path / "devapp.py").write_text(
        "from junco import Junco, Session\n"
        "app = Junco(debug=True)\n"
        "Session(app)  # no key: a debug app gets a random one\n"
    )
    with junco_run(tmp_path, target="devapp:app", cwd=tmp_path) as served:
        wait_for(lambda: "Uvicorn running" in served.output(), "the server's start line")
        out = served.output()
    assert "debug ON" in out
    assert "warning: the secret key is random: sessions will not survive a restart" in out
    assert "Session has no secret_key: using a random one" in out


def test_banner_and_the_audit_trail_in_json_lines(tmp_path: Path, http: httpx.Client) -> None:
    import json

    with junco_run(tmp_path, "--log-format", "json", target="examples.showcase.app:app") as served:
        wait_for(lambda: "Uvicorn running" in served.output(), "the server's start line")
        out = served.output()
        assert f"junco: serving on {served.base}" in out
        assert "server uvicorn, 1 worker, debug off" in out
        assert "rate limits kept in memory" in out
        assert "the secret key is random: sessions will not survive a restart" in out
        # A state-changing request (refused: no CSRF token) is audited, as JSON.
        assert http.post(served.base + "/login", headers={"Host": "127.0.0.1"}).status_code == 403
        wait_for(lambda: '"logger": "junco.audit"' in served.output(), "an audit line")
    lines = [json.loads(line) for line in served.output().splitlines() if '"junco.audit"' in line]
    assert lines[0]["audit"]["path"] == "/login"
    assert lines[0]["audit"]["status"] == 403
