"""TERM=dumb and too-small terminals get the headless printer and a one-line note, never the full-screen UI.

Run for real: `studio-tui` on a pseudo-terminal of a given size, its output read until it exits.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from studio_tui.core.example import make_demo_workspace
from studio_tui.terminal import MIN_HEIGHT, MIN_WIDTH, dashboard_unfit

ALT_SCREEN = b"\x1b[?1049h"
"""What a full-screen app sends first: the alternate screen."""


def run_on_pty(argv: list[str], *, term: str, size: tuple[int, int], timeout: float = 60) -> tuple[int, str]:
    """Run argv with stdin/stdout/stderr on a pty of `size` (columns, rows); (exit code, everything it wrote)."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    env = {**os.environ, "TERM": term, "COLUMNS": "", "LINES": ""}
    env.pop("COLUMNS")
    env.pop("LINES")
    process = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end: it has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    code = process.wait(timeout=timeout)
    os.close(leader)
    output = b"".join(chunks)
    assert ALT_SCREEN not in output, "the full-screen dashboard opened"
    return code, output.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_workspace(tmp_path_factory.mktemp("fallback") / "project")


def test_term_dumb_prints_instead_of_opening_the_dashboard(workspace: Path) -> None:
    code, out = run_on_pty([sys.executable, "-m", "studio_tui", "--workspace", str(workspace)], term="dumb", size=(120, 40))
    assert code == 0
    notes = [line for line in out.splitlines() if "TERM=dumb" in line]
    assert len(notes) == 1 and "printing instead" in notes[0]
    assert "\x1b[38;2;" not in out, "no 24-bit colour on a dumb terminal"


def test_a_terminal_below_the_minimum_prints_instead(workspace: Path) -> None:
    code, out = run_on_pty(
        [sys.executable, "-m", "studio_tui", "--workspace", str(workspace)], term="xterm-256color", size=(MIN_WIDTH - 20, 30)
    )
    assert code == 0
    assert f"the terminal is {MIN_WIDTH - 20}x30, the dashboard needs {MIN_WIDTH}x{MIN_HEIGHT}" in out


def test_what_fits() -> None:
    assert dashboard_unfit({"TERM": "xterm-256color"}, (MIN_WIDTH, MIN_HEIGHT)) is None
    assert dashboard_unfit({"TERM": "xterm-256color"}, (120, 40)) is None
    assert dashboard_unfit({"TERM": "dumb"}, (120, 40)) is not None
    assert dashboard_unfit({"TERM": "xterm"}, (MIN_WIDTH - 1, 40)) is not None
    assert dashboard_unfit({"TERM": "xterm"}, (120, MIN_HEIGHT - 1)) is not None
