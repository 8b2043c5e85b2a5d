"""inbox and answer: the decisions waiting in any run of the workspace, answered from another shell."""

from __future__ import annotations

import argparse
import time

from rich.table import Table
from rich.text import Text

from ..core.store import Workspace
from ..headless import literal
from .common import EXIT_OK, _print_json, console, err_console


def cmd_inbox(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.inbox import waiting_decisions

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
        table.add_row(
            f"{age // 60}m{age % 60:02d}s",
            item.orch_id,
            literal(item.decision_id),
            literal(item.kind),
            literal(item.agent or "-"),
            literal(item.prompt),
            literal(" / ".join(item.options) or "(free text)"),
        )
    console.print(table if found.items else Text("nothing is waiting for you", style="dim"))
    for problem in found.problems:
        err_console.print(Text(problem, style="yellow"))
    return EXIT_OK


def cmd_answer(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.inbox import post_answer

    post_answer(workspace, args.orch_id, args.decision_id, args.answer)
    console.print(literal(f"sent: {args.orch_id} takes {args.answer!r} for {args.decision_id} at its next look", "green"))
    return EXIT_OK
