"""Entry point `studio-tui`: parse arguments, pick a front end, map outcomes to exit codes."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__, cli_runs
from .core.agents import agent_factory, check_agents
from .core.budget import budget_table
from .core.config import StudioConfig
from .core.decider import PolicyDecider
from .core.errors import InputError, NotFound, StudioError, WorkspaceBusy
from .core.example import make_demo_workspace
from .core.orchestrator import Orchestrator, preflight
from .core.reducer import fold
from .core.safefile import DiskError
from .core.state import OrchestrationState
from .core.store import ORCH_ID_RE, Workspace, read_log
from .core.text import command_hint, sanitize
from .headless import HeadlessPrinter, PermissionPolicy, TerminalDecider, budget_view, literal, state_view

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
RUN_COMMANDS = ("demo", "build", "orchestrate", "resume", "run-backlog", "fork")

PIPE_WIDTH = 160
"""Columns for output that is not a terminal: wide enough that ids and paths are never cut."""

# markup and emoji off: no string printed anywhere (goals, agent text, file content) is ever interpreted.
console = Console(highlight=False, markup=False, emoji=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)
# soft_wrap: an error is one line however long, so a path in it is never cut in two.
err_console = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 with one line naming the problem."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        err_console.print(Text(f"studio-tui: error: {message}", style="red"))
        raise SystemExit(EXIT_USAGE)


def _add_run_options(parser: argparse.ArgumentParser, *, escalation_default: str | None = None) -> None:
    parser.add_argument("--headless", action="store_true", help="print events instead of opening the dashboard")
    parser.add_argument(
        "--on-escalation",
        choices=("ask", "retry", "skip", "abort"),
        default=escalation_default,
        help="answer escalations without asking (default: ask on a terminal, abort otherwise)",
    )
    parser.add_argument("--speed", type=float, default=None, help="scripted agents' speed factor (0 = no waiting)")
    parser.add_argument("--yes", action="store_true", help="proceed at explicit-mode routing without asking")
    parser.add_argument("--parallel", type=int, default=None, metavar="N", help="multi_task / decompose_first: up to N Builder tasks at once, each in its own git worktree")
    parser.add_argument("--engine", choices=("local", "dask"), default=None, help="where Builder tasks run (dask: on a Dask cluster; needs the dask extra)")
    parser.add_argument("--address", default=None, metavar="URL", help="--engine dask: the scheduler (tcp://host:8786); none starts a LocalCluster")
    parser.add_argument(
        "--permissions",
        choices=("ask", "allow", "deny"),
        default=None,
        help="answer agents' permission requests (default: ask on a terminal, deny otherwise: fail closed)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="studio-tui",
        description="Mission control for multi-agent builds: route a goal, run Planner/Builder/Architect, "
        "checkpoint, recover, keep context budgets. Without a command, opens the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"studio-tui {__version__}")
    parser.add_argument("--workspace", "-w", type=Path, default=Path(".studio"), help="the .studio folder (default: ./.studio)")
    parser.add_argument("--theme", default=None, help="dashboard theme (studio-dark, studio-light, studio-high-contrast)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    demo = sub.add_parser("demo", help="run the bundled example scenario in a fresh copy of the example workspace")
    _add_run_options(demo)
    demo.add_argument("--into", type=Path, default=None, help="project folder to copy the example into (default: a new temp folder)")

    build = sub.add_parser("build", help="route GOAL to a workflow and run it")
    build.add_argument("goal", metavar="GOAL")
    build.add_argument("--explicit", action="store_true", help="show the routing and ask before proceeding")
    build.add_argument("--plan", metavar="TASK_ID", default=None, help="build this task's pending plan (build_only)")
    _add_run_options(build)

    orchestrate = sub.add_parser("orchestrate", help="explicit mode: `orchestrate build GOAL`")
    orch_sub = orchestrate.add_subparsers(dest="orchestrate_command", metavar="build", required=True, parser_class=_Parser)
    orch_build = orch_sub.add_parser("build", help="show the routing, ask, then build GOAL")
    orch_build.add_argument("goal", metavar="GOAL")
    _add_run_options(orch_build)

    status = sub.add_parser("status", help="the current orchestration's state, in the seed's structure")
    status.add_argument("orch_id", nargs="?", metavar="ORCH_ID", help="default: the latest")
    status.add_argument("--json", action="store_true")

    checkpoint = sub.add_parser("checkpoint", help="save a checkpoint NAME of the current orchestration now")
    checkpoint.add_argument("name", metavar="NAME")

    checkpoints = sub.add_parser("checkpoints", help="list every checkpoint in the workspace")
    checkpoints.add_argument("--json", action="store_true")

    resume = sub.add_parser("resume", help="continue an orchestration from checkpoint CP_ID")
    resume.add_argument("checkpoint_id", metavar="CP_ID")
    resume.add_argument("--restore-code", action="store_true", help="on a rewind, also put the project's code back as the checkpoint saw it (git)")
    _add_run_options(resume)

    cli_runs.add_fork_parser(sub, _add_run_options)
    cli_runs.add_route_parser(sub)

    budget = sub.add_parser("budget", help="the context budget table (seed format)")
    budget.add_argument("--json", action="store_true")

    handoff = sub.add_parser("handoff", help="record a handoff FROM -> TO with a JSON context")
    handoff.add_argument("from_agent", metavar="FROM")
    handoff.add_argument("to_agent", metavar="TO")
    handoff.add_argument("context", metavar="JSON")

    agent_start = sub.add_parser("agent-start", help="re-invoke AGENT in the current orchestration (a retry)")
    agent_start.add_argument("agent", metavar="AGENT")
    _add_run_options(agent_start)

    backlog = sub.add_parser("run-backlog", help="multi_task: a Builder per pending backlog task, in order")
    _add_run_options(backlog)

    replay = sub.add_parser("replay", help="replay a past run's events.jsonl (a path or an orchestration id)")
    replay.add_argument("log", metavar="LOG|ORCH_ID")
    replay.add_argument("--headless", action="store_true", help="print the state at --to instead of opening the dashboard")
    replay.add_argument("--to", type=int, default=None, metavar="SEQ", help="the event to stop at (default: the last)")
    replay.add_argument("--json", action="store_true", help="the full state and the replay report as JSON")
    replay.add_argument("--max-gap", type=float, default=2.0, metavar="SECONDS", help="cap idle gaps in the original timing (default 2)")

    _add_export_parser(sub)
    _add_inbox_parsers(sub)

    watch = sub.add_parser("watch", help="follow, read-only, a run that another process is driving")
    watch.add_argument("orch_id", nargs="?", metavar="ORCH_ID", help="default: the latest")
    watch.add_argument("--follow-latest", action="store_true", help="switch to a newer orchestration when one starts")
    watch.add_argument("--headless", action="store_true", help="print events instead of opening the dashboard")
    _add_setup_commands(sub)
    _add_serve_parser(sub)
    return parser


# ── init, doctor and the built-in agent (logic in core/init.py, core/doctor.py, core/agents/builtin.py) ──


def _add_setup_commands(sub: Any) -> None:
    from .core.init import AGENT_CHOICES

    init = sub.add_parser("init", help="write .studio/config.yaml and the workspace for the project in this folder")
    init.add_argument(
        "--agents",
        choices=AGENT_CHOICES,
        default="command",
        help="who plays the roles: a well-known ACP agent, the built-in command agents (default) or a scripted rehearsal",
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing config.yaml (and scenario.yaml)")
    doctor = sub.add_parser("doctor", help="check that each role's agent can start, speaks ACP and is signed in")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="per ACP request (default: each agent's init_timeout)")
    agent = sub.add_parser("agent", help="the built-in planner/architect (a command agent; config.yaml runs it)")
    agent.add_argument("--test-command", default=None, metavar="CMD", help="the planner's quality gate (default: detected)")


def cmd_init(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core.init import init_workspace

    result = init_workspace(workspace, args.agents, force=args.force)
    for path in result.written:
        console.print(literal(f"wrote {path}{'/' if path.is_dir() else ''}", "green"))
    for path in result.kept:
        console.print(literal(f"kept  {path}{'/' if path.is_dir() else ''} (already there)", "dim"))
    if result.gitignore is not None:
        if result.gitignore_added:
            console.print(literal(f"added to {result.gitignore}: {' '.join(result.gitignore_added)}", "green"))
        else:
            console.print(literal(f"{result.gitignore} already ignores the per-machine folders", "dim"))
    if args.agents == "command":
        found = result.test_command or "none found: edit the quality gates in config.yaml"
        console.print(literal(f"test command (the quality gate): {found}", "dim"))
    flag = "" if workspace.root == Path(".studio").absolute() else f"--workspace {workspace.root} "
    console.print(literal(f"next: studio-tui {flag}doctor, then studio-tui {flag}build \"GOAL\"", "bold"))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core.doctor import diagnose

    if args.timeout is not None and args.timeout <= 0:
        raise InputError(f"--timeout must be more than 0 seconds, got {args.timeout}")
    report = asyncio.run(diagnose(workspace, workspace.config(), timeout=args.timeout))
    if args.json:
        _print_json(report.to_dict())
        return EXIT_OK if report.ok else EXIT_FAILED
    if sys.stdout.isatty():
        table = Table(title=f"studio-tui doctor: {workspace.root}", title_justify="left", expand=True)
        table.add_column("role", no_wrap=True)
        table.add_column("agent / gate", overflow="fold", ratio=2)
        table.add_column("status", no_wrap=True)
        table.add_column("what was found", overflow="fold", ratio=3)
        table.add_column("fix", overflow="fold", ratio=2)
        for check in report.checks:
            found = check.detail
            if check.acp:
                found += "".join(f"\n{key}: {_doctor_value(value)}" for key, value in check.acp.items())
            table.add_row(
                Text(check.role), Text(sanitize(check.subject)), Text(check.status, style="green" if check.ok else "red bold"),
                Text(sanitize(found)), Text(sanitize(check.fix), style="yellow"),
            )
        console.print(table)
    else:
        for check in report.checks:
            console.print(literal(sanitize(f"{check.role:<10} {check.status:<14} {check.subject}: {check.detail}")))
            for key, value in check.acp.items():
                console.print(literal(sanitize(f"{'':<25} {key}: {_doctor_value(value)}")))
            if check.fix:
                console.print(literal(sanitize(f"{'':<25} fix: {check.fix}")))
    verdict = "every role can run" if report.ok else "a role cannot run: see the fix above"
    console.print(literal(verdict, "green" if report.ok else "red"))
    return EXIT_OK if report.ok else EXIT_FAILED


def _doctor_value(value: Any) -> str:
    if isinstance(value, list):
        parts = [item.get("name") or item.get("id", "") if isinstance(item, dict) else str(item) for item in value]
        return ", ".join(parts) or "none"
    return str(value)


def cmd_agent(args: argparse.Namespace) -> int:
    from .core.agents.builtin import run

    return run(sys.stdin, sys.stdout, test_command=args.test_command)


# ── helpers ──────────────────────────────────────────────────────────────


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
    from .serve import served

    if served():
        return True
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        return False
    from .terminal import dashboard_unfit

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
            err_console.print(Text(f"warning: {exc}\nthe damaged file is kept as it is; showing the state from the event log{offer}", style="yellow"))
    path = workspace.events_path(orch_id)
    if path.exists():
        read = read_log(path)
        if read.events:
            if read.bad_lines:
                err_console.print(Text(f"{path}: skipped {len(read.bad_lines)} bad line(s): " + ", ".join(f"line {b.line} ({b.reason})" for b in read.bad_lines[:3]), style="yellow"))
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


# ── execution: --parallel, --engine, --address ──────────────────────────


def _execution_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The execution settings the command line gives, over config.yaml's `execution:`."""
    overrides: dict[str, Any] = {}
    if getattr(args, "parallel", None) is not None:
        if not 1 <= args.parallel <= 64:
            raise InputError(f"--parallel must be 1-64, got {args.parallel}")
        overrides["parallel"] = args.parallel
    if getattr(args, "engine", None) is not None:
        overrides["engine"] = args.engine
    if getattr(args, "address", None) is not None:
        if (args.engine or "") != "dask" and overrides.get("engine") != "dask":
            raise InputError("--address names a Dask scheduler: use it with --engine dask")
        overrides["address"] = args.address
    return overrides


