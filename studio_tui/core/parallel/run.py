"""The parallel part of multi_task / decompose_first: Builder tasks in worktrees (or on Dask), merged in order.

The orchestrator stays the only writer of the log: builds run as asyncio tasks in its own loop and
report through its reporter, so every event is emitted by it and names its agent (`builder:T2`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..agents.base import Agent, AgentTask, Outcome, Reporter
from ..decider import ESCALATION_OPTIONS
from ..plan import load_backlog
from .scheduler import Scheduler, TaskSpec
from .worktrees import Worktrees, require_repo

if TYPE_CHECKING:
    from ..orchestrator import Orchestrator
    from .dask_engine import DaskEngine

DONE = ("completed", "skipped")


class TaskAgent:
    """The Builder role in a parallel run: each task's agent runs with its worktree as the project root.

    One inner agent per task (agents are not shared between concurrent runs); an engine other than
    local (Dask) runs it on a worker instead.
    """

    def __init__(self, make: Callable[[], Agent], roots: dict[str, Path], engine: DaskEngine | None = None) -> None:
        self._make = make
        self._inner: dict[str, Agent] = {}
        self.roots = roots
        self.engine = engine
        self.resumes_steps = getattr(make(), "resumes_steps", True) if engine is None else engine.resumes_steps

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        if self.engine is not None:
            return await self.engine.run(task, reporter)
        root = self.roots.get(task.key)
        if root is not None:
            task = dataclasses.replace(task, project_root=root)
        if task.key not in self._inner:
            self._inner[task.key] = self._make()
        return await self._inner[task.key].run(task, reporter)


def task_of(entry: Any) -> str | None:
    """The backlog task a sequence slot works on (`planner:T2`, `builder:T2`), or None (the architect)."""
    task_id: str | None = getattr(entry, "task_id", None)
    if task_id:
        return task_id
    _, _, suffix = entry.key.partition(":")
    return suffix or None


class ParallelBuilders:
    """Runs the task slots of the routed sequence N at a time; implements the scheduler's TaskRunner."""

    def __init__(self, orch: Orchestrator) -> None:
        self.orch = orch
        self.execution = orch.config.execution
        self.repo = require_repo(orch.workspace.project_root)
        folder = orch.workspace.root / "worktrees"
        folder.mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# studio-tui's task worktrees: never part of the project\n*\n")
        self.worktrees = Worktrees(self.repo, orch.state.id, folder / orch.state.id)
        self.roots: dict[str, Path] = {}
        self.groups: dict[str, list[str]] = {}
        self.engine: DaskEngine | None = None
        self.scheduler: Scheduler | None = None
        self._git_lock = asyncio.Lock()
        self.unchanged: set[str] = set()
        """Tasks whose Builder changed no file: nothing to merge."""

    async def _git(self, call: Callable[..., Any], *args: Any) -> Any:
        """A git operation on the repository, one at a time, in a thread: agents keep reporting meanwhile."""
        async with self._git_lock:
            return await asyncio.to_thread(call, *args)

    # ── the run ──────────────────────────────────────────────────────────

    async def run(self) -> None:
        orch = self.orch
        while True:
            # Slots of no task (the Architect) run first, one at a time; they may add task slots.
            pending = [e for e in orch.state.routing.agent_sequence if e.status not in DONE]
            lead = next((e for e in pending if task_of(e) is None), None)
            if lead is None:
                break
            await self._run_entry(lead.key)
        self.groups = {}
        for entry in orch.state.routing.agent_sequence:
            task_id = task_of(entry)
            if task_id is not None:
                self.groups.setdefault(task_id, []).append(entry.key)
        if not self.groups:
            return
        backlog = {t.id: t for t in load_backlog(orch.workspace.backlog_path).tasks()}
        specs = [TaskSpec(t, tuple(backlog[t].depends_on) if t in backlog else ()) for t in self.groups]
        satisfied = {t for t, task in backlog.items() if task.status == "completed"}
        merged, built, dropped = self._resumed_progress()
        self.engine = await self._start_engine()
        orch._agents["builder"] = TaskAgent(lambda: orch.agent_factory("builder"), self.roots, self.engine)
        where = " in git worktrees" if self.engine is None else f" on Dask ({await self.engine.describe()})"
        limit = self.execution.parallel if self.engine is None else max(self.execution.parallel, self.engine.slots)
        self.scheduler = Scheduler(specs, self, limit=limit, merged=merged, satisfied=satisfied)
        for task_id in built:
            self.scheduler.status[task_id] = "built"
        for task_id in dropped:
            self.scheduler.status[task_id] = "dropped"
        orch.emit(
            ev.AgentLog,
            agent="orchestrator",
            message=f"{len(specs) - len(merged)} task(s), up to {limit} at a time"
            + where
            + (f"; already merged: {', '.join(sorted(merged))}" if merged else ""),
        )
        try:
            await self.scheduler.run()
        finally:
            if self.engine is not None:
                await self.engine.close()

    async def _start_engine(self) -> DaskEngine | None:
        if self.execution.engine != "dask":
            return None
        from .dask_engine import DaskEngine

        engine = await DaskEngine.start(self.orch, self.execution, self.worktrees, self.repo)
        engine.run_git = self._git
        return engine

    def _resumed_progress(self) -> tuple[set[str], set[str], set[str]]:
        """After a resume: tasks merged (the log says so), built but not merged yet, and dropped."""
        merged: set[str] = set()
        built: set[str] = set()
        dropped: set[str] = set()
        for task_id, keys in self.groups.items():
            builder = self._builder_state(task_id, keys)
            if builder is None:
                continue
            if builder.merged_commit:
                merged.add(task_id)
            elif builder.status == "skipped":
                dropped.add(task_id)
            elif builder.status == "completed":
                built.add(task_id)  # merge() finds out from git whether it was merged just before a crash
        return merged, built, dropped

    async def _run_entry(self, key: str) -> None:
        """One slot as the sequential workflow runs it: after a resume, first what its last run left undone."""
        orch = self.orch
        unsettled: set[str] = getattr(orch, "_unsettled", set())
        entry = orch.state.agent(key)
        if key in unsettled:
            unsettled.discard(key)
            if entry is not None and entry.status == "completed":
                await orch._settle(key)
        if entry is not None and entry.status in DONE:
            return
        failure = getattr(orch, "_pending_replans", {}).pop(key, None)
        if failure is not None:
            await orch._replan(key, failure)
        await orch._run_slot(key)

    def _builder_state(self, task_id: str, keys: list[str]) -> Any:
        builder_keys = [k for k in keys if k.startswith("builder")]
        return self.orch.state.agent(builder_keys[-1]) if builder_keys else None

    # ── TaskRunner ───────────────────────────────────────────────────────

    async def build(self, task_id: str) -> bool:
        orch = self.orch
        keys = self.groups[task_id]
        if self.engine is None:
            base = await self._git(self.worktrees.head)
            path = await self._git(self.worktrees.create, task_id, base)
            for key in keys:
                self.roots[key] = path
            builder_key = next((k for k in keys if k.startswith("builder")), keys[-1])
            orch.emit(
                ev.TaskWorktree,
                agent=builder_key,
                task_id=task_id,
                branch=self.worktrees.branch(task_id),
                path=_relative(path, orch.workspace.project_root),
                base=base,
            )
        for key in keys:
            await self._run_entry(key)
        builder = self._builder_state(task_id, keys)
        if builder is None or builder.status != "completed":
            return False
        if self.engine is None:
            title = orch._goal_for(builder) if builder.task_id else (builder.title or task_id)
            message = f"{task_id}: {title}\n\nBuilt by studio-tui ({orch.state.id}, {builder.agent})."
            if await self._git(self.worktrees.commit_all, task_id, message) is None:
                self.unchanged.add(task_id)
        return True

    async def merge(self, task_id: str) -> bool:
        orch = self.orch
        keys = self.groups[task_id]
        builder_key = next((k for k in keys if k.startswith("builder")), keys[-1])
        retries = 0
        while True:
            if task_id in self.unchanged or not await self._git(self.worktrees.branch_exists, task_id):
                # Nothing was pushed or committed for it (a Builder that changed nothing on a worker).
                result_how, commit = "nothing to merge", await self._git(self.worktrees.head)
                break
            result = await self._git(self.worktrees.merge, task_id, self.execution.merge, f"Merge {task_id} ({orch.state.id})")
            if result.merged:
                result_how, commit = result.how, result.commit
                break
            options = tuple(o for o in ESCALATION_OPTIONS if o != "retry" or retries < orch.config.recovery.max_retries)
            files = ", ".join(result.conflicts)
            answer = await orch._ask(
                "escalation",
                f"Merging {task_id} conflicts with work merged before it ({files}).",
                agent=builder_key,
                options=options,
                details={
                    "last_error": f"merge conflict in {files}",
                    "agent": builder_key,
                    "step": None,
                    "category": "blocker",
                    "conflicts": list(result.conflicts),
                    "branch": self.worktrees.branch(task_id),
                    "worktree": _relative(self.worktrees.path(task_id), orch.workspace.project_root),
                    "reason": "retry rebases the task branch onto the merged work again (resolve it on the branch first); "
                    "skip drops the task; abort stops the run",
                },
            )
            if answer == "retry":
                retries += 1
                continue
            if answer == "skip":
                orch.emit(
                    ev.AgentStatus, agent=builder_key, status="skipped", reason=f"merge conflict in {files}: dropped by {orch._answered_by}"
                )
                return False
            from ..orchestrator import RunStopped

            orch.emit(ev.AgentStatus, agent=builder_key, status="failed", reason=f"aborted by {orch._answered_by} at a merge conflict")
            raise RunStopped("aborted", f"aborted by {orch._answered_by}: merging {task_id} conflicts in {files}")
        orch.emit(ev.TaskMerged, agent=builder_key, task_id=task_id, branch=self.worktrees.branch(task_id), how=result_how, commit=commit)
        orch.checkpoint(f"{task_id}_merged", after_agent=builder_key, reason="task_merged")
        await self._git(self.worktrees.remove, task_id)
        return True

    def dropped(self, task_id: str, reason: str) -> None:
        for key in self.groups[task_id]:
            entry = self.orch.state.agent(key)
            if entry is None or entry.status not in DONE:
                self.orch.emit(ev.AgentStatus, agent=key, status="skipped", reason=reason)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
