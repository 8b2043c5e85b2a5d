"""A headless run whose stdout reader goes away (`| head`): interrupted cleanly, not killed."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from ..core.liveness import resume_hint
from ..core.state import OrchestrationState
from ..core.store import Workspace


class PipeSafePrinter:
    """The headless printer, until stdout's reader goes away (`| head`): then the run is interrupted cleanly.

    It stops printing, points stdout at /dev/null (so nothing else fails on it), and cancels the run,
    which saves an `interrupted` checkpoint; the command then exits 130 with a message on stderr.
    """

    def __init__(self, printer: Any) -> None:
        self.printer = printer
        self.closed = False

    def __call__(self, event: Any, state: OrchestrationState) -> None:
        if self.closed:
            return
        try:
            self.printer(event, state)
        except (BrokenPipeError, SystemExit):
            # Rich answers a broken pipe with SystemExit(1) after pointing stdout at /dev/null; a plain
            # write raises BrokenPipeError. Either way the reader is gone: interrupt, do not die.
            self.closed = True
            silence_stdout()
            task = asyncio.current_task()
            if task is not None:
                task.cancel()


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def pipe_closed_message(workspace: Workspace, state: OrchestrationState) -> str:
    cp = state.checkpoints[-1].id if state.checkpoints else None
    saved = f"saved checkpoint {cp}; continue with: {resume_hint(workspace, state)}" if cp else "no checkpoint was saved"
    return f"studio-tui: output closed (broken pipe): run interrupted; {saved}"