def _config_with_execution(workspace: Workspace, args: argparse.Namespace) -> StudioConfig:
    """config.yaml with the command line's execution settings; parallel or Dask needs a git repository."""
    config = workspace.config()
    overrides = _execution_overrides(args)
    if overrides:
        config = config.model_copy(update={"execution": config.execution.model_copy(update=overrides)})
    if config.execution.distributed:
        from .core.parallel import require_repo

        require_repo(workspace.project_root)
        if config.execution.engine == "dask":
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise InputError("--engine dask needs the dask extra: pip install 'studio-tui[dask]'") from None
    return config


def _headless_run(args: argparse.Namespace, workspace: Workspace, start: Callable[[Orchestrator], Coroutine[Any, Any, OrchestrationState]], *, demo: bool = False) -> int:
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
        from .core.inbox import InboxDecider

        decider = InboxDecider(decider, workspace)  # `studio-tui answer` / the inbox may answer instead
        orchestrator = Orchestrator(workspace, config, decider, factory)
        decider.orch_id = lambda: orchestrator.state.id
        printer = cli_runs.PipeSafePrinter(HeadlessPrinter(console))
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
        err_console.print(literal(cli_runs.pipe_closed_message(workspace, state), "yellow"))
        return EXIT_INTERRUPTED
    try:
        _print_outcome(workspace, state)
    except BrokenPipeError:
        cli_runs.silence_stdout()
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


