"""The commands that run an orchestration (demo, build, resume, fork, run-backlog, agent-start):
headless with a printer, or in the dashboard; execution overrides from the command line."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, cast

from rich.text import Text

from ..core.agents import agent_factory, check_agents
from ..core.decider import PolicyDecider
from ..core.errors import InputError
from ..core.example import make_demo_workspace
from ..core.orchestrator import Orchestrator, preflight
from ..core.safefile import DiskError
from ..core.state import OrchestrationState
from ..core.store import Workspace
from ..core.text import command_hint
from ..headless import (
    HeadlessPrinter,
    PermissionPolicy,
    TerminalDecider,
    budget_view,
    literal,
    state_view,
)
from .common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    _exit_for,
    _interactive,
    _run_async,
    _want_dashboard,
    console,
    err_console,
)
from .dashboard import _config_with_execution, _dashboard
from .pipe import PipeSafePrinter, pipe_closed_message, silence_stdout
from .rewind import check_rewind, refuse_if_busy, restore_code


def _headless_run(
    args: argparse.Namespace,
    workspace: Workspace,
    start: Callable[[Orchestrator], Coroutine[Any, Any, OrchestrationState]],
    *,
    demo: bool = False,
) -> int:
    config = _config_with_execution(workspace, args)
    speed = args.speed if args.speed is not None else 1.0
    factory = agent_factory(workspace, config, speed=speed)
    policy = args.on_escalation
    if policy is None:
        policy = "ask" if _interactive() else ("retry" if demo else "abort")
    if policy == "ask" and not _interactive():
        raise InputError("--on-escalation ask needs a terminal; use retry, skip or abort when input is not a terminal")
    permissions = args.permissions or ("ask" if _interactive() else "deny")
    if permissions == "ask" and not _interactive():
        raise InputError("--permissions ask needs a terminal; use allow or deny when input is not a terminal")
    if _interactive():
        decider: Any = TerminalDecider(console, on_escalation=policy, permissions=cast(PermissionPolicy, permissions))  # argparse choices
    else:
        decider = PolicyDecider(policy, permissions)  # type: ignore[arg-type]
    with workspace.lock():
        from ..core.inbox import InboxDecider

        decider = InboxDecider(decider, workspace)  # `studio-tui answer` / the inbox may answer instead
        orchestrator = Orchestrator(workspace, config, decider, factory)
        decider.orch_id = lambda: orchestrator.state.id
        printer = PipeSafePrinter(HeadlessPrinter(console))
        orchestrator.subscribe(printer)
        try:
            state = _run_async(start(orchestrator))
        except asyncio.CancelledError:
            state = orchestrator.state
        except EOFError as exc:
            state = orchestrator.state
            err_console.print(Text(f"studio-tui: {exc}", style="red"))
        except DiskError as exc:
            # a full or read-only disk: the run stopped (with an interrupted checkpoint if there was room)
            _print_outcome(workspace, orchestrator.state)
            err_console.print(Text("studio-tui: ", style="red") + literal(str(exc), "red"))
            good = workspace.last_good_checkpoint(orchestrator.state.id or None)
            if good is not None:
                err_console.print(literal(f"once there is room again, resume with  {resume_hint(workspace, good.meta.id)}", "yellow"))
            return EXIT_FAILED
    if printer.closed:
        err_console.print(literal(pipe_closed_message(workspace, state), "yellow"))
        return EXIT_INTERRUPTED
    try:
        _print_outcome(workspace, state)
    except BrokenPipeError:
        silence_stdout()
    return _exit_for(state)


def resume_hint(workspace: Workspace, cp_id: str) -> str:
    """The command to paste to resume: every part shell-quoted (a path may hold `$(...)` or spaces)."""
    return command_hint("--workspace", str(workspace.root), "resume", cp_id)


def _print_outcome(workspace: Workspace, state: OrchestrationState) -> None:
    if not state.id:
        return
    console.print()
    console.print(state_view(state))
    console.print(budget_view(state))
    if state.status == "interrupted" and state.checkpoints:
        console.print(Text(f"\ninterrupted: resume with  {resume_hint(workspace, state.checkpoints[-1].id)}", style="yellow"))
    elif state.status in ("aborted", "halted", "failed") and state.checkpoints:
        console.print(Text(f"\nlast checkpoint: {state.checkpoints[-1].id} ({state.checkpoints[-1].name})", style="yellow"))
    console.print(Text(f"log: {workspace.events_path(state.id)}", style="dim"))


def _explicit_guard(args: argparse.Namespace) -> None:
    if not _interactive() and not args.yes:
        raise InputError("explicit mode asks before proceeding: run it on a terminal, or pass --yes to proceed without asking")


def cmd_demo(args: argparse.Namespace) -> int:
    root = make_demo_workspace(args.into.expanduser().absolute() if args.into else None)
    workspace = Workspace(root)
    console.print(Text(f"demo workspace: {workspace.root}", style="dim"))
    from ..core.agents.scripted import load_scenario

    goal = load_scenario(workspace.root / "scenario.yaml", root=workspace.root).goal
    if _want_dashboard(args):
        return _dashboard(args, workspace, "build", goal=goal)
    return _headless_run(args, workspace, lambda o: o.build(goal), demo=True)


def cmd_build(args: argparse.Namespace, workspace: Workspace, *, explicit: bool) -> int:
    mode = "explicit" if explicit else "implicit"
    config = workspace.config()
    check_agents(workspace, config)
    preflight(workspace)
    if not args.goal.strip():
        raise InputError('GOAL is empty: say what to build, e.g. studio-tui build "Fix the login typo"')
    if _want_dashboard(args):
        return _dashboard(args, workspace, "build", goal=args.goal, mode=mode)
    if explicit:
        _explicit_guard(args)
    chosen = getattr(args, "plan", None)
    return _headless_run(args, workspace, lambda o: o.build(args.goal, mode=mode, plan=chosen))


def cmd_resume(args: argparse.Namespace, workspace: Workspace) -> int:
    record = workspace.find_checkpoint(args.checkpoint_id)
    check_agents(workspace, workspace.config())
    preflight(workspace)
    refuse_if_busy(workspace)
    point = check_rewind(args, record, workspace, console, err_console, interactive=_interactive())
    restore_code(args, record, workspace, console, interactive=_interactive(), offer=point.rewind)
    if _want_dashboard(args):
        return _dashboard(args, workspace, "resume", checkpoint_id=args.checkpoint_id)
    return _headless_run(args, workspace, lambda o: o.resume(record, point=point))


def cmd_fork(args: argparse.Namespace, workspace: Workspace) -> int:
    record = workspace.find_checkpoint(args.checkpoint_id)
    check_agents(workspace, workspace.config())
    preflight(workspace)
    refuse_if_busy(workspace)
    restore_code(args, record, workspace, console, interactive=_interactive(), offer=True)
    return _headless_run(args, workspace, lambda o: o.fork(record, goal=args.goal))


def cmd_run_backlog(args: argparse.Namespace, workspace: Workspace) -> int:
    check_agents(workspace, workspace.config())
    backlog, _ = preflight(workspace)
    if not backlog.pending():
        raise InputError(f"{workspace.backlog_path}: no pending tasks to run")
    if _want_dashboard(args):
        return _dashboard(args, workspace, "run_backlog")
    return _headless_run(args, workspace, lambda o: o.run_backlog())


def cmd_agent_start(args: argparse.Namespace, workspace: Workspace) -> int:
    orch_id = workspace.resolve_orch(None)

    async def start(orchestrator: Orchestrator) -> OrchestrationState:
        return await orchestrator.rerun_agent(orch_id, args.agent)

    return _headless_run(args, workspace, start)
