"""Names every part of the orchestrator shares: how a run stops, new ids, the preflight check."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from .. import budget as budget_mod
from .. import events as ev
from ..agents.base import Agent
from ..errors import InputError
from ..plan import Backlog, load_backlog, load_plan
from ..state import OrchestrationState
from ..store import Workspace

Subscriber = Callable[[ev.Event, OrchestrationState], None]
AgentFactory = Callable[[str], Agent]
"""role -> agent; the CLI builds one from config.yaml."""


class RunStopped(Exception):
    """The run ends here (abort, halt, cancel); the status says which."""

    def __init__(self, status: str, summary: str) -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary


def new_orch_id(now: float) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(now))
    return f"orch_{stamp}_{secrets.token_hex(2)}"


def preflight(workspace: Workspace) -> tuple[Backlog, list[str]]:
    """Load the backlog and every plan before anything is written: bad input fails here, cleanly.

    Returns the backlog and the task ids of plans still pending (they route to build_only).
    """
    backlog = load_backlog(workspace.backlog_path, root=workspace.root)
    pending_plans: list[str] = []
    for plan_path in budget_mod.plan_files(workspace.tasks_dir):
        plan = load_plan(plan_path, root=workspace.root)
        if plan.status in ("pending", "in_progress"):
            pending_plans.append(plan.task_id)
    return backlog, pending_plans


def check_chosen_plan(workspace: Workspace, task_id: str) -> None:
    """`build --plan TASK_ID`: the task's plan must exist and still be pending."""
    path = workspace.task_dir(task_id) / "plan.json"
    if not path.is_file():
        known = ", ".join(p.parent.name for p in budget_mod.plan_files(workspace.tasks_dir)) or "none"
        raise InputError(f"--plan {task_id}: no plan at {path}; plans: {known}")
    plan = load_plan(path, root=workspace.root)
    if plan.status not in ("pending", "in_progress"):
        raise InputError(f"--plan {task_id}: plan {plan.id} is {plan.status}, not pending; nothing to build")