def _dashboard(args: argparse.Namespace, workspace: Workspace, action: str, **launch: Any) -> int:
    from .serve import served_read_only
    from .ui.app import Launch, run_dashboard

    speed = args.speed if getattr(args, "speed", None) is not None else 1.0
    execution = _execution_overrides(args)
    if execution:
        _config_with_execution(workspace, args)  # refused here (no git, no dask) rather than in the dashboard
    return run_dashboard(Launch(workspace=workspace, action=action, speed=speed, theme=args.theme, read_only=served_read_only(), execution=execution, **launch))  # type: ignore[arg-type]


def _explicit_guard(args: argparse.Namespace) -> None:
    if not _interactive() and not args.yes:
        raise InputError("explicit mode asks before proceeding: run it on a terminal, or pass --yes to proceed without asking")


# ── commands ─────────────────────────────────────────────────────────────


def cmd_demo(args: argparse.Namespace) -> int:
    root = make_demo_workspace(args.into.expanduser().absolute() if args.into else None)
    workspace = Workspace(root)
    console.print(Text(f"demo workspace: {workspace.root}", style="dim"))
    from .core.agents.scripted import load_scenario

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
        raise InputError("GOAL is empty: say what to build, e.g. studio-tui build \"Fix the login typo\"")
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
    cli_runs.refuse_if_busy(workspace)
    point = cli_runs.check_rewind(args, record, workspace, console, err_console, interactive=_interactive())
    cli_runs.restore_code(args, record, workspace, console, interactive=_interactive(), offer=point.rewind)
    if _want_dashboard(args):
        return _dashboard(args, workspace, "resume", checkpoint_id=args.checkpoint_id)
    return _headless_run(args, workspace, lambda o: o.resume(record, point=point))


