"""Entry point `studio-tui`: parse arguments, pick the command, map outcomes to exit codes.

The commands live by job in this package: parser.py (arguments), common.py (shared helpers),
runs.py (commands that run an orchestration), inspect.py (status, checkpoints, budget, route,
checkpoint, handoff), logs.py (replay, watch, view, export), setup.py (init, doctor, agent),
serve.py, inbox.py; rewind.py, pipe.py and liveness.py help runs, watch and status.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from rich.text import Text

from ..core.errors import InputError, StudioError
from .common import EXIT_FAILED, EXIT_INTERRUPTED, err_console
from .parser import build_parser

# Each command's module is imported when that command runs (`replay LOG --json` never loads the
# orchestrator, the ACP client or the dashboard). command -> (module in this package, function).
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("runs", "cmd_demo"),
    "agent": ("setup", "cmd_agent"),
    "init": ("setup", "cmd_init"),
    "build": ("runs", "cmd_build"),
    "orchestrate": ("runs", "cmd_build"),
    "status": ("inspect", "cmd_status"),
    "checkpoint": ("inspect", "cmd_checkpoint"),
    "checkpoints": ("inspect", "cmd_checkpoints"),
    "resume": ("runs", "cmd_resume"),
    "fork": ("runs", "cmd_fork"),
    "route": ("inspect", "cmd_route"),
    "budget": ("inspect", "cmd_budget"),
    "handoff": ("inspect", "cmd_handoff"),
    "agent-start": ("runs", "cmd_agent_start"),
    "run-backlog": ("runs", "cmd_run_backlog"),
    "replay": ("logs", "cmd_replay"),
    "watch": ("logs", "cmd_watch"),
    "export": ("logs", "cmd_export"),
    "inbox": ("inbox", "cmd_inbox"),
    "answer": ("inbox", "cmd_answer"),
    "doctor": ("setup", "cmd_doctor"),
    "serve": ("serve", "cmd_serve"),
}

_NO_WORKSPACE_NEEDED = ("status", "checkpoints", "budget", "build", "replay", "route")
"""Commands that run (or explain themselves) where no `.studio` folder exists yet."""

# Names other modules and tests import from here, and where they live (imported on first use).
_EXPORTS: dict[str, str] = {
    **{function: module for module, function in _COMMANDS.values()},
    "cmd_view": "logs",
    "resume_hint": "runs",
    **dict.fromkeys(
        (
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
            "console",
            "err_console",
        ),
        "common",
    ),
}

__all__ = sorted({*_EXPORTS, "build_parser", "dispatch", "main"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def _handler(command: str) -> Any:
    module, function = _COMMANDS[command]
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)


def dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command in ("demo", "agent"):
        return int(_handler(command)(args))
    from ..core.store.workspace import Workspace

    workspace = Workspace(args.workspace)
    if command == "init":
        return int(_handler(command)(args, workspace))
    if command is None:
        from .logs import cmd_view

        return cmd_view(args, workspace)
    if command not in _NO_WORKSPACE_NEEDED and not workspace.root.is_dir():
        raise InputError(f"{workspace.root}: no workspace here (use --workspace DIR, or `studio-tui build GOAL` to start one)")
    handler = _handler(command)
    if command == "build":
        return int(handler(args, workspace, explicit=args.explicit))
    if command == "orchestrate":
        return int(handler(args, workspace, explicit=True))
    if command == "route":
        from .common import console

        return int(handler(args, workspace, console))
    return int(handler(args, workspace))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except StudioError as exc:
        from ..headless import literal  # the printer's escaping, imported only to say what went wrong

        err_console.print(Text("studio-tui: ", style="red") + literal(str(exc), "red"))
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print(Text("interrupted", style="yellow"))
        return EXIT_INTERRUPTED
    except OSError as exc:  # a disk or permission problem no writer turned into a message: still one line
        where = f"{exc.filename}: " if exc.filename else ""
        from ..headless import literal

        err_console.print(Text("studio-tui: ", style="red") + literal(f"{where}{exc.strerror or exc} (errno {exc.errno})", "red"))
        return EXIT_FAILED
