"""The prompt an ACP agent receives: its role template filled in with the task."""

from __future__ import annotations

import contextlib
import json

from ..base import AgentTask


def render_prompt(template: str, task: AgentTask) -> str:
    """The role prompt: `template` with its placeholders (config.ACP_PROMPT_PLACEHOLDERS) filled in."""
    plan = ""
    if task.plan_path is not None:
        with contextlib.suppress(OSError):
            plan = task.plan_path.read_text(encoding="utf-8", errors="replace")
    values = {
        "goal": task.goal,
        "role": task.role,
        "mode": task.mode,
        "task_id": task.task_id or "",
        "attempt": task.attempt,
        "context": json.dumps(task.context, indent=2, ensure_ascii=False, default=str),
        "project_root": str(task.project_root),
        "plan_path": str(task.plan_path) if task.plan_path is not None else "",
        "plan": plan,
    }
    return template.format_map(values)