def cmd_fork(args: argparse.Namespace, workspace: Workspace) -> int:
    record = workspace.find_checkpoint(args.checkpoint_id)
    check_agents(workspace, workspace.config())
    preflight(workspace)
    cli_runs.refuse_if_busy(workspace)
    cli_runs.restore_code(args, record, workspace, console, interactive=_interactive(), offer=True)
    return _headless_run(args, workspace, lambda o: o.fork(record, goal=args.goal))


def cmd_run_backlog(args: argparse.Namespace, workspace: Workspace) -> int:
    check_agents(workspace, workspace.config())
    backlog, _ = preflight(workspace)
    if not backlog.pending():
        raise InputError(f"{workspace.backlog_path}: no pending tasks to run")
    if _want_dashboard(args):
        return _dashboard(args, workspace, "run_backlog")
    return _headless_run(args, workspace, lambda o: o.run_backlog())


def cmd_status(args: argparse.Namespace, workspace: Workspace) -> int:
    state = _current_state(workspace, args.orch_id)
    if args.json:
        payload: dict[str, Any] = {"orchestration_state": state.to_dict()}
        stopped = cli_runs.liveness_lines(workspace, state)
        if stopped:
            payload["stopped"] = {"label": stopped[0], "resume": stopped[1].removeprefix("resume with: ")}
        _print_json(payload)
    else:
        text = yaml.safe_dump(state.seed_view(), sort_keys=False, allow_unicode=True, width=100)
        console.print(literal(text.rstrip("\n")))
        if state.waiting_for_person:
            console.print(Text("WAITING FOR YOU: answer it in the terminal running the build", style="bold yellow"))
        for line in cli_runs.liveness_lines(workspace, state):
            console.print(literal(line, "bold red"))
    return EXIT_OK


