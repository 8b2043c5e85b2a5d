"""End to end: the installed `studio-tui demo` in a real terminal (tmux), steered by keys, read off the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

DEADLINE = 90.0
"""Seconds the whole demo may take: at speed 1 the example reaches its escalation in about 15 s."""

POLL = 0.2
"""Seconds between two reads of the terminal."""


def _demo_command(project: Path) -> list[str]:
    """`studio-tui demo`, faster and in `project` when the CLI offers --speed and --into; skips without a demo command."""
    tmux, exe = shutil.which("tmux"), shutil.which("studio-tui")
    if tmux is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    if exe is None:
        pytest.skip("the studio-tui executable is not installed (pip install -e .)")
    found = subprocess.run([exe, "demo", "--help"], capture_output=True, text=True, timeout=30)
    if found.returncode != 0 or "demo" not in (found.stdout + found.stderr).lower():
        pytest.skip("the installed studio-tui has no `demo` command yet")
    speed = ["--speed", "5"] if "--speed" in found.stdout else []
    into = ["--into", str(project)] if "--into" in found.stdout else []
    return [exe, "demo", *speed, *into]


class Terminal:
    """A detached tmux session running one command; read with `screen()`, typed into with `keys()`."""

    def __init__(self, name: str, command: list[str], cwd: Path, size: tuple[int, int] = (120, 40)) -> None:
        self.name = name
        shell = " ".join(f"'{part}'" for part in command) + "; echo STUDIO_EXIT=$?; sleep 600"
        env = {**os.environ, "TERM": "xterm-256color"}
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), "sh", "-c", shell],
            cwd=cwd,
            env=env,
            check=True,
        )

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait_for(self, *texts: str, deadline: float) -> str:
        """Poll the screen until one of `texts` shows; the one found."""
        while True:
            shown = self.screen()
            for text in texts:
                if text in shown:
                    return text
            if time.monotonic() > deadline:
                raise AssertionError(f"none of {texts} appeared; the screen shows:\n{shown}")
            time.sleep(POLL)

    def wait_gone(self, text: str, deadline: float) -> None:
        while text in self.screen():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not go away")
            time.sleep(POLL)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_demo_escalation_retry_completes(tmp_path: Path):
    command = _demo_command(tmp_path / "project")
    terminal = Terminal(f"studio-e2e-{os.getpid()}", command, tmp_path)
    deadline = time.monotonic() + DEADLINE
    try:
        question, escalation = "asks (round", "Escalation: the build needs you"
        while terminal.wait_for(question, escalation, deadline=deadline) == question:
            terminal.keys("Enter")  # the Planner's question: take its default
            terminal.wait_gone(question, deadline)
        assert "[r] Retry with different approach" in terminal.screen()
        # the header catches up on its next refresh tick (20 Hz), just after the dialog appears
        terminal.wait_for("WAITING FOR YOU", deadline=deadline)
        terminal.keys("r")
        terminal.wait_for("COMPLETED", deadline=deadline)
        terminal.keys("q")
        terminal.wait_for("STUDIO_EXIT=", deadline=deadline)
        assert "STUDIO_EXIT=0" in terminal.screen()
    finally:
        terminal.close()
