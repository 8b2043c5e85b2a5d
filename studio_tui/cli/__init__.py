"""Entry point `studio-tui`: parse arguments, pick the command, map outcomes to exit codes.

The commands live by job in this package: parser.py (arguments), common.py (shared helpers),
runs.py (commands that run an orchestration), inspect.py (status, checkpoints, budget, route,
checkpoint, handoff), logs.py (replay, watch, view, export), setup.py (init, doctor, agent),
serve.py, inbox.py; rewind.py, pipe.py and liveness.py help runs, watch and status.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rich.text import Text

from ..core.errors import InputError, StudioError
from ..core.store import Workspace
from ..headless import literal
from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    RUN_COMMANDS,
    _current_state,
    _exit_for,
    _interactive,
    _print_json,
    _run_async,
    _want_dashboard,
    console,
    err_console,
)
from .inbox import cmd_answer, cmd_inbox
from .inspect import (
    cmd_budget,
    cmd_checkpoint,
    cmd_checkpoints,
    cmd_handoff,
    cmd_route,
    cmd_status,
)
from .logs import cmd_export, cmd_replay, cmd_view, cmd_watch
from .parser import build_parser
from .runs import (
    cmd_agent_start,
    cmd_build,
    cmd_demo,
    cmd_fork,
    cmd_resume,
    cmd_run_backlog,
    resume_hint,
)
from .serve import cmd_serve
from .setup import cmd_agent, cmd_doctor, cmd_init

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "RUN_COMMANDS",
    "_current_state",
    "_exit_for",
    "_interactive",
    "_print_json",
    "_run_async",
    "_want_dashboard",
    "build_parser",
    "console",
    "dispatch",
    "err_console",
    "main",
    "resume_hint",
]


def dispatch(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    command = args.command
    if command == "demo":
        return cmd_demo(args)
    if command == "agent":
        return cmd_agent(args)
    if command == "init":
        return cmd_init(args, workspace)
    if command is None:
        return cmd_view(args, workspace)
    if command not in ("status", "checkpoints", "budget", "build", "replay", "route") and not workspace.root.is_dir():
        raise InputError(f"{workspace.root}: no workspace here (use --workspace DIR, or `studio-tui build GOAL` to start one)")
    handlers: dict[str, Callable[[], int]] = {
        "build": lambda: cmd_build(args, workspace, explicit=args.explicit),
        "orchestrate": lambda: cmd_build(args, workspace, explicit=True),
        "status": lambda: cmd_status(args, workspace),
        "checkpoint": lambda: cmd_checkpoint(args, workspace),
        "checkpoints": lambda: cmd_checkpoints(args, workspace),
        "resume": lambda: cmd_resume(args, workspace),
        "fork": lambda: cmd_fork(args, workspace),
        "route": lambda: cmd_route(args, workspace, console),
        "budget": lambda: cmd_budget(args, workspace),
        "handoff": lambda: cmd_handoff(args, workspace),
        "agent-start": lambda: cmd_agent_start(args, workspace),
        "run-backlog": lambda: cmd_run_backlog(args, workspace),
        "replay": lambda: cmd_replay(args, workspace),
        "watch": lambda: cmd_watch(args, workspace),
        "export": lambda: cmd_export(args, workspace),
        "inbox": lambda: cmd_inbox(args, workspace),
        "answer": lambda: cmd_answer(args, workspace),
        "doctor": lambda: cmd_doctor(args, workspace),
        "serve": lambda: cmd_serve(args, workspace),
    }
    return handlers[command]()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except StudioError as exc:
        err_console.print(Text("studio-tui: ", style="red") + literal(str(exc), "red"))
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(Text("interrupted", style="yellow"))
        return EXIT_INTERRUPTED
    except OSError as exc:  # a disk or permission problem no writer turned into a message: still one line
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(Text("studio-tui: ", style="red") + literal(f"{where}{exc.strerror or exc} (errno {exc.errno})", "red"))
        return EXIT_FAILED
