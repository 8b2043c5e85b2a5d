"""Plans waiting in `.studio/tasks/`, and which stopped run (failed, aborted, halted) left each behind."""

from __future__ import annotations

from dataclasses import dataclass

from . import budget as budget_mod
from .errors import StudioError
from .plan import load_plan
from .store import Workspace

STOPPED_STATUSES = ("failed", "aborted", "halted")
"""Run outcomes whose plans are never built again unless the person names them."""


@dataclass(frozen=True)
class PendingPlan:
    task_id: str
    plan_id: str
    status: str
    left_by: str | None = None
    """`orch_… (halted)` when a stopped run was building this plan."""

    def describe(self) -> str:
        mark = f", left by {self.left_by} run" if self.left_by else ""
        return f"{self.task_id} (plan {self.plan_id}, {self.status}{mark})"


def _stopped_runs(workspace: Workspace) -> dict[str, str]:
    """task id -> `orch_id (status)` of the newest stopped run that was building it."""
    left: dict[str, str] = {}
    for orch_id in workspace.orchestrations():
        try:
            state = workspace.load_state(orch_id)
        except (StudioError, OSError):
            continue
        if state.status not in STOPPED_STATUSES:
            continue
        tasks = {a.task_id for a in state.agent_states if a.role == "builder" and a.task_id}
        tasks |= {str(h.context["task_id"]) for h in state.handoffs if h.context.get("task_id")}
        for task_id in tasks:
            left[task_id] = f"{orch_id} ({state.status})"
    return left


def pending_plans(workspace: Workspace) -> list[PendingPlan]:
    """Every plan still pending or in progress, oldest task folder first, marked when a stopped run left it."""
    stopped = _stopped_runs(workspace)
    found: list[PendingPlan] = []
    for path in budget_mod.plan_files(workspace.tasks_dir):
        plan = load_plan(path)
        if plan.status in ("pending", "in_progress"):
            found.append(PendingPlan(plan.task_id, plan.id, plan.status, stopped.get(plan.task_id)))
    return found
