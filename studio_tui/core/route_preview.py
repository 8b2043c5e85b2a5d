"""`studio-tui route GOAL`: the routing decision a build would make, computed without running anything."""

from __future__ import annotations

from typing import Any

from .orchestrator.common import check_chosen_plan, preflight
from .orchestrator.workflow import sequence_for
from .pending_plans import pending_plans
from .routing import route
from .store import Workspace


def preview(workspace: Workspace, goal: str, *, chosen_plan: str | None = None) -> dict[str, Any]:
    """What `build GOAL` would route to, the signals that decided it, and the plans that were left alone."""
    backlog, _ = preflight(workspace)
    if chosen_plan is not None:
        check_chosen_plan(workspace, chosen_plan)
    plans = pending_plans(workspace)
    decision = route(
        goal,
        pending_plan_tasks=[p.task_id for p in plans],
        backlog_task_ids=[t.id for t in backlog.tasks()],
        chosen_plan=chosen_plan,
    )
    sequence = sequence_for(decision, backlog, workspace)
    chosen = set(decision.task_ids) if decision.workflow == "build_only" else set()
    return {
        "goal": goal,
        "workflow": decision.workflow,
        "complexity": decision.complexity,
        "confidence": decision.confidence,
        "reason": decision.reason,
        "signals": list(decision.signals),
        "agents": [{"key": s.key, "agent": s.agent, "task_id": s.task_id} for s in sequence],
        "pending_plans": [
            {
                "task_id": p.task_id,
                "plan_id": p.plan_id,
                "status": p.status,
                "left_by": p.left_by,
                "used": p.task_id in chosen,
                "note": ""
                if p.task_id in chosen
                else (
                    f"left by a stopped run ({p.left_by}): built only if named or chosen with --plan"
                    if p.left_by
                    else "not named in the goal: built only if named or chosen with --plan"
                ),
            }
            for p in plans
        ],
    }
