"""The argument parser of `studio-tui`: every subcommand and its options (no command runs here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.text import Text

from .. import __version__
from .common import EXIT_USAGE, err_console


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
    parser.add_argument(
        "--parallel",
        type=int,
        default=None,
        metavar="N",
        help="multi_task / decompose_first: up to N Builder tasks at once, each in its own git worktree",
    )
    parser.add_argument(
        "--engine", choices=("local", "dask"), default=None, help="where Builder tasks run (dask: on a Dask cluster; needs the dask extra)"
    )
    parser.add_argument(
        "--address", default=None, metavar="URL", help="--engine dask: the scheduler (tcp://host:8786); none starts a LocalCluster"
    )
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
    resume.add_argument(
        "--restore-code", action="store_true", help="on a rewind, also put the project's code back as the checkpoint saw it (git)"
    )
    _add_run_options(resume)

    add_fork_parser(sub, _add_run_options)
    add_route_parser(sub)

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


def _add_setup_commands(sub: Any) -> None:
    from ..core.presets import AGENT_CHOICES  # not core.init: that builds the config models

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
    doctor.add_argument(
        "--timeout", type=float, default=None, metavar="SECONDS", help="per ACP request (default: each agent's init_timeout)"
    )
    agent = sub.add_parser("agent", help="the built-in planner/architect (a command agent; config.yaml runs it)")
    agent.add_argument("--test-command", default=None, metavar="CMD", help="the planner's quality gate (default: detected)")


def _add_serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve the dashboard to a browser (textual-serve): `serve [watch|replay ...]`, read-only unless --allow-control",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--allow-control", action="store_true", help="let the browser drive a run and answer its decisions (needs the printed token)"
    )
    serve.add_argument("--public-url", default=None, help="the URL browsers use, when it is not http://HOST:PORT (a proxy)")
    serve.add_argument(
        "served",
        nargs=argparse.REMAINDER,
        metavar="COMMAND ...",
        help="watch (default) or replay ...; with --allow-control also build, resume, run-backlog, demo",
    )


def _add_export_parser(sub: Any) -> None:
    export = sub.add_parser(
        "export", help="a shareable report of an orchestration (routing, timeline, agents, failures, decisions, budget)"
    )
    export.add_argument("orch_id", nargs="?", metavar="ORCH_ID", help="default: the latest")
    export.add_argument("--format", choices=("md", "html"), default="md", help="md (default) or html (no script)")
    export.add_argument("-o", "--output", type=Path, default=None, metavar="FILE", help="write here (atomically) instead of stdout")


def _add_inbox_parsers(sub: Any) -> None:
    inbox = sub.add_parser("inbox", help="every decision waiting in any run of the workspace, oldest first")
    inbox.add_argument("--json", action="store_true")
    answer = sub.add_parser("answer", help="answer a waiting decision of a run (its own process takes it)")
    answer.add_argument("orch_id", metavar="ORCH_ID")
    answer.add_argument("decision_id", metavar="DECISION_ID")
    answer.add_argument("answer", metavar="ANSWER")


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
