"""init, doctor and the built-in agent (logic in core/init.py, core/doctor.py, core/agents/builtin.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from ..core.errors import InputError
from ..core.store import Workspace
from ..core.text import sanitize
from ..headless import literal
from .common import EXIT_FAILED, EXIT_OK, _print_json, console


def cmd_init(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.init import init_workspace

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
    console.print(literal(f'next: studio-tui {flag}doctor, then studio-tui {flag}build "GOAL"', "bold"))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core.doctor import diagnose

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
                Text(check.role),
                Text(sanitize(check.subject)),
                Text(check.status, style="green" if check.ok else "red bold"),
                Text(sanitize(found)),
                Text(sanitize(check.fix), style="yellow"),
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
    from ..core.agents.builtin import run

    return run(sys.stdin, sys.stdout, test_command=args.test_command)
