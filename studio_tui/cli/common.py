"""What every command shares: exit codes, the consoles, JSON output, terminal checks, the current state."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from ..core.errors import StudioError
from ..core.reducer import fold
from ..core.state import OrchestrationState
from ..core.store.eventlog import read_log

if TYPE_CHECKING:
    from ..core.store.workspace import Workspace

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
RUN_COMMANDS = ("demo", "build", "orchestrate", "resume", "run-backlog", "fork")

PIPE_WIDTH = 160
"""Columns for output that is not a terminal: wide enough that ids and paths are never cut."""

# markup and emoji off: no string printed anywhere (goals, agent text, file content) is ever interpreted.
console = Console(highlight=False, markup=False, emoji=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
# soft_wrap: an error is one line however long, so a path in it is never cut in two.
err_console = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


def _print_json(payload: object) -> None:
    """Machine output: plain JSON, every non-ASCII character escaped so no control byte reaches a terminal."""
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _want_dashboard(args: argparse.Namespace) -> bool:
    """The dashboard needs a terminal on both ends that can draw it (or a browser, under `serve`);
    anything else (pipes, CI, TERM=dumb) prints instead."""
    if getattr(args, "headless", False):
        return False
    from ..serve import served

    if served():
        return True
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        return False
    from ..terminal import dashboard_unfit

    note = dashboard_unfit()
    if note is not None:
        err_console.print(Text(note, style="yellow"))
        return False
    return True


def _current_state(workspace: Workspace, orch_id: str | None = None) -> OrchestrationState:
    """The state as its log says (the log is the truth; state.yaml may lag by a fraction of a second)."""
    orch_id = workspace.resolve_orch(orch_id)
    if workspace.state_path(orch_id).exists():
        try:
            workspace.load_state(orch_id)
        except StudioError as exc:
            good = workspace.last_good_checkpoint(orch_id)
            offer = f"; last good checkpoint: {good.meta.id} ({good.meta.name})" if good else ""
            err_console.print(
                Text(f"warning: {exc}\nthe damaged file is kept as it is; showing the state from the event log{offer}", style="yellow")
            )
    path = workspace.events_path(orch_id)
    if path.exists():
        read = read_log(path)
        if read.events:
            if read.bad_lines:
                err_console.print(
                    Text(
                        f"{path}: skipped {len(read.bad_lines)} bad line(s): "
                        + ", ".join(f"line {b.line} ({b.reason})" for b in read.bad_lines[:3]),
                        style="yellow",
                    )
                )
            return fold(read.events)
    return workspace.load_state(orch_id)


def _exit_for(state: OrchestrationState) -> int:
    if state.status == "completed":
        return EXIT_OK
    if state.status == "interrupted":
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def _run_async(main: Coroutine[Any, Any, OrchestrationState]) -> OrchestrationState:
    """Run the orchestrator; Ctrl-C and SIGTERM cancel it, so it saves a checkpoint before exiting."""

    async def runner() -> OrchestrationState:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await main
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(runner())
