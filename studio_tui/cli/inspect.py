"""Commands that read or annotate a run without driving it: status, checkpoints, budget, route,
checkpoint (saved now, or asked of the running build) and handoff."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..core.agents import agent_factory
from ..core.budget import budget_table
from ..core.decider import PolicyDecider
from ..core.errors import InputError, StudioError, WorkspaceBusy
from ..core.orchestrator import Orchestrator
from ..core.route_preview import preview
from ..core.store import ORCH_ID_RE, Workspace
from ..core.text import sanitize
from ..headless import budget_view, literal
from .common import EXIT_OK, _current_state, _print_json, console, err_console
from .liveness import liveness_lines


def cmd_status(args: argparse.Namespace, workspace: Workspace) -> int:
    state = _current_state(workspace, args.orch_id)
    if args.json:
        payload: dict[str, Any] = {"orchestration_state": state.to_dict()}
        stopped = liveness_lines(workspace, state)
        if stopped:
            payload["stopped"] = {"label": stopped[0], "resume": stopped[1].removeprefix("resume with: ")}
        _print_json(payload)
    else:
        text = yaml.safe_dump(state.seed_view(), sort_keys=False, allow_unicode=True, width=100)
        console.print(literal(text.rstrip("\n")))
        if state.waiting_for_person:
            console.print(Text("WAITING FOR YOU: answer it in the terminal running the build", style="bold yellow"))
        for line in liveness_lines(workspace, state):
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
        payload = {
            "orch_id": state.id,
            "pools": pools,
            "total": {"used": used, "soft": soft, "status": status.split(" ")[0], "percent": round(100 * used / soft) if soft else 0},
        }
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
    from ..core import safefile

    target = holder.get("orch_id")
    if isinstance(target, str) and ORCH_ID_RE.fullmatch(target) and workspace.orch_dir(target).is_dir():
        orch_id = target
    pid = holder.get("pid") if isinstance(holder.get("pid"), int) else None
    request = {"name": name, "orch_id": orch_id, "pid": pid, "ts": time.time()}
    path = workspace.orch_dir(orch_id) / "requests" / f"checkpoint-{time.time_ns()}.json"
    safefile.write_atomic(path, json.dumps(request), safefile.REQUEST, root=workspace.root)
    who = f"pid {pid}" if pid is not None else "pid unknown"
    console.print(
        literal(f"requested: the running build ({who}, {orch_id}) saves checkpoint {name!r} at its next step, or before it ends", "green")
    )
    return EXIT_OK


def cmd_handoff(args: argparse.Namespace, workspace: Workspace) -> int:
    from ..core import safefile

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


def cmd_route(args: argparse.Namespace, workspace: Workspace, console: Console) -> int:
    if not args.goal.strip():
        raise InputError('GOAL is empty: say what to route, e.g. studio-tui route "Fix the login typo"')
    decided = preview(workspace, args.goal, chosen_plan=args.plan)
    if args.json:
        console.print_json(json.dumps(decided))
        return 0
    console.print(
        literal(f"{decided['workflow']} ({decided['complexity']}, confidence {decided['confidence']:.0%}): {decided['reason']}", "bold")
    )
    for signal in decided["signals"] or ["no routing signal"]:
        console.print(literal(f"  signal: {signal}"))
    console.print(literal("  agents: " + " → ".join(a["key"] for a in decided["agents"])))
    for plan in decided["pending_plans"]:
        used = "USED" if plan["used"] else "left alone"
        console.print(literal(f"  pending plan {plan['task_id']} ({plan['plan_id']}): {used}{'; ' + plan['note'] if plan['note'] else ''}"))
    console.print(Text("nothing was run", style="dim"))
    return 0
