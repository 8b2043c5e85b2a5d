"""The end of a successful run: learnings written, plans and backlog marked done, session cleaned up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from .. import events as ev
from .. import safefile
from ..plan import load_backlog
from ..store import atomic_write
from .base import OrchestratorBase


class Finalize(OrchestratorBase):
    async def _finalize(self) -> None:
        self._take_requests()  # Checkpointing: requests are saved before the end
        self.emit(ev.StatusChanged, status="finalizing")
        learning = self._capture_learnings()
        self.emit(
            ev.LearningCaptured,
            path=str(learning.relative_to(self.workspace.root)),
            summary=f"{len(self.state.failures)} failure(s) recorded",
        )
        self._update_backlog()
        if self.sessions_dir.exists():
            shutil.rmtree(self.sessions_dir, ignore_errors=True)
        self.emit(ev.AgentLog, agent="orchestrator", message="session cleaned up")
        done = sum(1 for a in self.state.agent_states if a.status == "completed")
        skipped = sum(1 for a in self.state.agent_states for _ in a.steps_skipped)
        summary = f"{done} agent run(s) completed, {len(self.state.failures)} failure(s) recovered"
        if skipped:
            summary += f", {skipped} step(s) skipped"
        self.emit(ev.OrchestrationFinished, status="completed", summary=summary)

    def _capture_learnings(self) -> Path:
        state = self.state
        lines = [f"# {state.goal}", "", f"- orchestration: {state.id}", f"- workflow: {state.routing.workflow}"]
        if state.failures:
            lines += ["", "## What went wrong and what fixed it"]
            for failure in state.failures:
                lines.append(f"- {failure.agent} step {failure.step}: {failure.category} -> {failure.action or 'n/a'}: {failure.message}")
        answered = [d for d in state.decisions if d.answer is not None]
        if answered:
            lines += ["", "## Decisions"]
            lines += [f"- {d.kind}: {d.prompt} -> {d.answer} ({d.by})" for d in answered]
        path = self.workspace.learnings_dir / f"{state.id}.md"
        atomic_write(path, "\n".join(lines) + "\n", root=self.workspace.root)
        return path

    def _update_backlog(self) -> None:
        built = [a.task_id or a.output.get("task_id") for a in self.state.agent_states if a.role == "builder" and a.status == "completed"]
        task_ids = [str(task_id) for task_id in built if task_id]
        if not task_ids:
            return
        for task_id in task_ids:
            plan_path = self.workspace.task_dir(task_id) / "plan.json"
            if plan_path.exists():
                data = safefile.load_json(plan_path, safefile.PLAN, root=self.workspace.root)
                if not isinstance(data, dict):
                    continue
                data["status"] = "completed"
                atomic_write(plan_path, json.dumps(data, indent=2) + "\n", root=self.workspace.root)
        if not self.workspace.backlog_path.exists():
            return
        backlog = load_backlog(self.workspace.backlog_path, root=self.workspace.root)
        changed = [task_id for task_id in task_ids if backlog.set_status(task_id, "completed")]
        if changed:
            atomic_write(
                self.workspace.backlog_path, yaml.safe_dump(backlog.model_dump(mode="json"), sort_keys=False), root=self.workspace.root
            )
            for task_id in changed:
                self.emit(ev.BacklogUpdated, task_id=task_id, status="completed")