def cmd_checkpoints(args: argparse.Namespace, workspace: Workspace) -> int:
    # from each orchestration's index (digests checked, no YAML parsed): 1,000 checkpoints list at once
    records, damaged = workspace.list_checkpoints()
    problems = [f"{problem} (kept as it is)" for problem in damaged]
    records.sort(key=lambda r: (r.meta.ts, int(r.meta.id[3:])), reverse=True)
    if args.json:
        parents = {orch_id: _parent_of(workspace, orch_id) for orch_id in {r.meta.orch_id for r in records}}
        _print_json([r.meta.model_dump(mode="json") | {"path": str(r.path), "parent": parents[r.meta.orch_id]} for r in records])
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("Checkpoint", "Orchestration", "Name", "After agent", "Time", "Reason"):
            table.add_column(column)
        for r in records:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.meta.ts))
            table.add_row(r.meta.id, r.meta.orch_id, literal(r.meta.name), literal(r.meta.after_agent or "-"), when, r.meta.reason)
        console.print(table if records else Text("no checkpoints yet", style="dim"))
    for problem in problems:
        err_console.print(Text(f"skipped damaged checkpoint: {problem}", style="yellow"))
    return EXIT_OK


def _parent_of(workspace: Workspace, orch_id: str) -> str | None:
    """`orch_id/cp_id` a forked run started from (None for a run started by build, or unreadable state)."""
    try:
        state = workspace.load_state(orch_id)
    except StudioError:
        return None
    if state.parent_orch_id and state.parent_checkpoint_id:
        return f"{state.parent_orch_id}/{state.parent_checkpoint_id}"
    return None


def cmd_budget(args: argparse.Namespace, workspace: Workspace) -> int:
    state = _current_state(workspace)
    if args.json:
        rows = budget_table(state)
        pools = [
            {"pool": n, "used": u, "soft": s, "status": st.split(" ")[0], "estimated": state.budget.pools[n].estimated}
            for n, u, s, st in rows[:-1]
        ]
        _, used, soft, status = rows[-1]
        payload = {"orch_id": state.id, "pools": pools, "total": {"used": used, "soft": soft, "status": status.split(" ")[0], "percent": round(100 * used / soft) if soft else 0}}
        payload["optimizations"] = [o.model_dump(mode="json") for o in state.budget.optimizations]
        _print_json(payload)
    else:
        console.print(budget_view(state))
    return EXIT_OK


