"""`studio-tui serve`: the dashboard in a real headless Chromium, read-only by default, a token for control."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio_tui.core.errors import InputError
from studio_tui.serve import served_command

SERVE_START_S = 60.0
"""Deadline for the server to answer its first request on a loaded machine."""
PAGE_TEXT_S = 90.0
"""Deadline for the dashboard's text to reach the browser (a Python process starts per session)."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding one finished demo run (real CLI, no pauses)."""
    project = tmp_path_factory.mktemp("served")
    done = subprocess.run(
        [sys.executable, "-m", "studio_tui", "demo", "--speed", "0", "--into", str(project), "--headless"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**_env(), "CI": "true"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return project / ".studio"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class Served:
    def __init__(self, proc: subprocess.Popen[str], port: int, out: Path) -> None:
        self.proc, self.port, self.out = proc, port, out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVE_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)  # polling a condition with a deadline
        raise AssertionError(f"serve did not listen within {SERVE_START_S}s:\n{self.output()}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    pytest.importorskip("textual_serve", reason="the `serve` extra (textual-serve) is not installed")
    started: list[Served] = []

    def start(workspace: Path, *args: str) -> Served:
        port = _free_port()
        out = tmp_path / f"serve-{port}.out"
        proc = subprocess.Popen(
            [sys.executable, "-m", "studio_tui", "--workspace", str(workspace), "serve", "--port", str(port), *args],
            stdout=out.open("w"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_env(),
            start_new_session=True,
        )
        served = Served(proc, port, out)
        started.append(served)
        served.wait_ready()
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            os.killpg(served.proc.pid, signal.SIGTERM)
            try:
                served.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(served.proc.pid, signal.SIGKILL)
                served.proc.wait()


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


# ── the served commands (no browser needed) ──────────────────────────────


def test_serve_defaults_to_watch_and_refuses_a_run_without_allow_control() -> None:
    assert served_command([], allow_control=False) == ["watch"]
    assert served_command(["replay", "orch_x"], allow_control=False) == ["replay", "orch_x"]
    with pytest.raises(InputError, match="--allow-control"):
        served_command(["build", "Fix it"], allow_control=False)
    assert served_command(["build", "Fix it"], allow_control=True) == ["build", "Fix it"]
    with pytest.raises(InputError, match="status"):
        served_command(["status"], allow_control=True)


def test_serve_refuses_bad_served_commands_with_exit_2(cli, finished_run: Path) -> None:
    run = cli("--workspace", str(finished_run), "serve", "--port", str(_free_port()), "run-backlog", cwd=finished_run.parent)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--allow-control" in run.stderr
    run = cli("--workspace", str(finished_run), "serve", "--port", str(_free_port()), "replay", "--speed-typo", cwd=finished_run.parent)
    assert run.returncode == 2, run.stdout + run.stderr


def test_read_only_serve_binds_localhost_and_says_so(serve, finished_run: Path) -> None:
    served = serve(finished_run, "watch")
    status, body = _get(served.url)
    assert status == 200 and "textual-terminal" in body
    assert "read-only" in served.output()
    assert "token=" not in served.output()
    # bound to 127.0.0.1 only: the machine's other addresses do not answer
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{served.port}"], capture_output=True, text=True) if shutil.which("ss") else None
    if listening is not None and listening.returncode == 0 and listening.stdout.strip():
        assert "127.0.0.1" in listening.stdout, listening.stdout


def test_allow_control_needs_the_printed_token(serve, finished_run: Path) -> None:
    served = serve(finished_run, "--allow-control", "watch")
    deadline = time.monotonic() + SERVE_START_S
    while "token=" not in served.output() and time.monotonic() < deadline:
        time.sleep(0.1)  # the banner is printed once the server is up
    found = re.search(r"\?token=([A-Za-z0-9_-]+)", served.output())
    assert found, served.output()
    token = found.group(1)
    assert _get(served.url)[0] == 403
    assert _get(served.url + "?token=wrong" + token)[0] == 403
    assert _get(served.url.rstrip("/") + "/ws?width=80&height=24")[0] == 403
    status, body = _get(served.url + "?token=" + token)
    assert status == 200 and "textual-terminal" in body


# ── the real browser ─────────────────────────────────────────────────────


def test_the_dashboard_shows_in_a_headless_chromium(serve, finished_run: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[browser]')")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no chromium executable (apt-get install chromium); the browser test cannot run here")
    goal = "Add user authentication with OAuth"
    served = serve(finished_run, "watch")
    shot = tmp_path / "serve.png"
    with sync_api.sync_playwright() as pw:
        try:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=chromium,
                headless=True,
                viewport={"width": 1400, "height": 900},
                args=CHROMIUM_ARGS,
            )
        except Exception as exc:  # a chromium that cannot start here (no shared libraries, no /dev/shm)
            pytest.skip(f"chromium at {chromium} did not start: {str(exc).splitlines()[0]}")
        try:
            page = browser.new_page()

            def screen_reader_mode(route) -> None:
                # xterm.js paints on a canvas; its screen-reader mode mirrors the rows as text in the DOM.
                response = route.fetch()
                body, count = re.subn(r"(new \w+\.Terminal\(\{)", r"\1screenReaderMode:!0,", response.text())
                assert count == 1, "textual-serve's terminal setup changed: cannot mirror its text into the page"
                route.fulfill(response=response, body=body)

            page.route("**/static/js/textual.js", screen_reader_mode)
            page.goto(served.url, wait_until="domcontentloaded")
            wanted = [goal, "Budget", "Checkpoints", "builder_complete"]
            script = "(wanted) => wanted.every((w) => document.body.innerText.includes(w))"
            try:
                page.wait_for_function(script, arg=wanted, timeout=PAGE_TEXT_S * 1000)
            finally:
                page.screenshot(path=str(shot))
            text = page.evaluate("() => document.body.innerText")
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    for word in wanted:
        assert word in text
    assert "watching (read-only)" in text or "finished: completed (read-only)" in text


async def test_a_read_only_served_dashboard_starts_no_run(example_ws) -> None:
    from studio_tui.ui.app import Launch, StudioApp

    app = StudioApp(Launch(workspace=example_ws, action="view", speed=0, read_only=True))
    async with app.run_test() as pilot:
        assert app.start_build("Fix the login typo") is False
        assert app.start_backlog() is False
        await pilot.pause()
        assert app.active_run is None
        assert any("read-only" in str(n.message) for n in app._notifications)
        assert not example_ws.orchestrations()
