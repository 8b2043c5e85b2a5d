"""Resume's questions: refuse when another process drives the run, confirm a rewind, restore the code."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..core.errors import InputError
from ..core.liveness import writer_alive
from ..core.orchestrator.resume_point import ResumePoint, find_resume_point
from ..core.store import CheckpointRecord, Workspace, snapshots
from ..core.text import command_hint
from ..headless import literal


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


def check_rewind(
    args: argparse.Namespace, record: CheckpointRecord, workspace: Workspace, console: Console, err: Console, *, interactive: bool
) -> ResumePoint:
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
    newest = (
        f"; to continue instead: {command_hint('--workspace', str(workspace.root), 'resume', point.newest_checkpoint or '')}"
        if can_continue and point.newest_checkpoint and point.newest_checkpoint != record.meta.id
        else ""
    )
    raise InputError(f"resuming {record.meta.id} rewinds {record.meta.orch_id}: pass --yes to rewind{newest}")


def restore_code(
    args: argparse.Namespace, record: CheckpointRecord, workspace: Workspace, console: Console, *, interactive: bool, offer: bool
) -> None:
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