def _attached(workspace: Workspace) -> Orchestrator:
    config = workspace.config()
    return Orchestrator(workspace, config, PolicyDecider("abort"), agent_factory(workspace, config, speed=0))


def cmd_checkpoint(args: argparse.Namespace, workspace: Workspace) -> int:
    name = args.name.strip()
    if not name or len(name) > 80 or any(ch in "/\\" or ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in name):
        raise InputError(
            f"checkpoint NAME must be 1-80 characters without '/', '\\' or control characters, got {sanitize(repr(args.name))}"
        )
    orch_id = workspace.resolve_orch(None)
    lock = workspace.lock()
    try:
        lock.acquire()
    except WorkspaceBusy:
        return _request_checkpoint(workspace, lock.holder(), orch_id, name)
    try:
        orchestrator = _attached(workspace)
        orchestrator.attach(orch_id)
        cp_id = orchestrator.checkpoint(name, reason="on_demand")
        orchestrator.close()
    finally:
        lock.release()
    console.print(literal(f"saved {cp_id} ({name}) for {orch_id}", "green"))
    return EXIT_OK


def _request_checkpoint(workspace: Workspace, holder: dict, orch_id: str, name: str) -> int:
    """Ask the build holding the lock to save a checkpoint: a request file in the folder of the
    orchestration it drives, naming its pid, so no other process ever takes it."""
    from .core import safefile

    target = holder.get("orch_id")
    if isinstance(target, str) and ORCH_ID_RE.fullmatch(target) and workspace.orch_dir(target).is_dir():
        orch_id = target
    pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
    request = {"name": name, "orch_id": orch_id, "pid": pid, "ts": time.time()}
    path = workspace.orch_dir(orch_id) / "requests" / f"checkpoint-{time.time_ns()}.json"
    safefile.write_atomic(path, json.dumps(request), safefile.REQUEST, root=workspace.root)
    who = f"pid {pid}" if pid is not None else "pid unknown"
    console.print(literal(f"requested: the running build ({who}, {orch_id}) saves checkpoint {name!r} at its next step, or before it ends", "green"))
    return EXIT_OK


def cmd_handoff(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core import safefile

    context = safefile.parse_json(args.context, "JSON argument")  # bounded: depth, integer digits
    if not isinstance(context, dict):
        raise InputError("JSON argument: the handoff context must be a JSON object")
    with workspace.lock():
        orchestrator = _attached(workspace)
        orchestrator.attach(workspace.resolve_orch(None))
        event = orchestrator.record_handoff(args.from_agent, args.to_agent, context)
        orchestrator.close()
    console.print(literal(f"handoff {args.from_agent} → {args.to_agent} recorded ({event.tokens} tokens)", "green"))
    return EXIT_OK


def cmd_agent_start(args: argparse.Namespace, workspace: Workspace) -> int:
    orch_id = workspace.resolve_orch(None)

    async def start(orchestrator: Orchestrator) -> OrchestrationState:
        return await orchestrator.rerun_agent(orch_id, args.agent)

    return _headless_run(args, workspace, start)


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
    from .core.replay import state_at_seq

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
    from .core.reducer import apply
    from .core.watch import Attached, Batch, Finished, Restarted, Switched, Waiting, follow

    if _want_dashboard(args):
        return _dashboard(args, workspace, "watch", orch_id=args.orch_id, follow_latest=args.follow_latest)
    printer = HeadlessPrinter(console)

    async def run() -> int:
        state = OrchestrationState()
        final = EXIT_OK
        stopped = cli_runs.LivenessWatch(workspace, lambda: state)
        async for item in stopped.guard(follow(workspace, args.orch_id, follow_latest=args.follow_latest)):
            if isinstance(item, cli_runs.Stopped):
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
                console.print(Text(f"the log of {item.orch_id} was {item.reason} under watch; re-reading it (events up to seq {item.last_seq} are not shown again)", style="bold yellow"))
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
        console.print("Start one with: studio-tui build \"GOAL\"   or try: studio-tui demo")
        return EXIT_OK
    console.print(state_view(state))
    return EXIT_OK


# ── serve: the dashboard in a browser ────────────────────────────────────


def _add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the dashboard to a browser (textual-serve): `serve [watch|replay ...]`, read-only unless --allow-control",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--allow-control", action="store_true", help="let the browser drive a run and answer its decisions (needs the printed token)")
    serve.add_argument("--public-url", default=None, help="the URL browsers use, when it is not http://HOST:PORT (a proxy)")
    serve.add_argument("served", nargs=argparse.REMAINDER, metavar="COMMAND ...", help="watch (default) or replay ...; with --allow-control also build, resume, run-backlog, demo")


