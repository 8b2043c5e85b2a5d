"""The command-line side of resume, rewind, fork, route and liveness (cli.py only dispatches here)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.text import Text

from .core.errors import InputError
from .core.liveness import resume_hint, stopped_label, writer_alive
from .core.orchestrator.resume_point import ResumePoint, find_resume_point
from .core.route_preview import preview
from .core.state import OrchestrationState
from .core.store import CheckpointRecord, Workspace, snapshots
from .core.text import command_hint
from .headless import literal


def add_route_parser(sub: Any) -> None:
    route = sub.add_parser("route", help="print the routing decision for GOAL without running anything")
    route.add_argument("goal", metavar="GOAL")
    route.add_argument("--plan", metavar="TASK_ID", default=None, help="as `build --plan TASK_ID` would route")
    route.add_argument("--json", action="store_true")


def add_fork_parser(sub: Any, add_run_options: Any) -> None:
    fork = sub.add_parser("fork", help="start a new orchestration from checkpoint CP_ID's state and files")
    fork.add_argument("checkpoint_id", metavar="CP_ID")
    fork.add_argument("--goal", default=None, help="the new run's goal (default: the checkpoint's)")
    fork.add_argument("--restore-code", action="store_true", help="also put the project's code back as the checkpoint saw it (git)")
    add_run_options(fork)


def cmd_route(args: argparse.Namespace, workspace: Workspace, console: Console) -> int:
    if not args.goal.strip():
        raise InputError("GOAL is empty: say what to route, e.g. studio-tui route \"Fix the login typo\"")
    decided = preview(workspace, args.goal, chosen_plan=args.plan)
    if args.json:
        console.print_json(json.dumps(decided))
        return 0
    console.print(literal(f"{decided['workflow']} ({decided['complexity']}, confidence {decided['confidence']:.0%}): {decided['reason']}", "bold"))
    for signal in decided["signals"] or ["no routing signal"]:
        console.print(literal(f"  signal: {signal}"))
    console.print(literal("  agents: " + " → ".join(a["key"] for a in decided["agents"])))
    for plan in decided["pending_plans"]:
        used = "USED" if plan["used"] else "left alone"
        console.print(literal(f"  pending plan {plan['task_id']} ({plan['plan_id']}): {used}{'; ' + plan['note'] if plan['note'] else ''}"))
    console.print(Text("nothing was run", style="dim"))
    return 0


def _ask_yes(console: Console, prompt: str) -> bool:
    console.print(literal(prompt + " [y/N] ", "bold yellow"), end="")
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def refuse_if_busy(workspace: Workspace) -> None:
    """Another process drives a run here: say who (WorkspaceBusy) before asking anything else."""
    if writer_alive(workspace):
        workspace.lock().acquire().release()


def check_rewind(args: argparse.Namespace, record: CheckpointRecord, workspace: Workspace, console: Console, err: Console, *, interactive: bool) -> ResumePoint:
    """Resume of an older checkpoint is a rewind: said so, and asked on a terminal (or `--yes`)."""
    point = find_resume_point(workspace, record)
    if not point.rewind:
        return point
    err.print(literal(f"rewind: {point.why}", "yellow"))
    if getattr(args, "yes", False):
        return point
    if interactive:
        if _ask_yes(console, f"Rewind {record.meta.orch_id} to {record.meta.id} ({record.meta.name})?"):
            return point
        raise InputError("rewind cancelled; nothing was changed")
    can_continue = point.log_state is not None and point.log_state.status != "completed"
    newest = f"; to continue instead: {command_hint('--workspace', str(workspace.root), 'resume', point.newest_checkpoint or '')}" if can_continue and point.newest_checkpoint and point.newest_checkpoint != record.meta.id else ""
    raise InputError(f"resuming {record.meta.id} rewinds {record.meta.orch_id}: pass --yes to rewind{newest}")


def restore_code(args: argparse.Namespace, record: CheckpointRecord, workspace: Workspace, console: Console, *, interactive: bool, offer: bool) -> None:
    """`--restore-code` (or yes on a terminal): the working tree back as the checkpoint's git snapshot holds it."""
    commit = record.meta.code_commit
    wanted = getattr(args, "restore_code", False)
    if commit is None:
        if wanted:
            raise InputError(f"{record.meta.id} has no code snapshot (the project was not a git repository when it was saved)")
        return
    if not wanted and offer and interactive:
        wanted = _ask_yes(console, f"Restore the project's code as {record.meta.id} saw it ({record.meta.code_ref})?")
    if not wanted:
        if offer:
            console.print(literal(f"code snapshot of {record.meta.id}: {record.meta.code_ref} (pass --restore-code to put it back)", "dim"))
        return
    with workspace.lock():
        changed = snapshots.restore_code(workspace.project_root, workspace.root, commit)
    console.print(literal(f"code restored from {record.meta.code_ref}: {len(changed)} path(s) changed", "green"))


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


LIVENESS_POLL_SECONDS = 1.0
"""How often `watch` checks that someone still writes the run it follows."""


@dataclass(frozen=True)
class Stopped:
    """What `watch` yields when the run it follows lost its writer."""

    label: str
    resume: str


class LivenessWatch:
    """Wraps `watch`'s stream of log items: adds a `Stopped` item when the writer is gone and the run unfinished."""

    def __init__(self, workspace: Workspace, state: Callable[[], OrchestrationState]) -> None:
        self.workspace = workspace
        self.state = state

    async def guard(self, items: AsyncIterator[Any]) -> AsyncIterator[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        done = object()

        async def pump() -> None:
            try:
                async for item in items:
                    await queue.put(item)
            finally:
                await queue.put(done)

        pumping = asyncio.ensure_future(pump())
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), LIVENESS_POLL_SECONDS)
                except TimeoutError:
                    state = self.state()
                    if queue.empty() and (label := stopped_label(self.workspace, state)) is not None:
                        yield Stopped(label, resume_hint(self.workspace, state))
                    continue
                if item is done:
                    return
                yield item
        finally:
            pumping.cancel()


def liveness_lines(workspace: Workspace, state: OrchestrationState) -> list[str]:
    """For `status`: the STOPPED label and the command that continues the run, when its writer is gone."""
    label = stopped_label(workspace, state)
    if label is None:
        return []
    return [label, f"resume with: {resume_hint(workspace, state)}"]
