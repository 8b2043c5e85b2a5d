"""Commands over a run's event log: replay, watch, view (the dashboard or a printout) and export."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import yaml
from rich.text import Text

from ..core.errors import InputError, NotFound, StudioError
from ..core.reducer import fold
from ..core.state import OrchestrationState
from ..core.store import ORCH_ID_RE, Workspace, read_log
from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    _current_state,
    _print_json,
    _want_dashboard,
    console,
    err_console,
)
from .dashboard import _dashboard  # light: the dashboard itself is imported when it opens

# the printer (headless) and liveness are imported by the commands that print: the dashboard needs neither


def _replay_path(workspace: Workspace, target: str) -> Path:
    """A log path as given, or the events.jsonl of an orchestration id in the workspace."""
    if ORCH_ID_RE.fullmatch(target):
        return workspace.events_path(workspace.resolve_orch(target))
    path = Path(target).expanduser()
    if path.is_dir():
        path = path / "events.jsonl"
    if not path.is_file():
        raise NotFound(f"{target}: no such log (give an events.jsonl path or an orchestration id)")
    return path


def cmd_replay(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.replay import state_at_seq
    from ..headless import literal

    path = _replay_path(workspace, args.log)
    if args.to is not None and args.to < 0:
        raise InputError(f"--to must be an event seq (0 or more), got {args.to}")
    if not args.json and args.to is None and _want_dashboard(args):
        if args.max_gap <= 0:
            raise InputError(f"--max-gap must be more than 0 seconds, got {args.max_gap}")
        return _dashboard(args, workspace, "replay", log_path=path, max_gap=args.max_gap)
    state, report = state_at_seq(path, args.to)
    if args.json:
        _print_json({"orchestration_state": state.to_dict(), "replay": report.to_dict()})
        return EXIT_OK
    text = yaml.safe_dump(state.seed_view(), sort_keys=False, allow_unicode=True, width=100)
    console.print(literal(text.rstrip("\n")))
    summary = report.to_dict()
    console.print(Text(f"at seq {summary.get('reached_seq')} of {summary.get('last_seq')} ({path})", style="dim"))
    for bad in report.bad_lines:
        err_console.print(Text(f"{path}: line {bad.line} skipped: {bad.reason}", style="yellow"))
    if report.unknown_events:
        err_console.print(Text(f"{report.unknown_events} event(s) of unknown type shown as generic rows", style="yellow"))
    return EXIT_OK


def cmd_watch(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.reducer import apply
    from ..core.watch import (
        Attached,
        Batch,
        Finished,
        Restarted,
        Switched,
        Waiting,
        follow,
    )

    if _want_dashboard(args):
        return _dashboard(args, workspace, "watch", orch_id=args.orch_id, follow_latest=args.follow_latest)
    from ..headless import HeadlessPrinter, literal
    from .liveness import LivenessWatch, Stopped

    printer = HeadlessPrinter(console)

    async def run() -> int:
        state = OrchestrationState()
        final = EXIT_OK
        stopped = LivenessWatch(workspace, lambda: state)
        async for item in stopped.guard(follow(workspace, args.orch_id, follow_latest=args.follow_latest)):
            if isinstance(item, Stopped):
                console.print(literal(item.label, "bold red"))
                console.print(literal(f"resume with: {item.resume}"))
                final = EXIT_FAILED
                break
            if isinstance(item, Attached):
                state = OrchestrationState()
                console.print(Text(f"watching {item.orch_id} (read-only; Ctrl-C to stop)", style="dim"))
            elif isinstance(item, Batch):
                for event in item.events:
                    apply(state, event)
                    printer(event, state)
                for bad in item.bad_lines:
                    err_console.print(Text(f"line {bad.line} skipped: {bad.reason}", style="yellow"))
            elif isinstance(item, Finished):
                console.print(Text(f"{item.orch_id} finished: {item.status}", style="bold"))
                final = EXIT_OK if item.status == "completed" else EXIT_FAILED
            elif isinstance(item, Switched):
                console.print(Text(f"a newer orchestration started: {item.to_id}", style="bold"))
            elif isinstance(item, Restarted):
                console.print(
                    Text(
                        f"the log of {item.orch_id} was {item.reason} under watch; re-reading it (events up to seq {item.last_seq} are not shown again)",
                        style="bold yellow",
                    )
                )
            elif isinstance(item, Waiting):
                console.print(Text(f"no orchestration in {item.workspace} yet; waiting for one to start", style="dim"))
        return final

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def cmd_view(args: argparse.Namespace, workspace: Workspace) -> int:
    if _want_dashboard(args):
        return _dashboard(args, workspace, "view")
    try:
        state = _current_state(workspace)
    except StudioError as exc:
        console.print(Text(str(exc), style="yellow"))
        console.print('Start one with: studio-tui build "GOAL"   or try: studio-tui demo')
        return EXIT_OK
    from ..headless import state_view

    console.print(state_view(state))
    return EXIT_OK


def cmd_export(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.export import export_report
    from ..core.store.atomic import atomic_write

    orch_id = workspace.resolve_orch(args.orch_id)
    read = read_log(workspace.events_path(orch_id))
    state = fold(read.events) if read.events else workspace.load_state(orch_id)
    report = export_report(state, read.events, args.format)
    if args.output is None:
        sys.stdout.write(report)
        sys.stdout.flush()
    else:
        atomic_write(args.output.expanduser(), report)
        err_console.print(Text(f"wrote {args.output} ({args.format}, {orch_id})", style="dim"))
    return EXIT_OK