def cmd_serve(args: argparse.Namespace, workspace: Workspace) -> int:
    from .serve import serve, served_command

    served_args = served_command(args.served, allow_control=args.allow_control)
    # The served command is checked here, once, so a typo is an error now and not in every browser tab.
    build_parser().parse_args(["--workspace", str(workspace.root), *served_args])
    return serve(
        workspace.root,
        served_args,
        host=args.host,
        port=args.port,
        allow_control=args.allow_control,
        public_url=args.public_url,
        theme=args.theme,
        say=lambda line: console.print(literal(line)),
    )
# ── export (issue 13) ────────────────────────────────────────────────────


def _add_export_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="a shareable report of an orchestration (routing, timeline, agents, failures, decisions, budget)")
    export.add_argument("orch_id", nargs="?", metavar="ORCH_ID", help="default: the latest")
    export.add_argument("--format", choices=("md", "html"), default="md", help="md (default) or html (no script)")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write here (atomically) instead of stdout")


def cmd_export(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core.export import export_report
    from .core.store.atomic import atomic_write

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


# ── inbox and answer (issue 13) ──────────────────────────────────────────


def _add_inbox_parsers(sub: Any) -> None:
    inbox = sub.add_parser("inbox", help="every decision waiting in any run of the workspace, oldest first")
    inbox.add_argument("--json", action="store_true")
    answer = sub.add_parser("answer", help="answer a waiting decision of a run (its own process takes it)")
    answer.add_argument("orch_id", metavar="ORCH_ID")
    answer.add_argument("decision_id", metavar="DECISION_ID")
    answer.add_argument("answer", metavar="ANSWER")


def cmd_inbox(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core.inbox import waiting_decisions

    found = waiting_decisions(workspace)
    now = time.time()
    if args.json:
        _print_json({"waiting": [item.to_dict(now) for item in found.items], "problems": found.problems})
        return EXIT_OK
    table = Table(box=None, header_style="bold")
    for column in ("Age", "Run", "Decision", "Kind", "Agent", "Question", "Answers"):
        table.add_column(column)
    for item in found.items:
        age = int(item.age(now))
        table.add_row(f"{age // 60}m{age % 60:02d}s", item.orch_id, literal(item.decision_id), literal(item.kind), literal(item.agent or "-"), literal(item.prompt), literal(" / ".join(item.options) or "(free text)"))
    console.print(table if found.items else Text("nothing is waiting for you", style="dim"))
    for problem in found.problems:
        err_console.print(Text(problem, style="yellow"))
    return EXIT_OK


def cmd_answer(args: argparse.Namespace, workspace: Workspace) -> int:
    from .core.inbox import post_answer

    post_answer(workspace, args.orch_id, args.decision_id, args.answer)
    console.print(literal(f"sent: {args.orch_id} takes {args.answer!r} for {args.decision_id} at its next look", "green"))
    return EXIT_OK


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
        "route": lambda: cli_runs.cmd_route(args, workspace, console),
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
