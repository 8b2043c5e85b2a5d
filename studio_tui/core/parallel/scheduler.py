"""Runs independent tasks up to N at a time, honouring `depends_on`, and merges them back in task order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ..errors import InputError

TaskStatus = Literal["waiting", "running", "built", "merged", "dropped"]


@dataclass(frozen=True)
class TaskSpec:
    id: str
    depends_on: tuple[str, ...] = ()


class TaskRunner(Protocol):
    """What the scheduler drives; the orchestrator implements it (events, worktrees, escalations)."""

    async def build(self, task_id: str) -> bool:
        """Run the task's agents in its worktree: True when built (to be merged), False when dropped."""
        ...

    async def merge(self, task_id: str) -> bool:
        """Merge the built task back: True when merged, False when dropped (a conflict the person skipped)."""
        ...

    def dropped(self, task_id: str, reason: str) -> None:
        """The task will not run: a task it depends on was dropped."""
        ...


def merge_order(tasks: Iterable[TaskSpec], satisfied: Iterable[str] = ()) -> list[TaskSpec]:
    """The tasks in the order they merge: their own order, except that a task comes after what it depends on.

    `satisfied` are ids done before this run (completed backlog tasks): depending on them is fine.
    Raises InputError on a dependency that is neither in the run nor satisfied, and on a cycle.
    """
    tasks = list(tasks)
    by_id = {t.id: t for t in tasks}
    done = set(satisfied)
    for task in tasks:
        for dep in task.depends_on:
            if dep not in by_id and dep not in done:
                raise InputError(f"task {task.id} depends on {dep}, which is neither in this run nor completed")
    ordered: list[TaskSpec] = []
    placed: set[str] = set()
    remaining = list(tasks)
    while remaining:
        for task in remaining:
            if all(dep in placed or dep not in by_id for dep in task.depends_on):
                ordered.append(task)
                placed.add(task.id)
                remaining.remove(task)
                break
        else:
            cycle = ", ".join(t.id for t in remaining)
            raise InputError(f"backlog tasks depend on each other in a cycle: {cycle}")
    return ordered


class Scheduler:
    """Up to `limit` builds at once; a task starts when every task it depends on is merged."""

    def __init__(
        self, tasks: Iterable[TaskSpec], runner: TaskRunner, *, limit: int, merged: Iterable[str] = (), satisfied: Iterable[str] = ()
    ) -> None:
        if limit < 1:
            raise InputError(f"--parallel must be 1 or more, got {limit}")
        self.order = merge_order(tasks, satisfied)
        self.runner = runner
        self.limit = limit
        self.status: dict[str, TaskStatus] = {t.id: "waiting" for t in self.order}
        for task_id in merged:
            if task_id in self.status:
                self.status[task_id] = "merged"
        self._in_run = set(self.status)
        self._running: dict[str, asyncio.Task[bool]] = {}
        self.started: list[str] = []
        """Task ids in the order their builds started (for tests and the bench)."""

    async def run(self) -> None:
        """Until every task is merged or dropped; an exception in a build (abort) stops the others and is raised."""
        try:
            while True:
                self._start_ready()  # a free slot is filled before merging, so a merge never idles a slot
                await self._merge_ready()
                self._drop_orphans()
                self._start_ready()
                if not self._running:
                    if all(s in ("merged", "dropped") for s in self.status.values()):
                        return
                    if not any(s == "built" for s in self.status.values()):
                        raise RuntimeError(f"parallel scheduler stuck: {self.status}")  # a bug, never a person's input
                    continue
                done, _ = await asyncio.wait(self._running.values(), return_when=asyncio.FIRST_COMPLETED)
                for task_id, job in list(self._running.items()):
                    if job in done:
                        del self._running[task_id]
                        self.status[task_id] = "built" if job.result() else "dropped"
        finally:
            await self._stop_running()

    def _deps(self, task: TaskSpec) -> list[str]:
        return [d for d in task.depends_on if d in self._in_run]

    def _start_ready(self) -> None:
        for task in self.order:
            if len(self._running) >= self.limit:
                return
            if self.status[task.id] != "waiting":
                continue
            if all(self.status[d] == "merged" for d in self._deps(task)):
                self.status[task.id] = "running"
                self.started.append(task.id)
                self._running[task.id] = asyncio.ensure_future(self.runner.build(task.id))

    def _drop_orphans(self) -> None:
        changed = True
        while changed:
            changed = False
            for task in self.order:
                if self.status[task.id] != "waiting":
                    continue
                gone = [d for d in self._deps(task) if self.status[d] == "dropped"]
                if gone:
                    self.status[task.id] = "dropped"
                    self.runner.dropped(task.id, f"it depends on {', '.join(gone)}, which did not make it")
                    changed = True

    async def _merge_ready(self) -> None:
        """Merge built tasks in order: each waits for every task before it to be merged or dropped."""
        for task in self.order:
            status = self.status[task.id]
            if status in ("merged", "dropped"):
                continue
            if status != "built":
                return
            self.status[task.id] = "merged" if await self.runner.merge(task.id) else "dropped"

    async def _stop_running(self) -> None:
        jobs = list(self._running.values())
        for job in jobs:
            job.cancel()
        if jobs:
            await asyncio.gather(*jobs, return_exceptions=True)
        self._running.clear()
