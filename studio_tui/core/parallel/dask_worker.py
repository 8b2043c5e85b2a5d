"""What a Dask worker runs for one Builder task: clone at the base commit, run the agent, push the branch.

Imported by the worker processes by name, so it must stay importable without the orchestrator's state.
Its events go back through a Dask Queue; the orchestrator appends them to the log (its only writer).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from ..agents.base import AgentTask, Failure, PermissionOption
from ..config import AgentConfig, StudioConfig
from ..store import Workspace
from .worktrees import git


class QueueReporter:
    """A Reporter that sends each call to the orchestrator as a message on a Dask Queue."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def _put(self, **message: Any) -> None:
        self.queue.put(message)

    async def step(self, step: int, total: int, description: str, *, risky: bool = False) -> None:
        self._put(type="step", step=step, total=total, description=description, risky=risky)

    async def step_done(self, step: int) -> None:
        self._put(type="step_done", step=step)

    async def step_skipped(self, step: int) -> None:
        self._put(type="step_skipped", step=step)

    async def tokens(self, pool: str, tokens: int, *, estimated: bool = False) -> None:
        self._put(type="tokens", pool=pool, tokens=tokens, estimated=estimated)

    async def log(self, message: str, level: str = "info") -> None:
        self._put(type="log", message=message, level=level)

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        self._put(type="log", level="warning", message=f"permission asked on a Dask worker, refused (no person there): {title}")
        return None

    async def ask(self, question: str, *, default: str = "") -> str:
        self._put(
            type="log", level="warning", message=f"question asked on a Dask worker, answered with its default {default!r}: {question}"
        )
        return default

    async def retry_in_session(self, failure: Failure) -> bool:
        """No recovery policy on a worker: the failure goes back and the orchestrator's recovery decides."""
        return False

    async def session(self, session_id: str | None, **info: Any) -> None:
        """Not kept: a session on a worker's clone cannot be continued elsewhere."""


def run_builder_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Run on a worker: the task's result as plain data (ok, output or failure, the commit pushed)."""
    from distributed import Queue, get_worker

    worker = get_worker()
    queue = Queue(spec["queue"])
    queue.put({"type": "worker", "address": worker.address})
    scratch = Path(tempfile.mkdtemp(prefix="studio-task-"))
    try:
        return _build(spec, scratch, QueueReporter(queue))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        queue.put({"type": "end"})  # the last message, queued before the result reaches the orchestrator


def _build(spec: dict[str, Any], scratch: Path, reporter: QueueReporter) -> dict[str, Any]:
    clone = scratch / "repo"
    git(scratch, "clone", "-q", "--no-checkout", spec["source"], str(clone))
    git(clone, "checkout", "-q", "-b", spec["branch"], spec["base"])
    studio = scratch / "studio"
    studio.mkdir()
    for name, text in spec.get("files", {}).items():
        target = studio / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    plan_path = studio / spec["plan"] if spec.get("plan") else None
    agent_config = TypeAdapter(AgentConfig).validate_python(spec["agent"])
    config = StudioConfig(agents={"builder": agent_config, "planner": agent_config, "architect": agent_config})
    from ..agents import agent_factory

    agent = agent_factory(Workspace(studio), config, speed=spec.get("speed", 1.0))("builder")
    task = AgentTask(
        key=spec["key"],
        role="builder",
        mode=spec["mode"],
        goal=spec["goal"],
        project_root=clone,
        workspace_root=studio,
        task_id=spec["task_id"],
        context=spec["context"],
        attempt=spec["attempt"],
        skip_steps=frozenset(spec["skip_steps"]),
        plan_path=plan_path,
        step_failures={int(k): v for k, v in spec["step_failures"].items()},
    )
    outcome = asyncio.run(agent.run(task, reporter))
    if not outcome.ok:
        failure = outcome.failure
        assert failure is not None
        return {
            "ok": False,
            "failure": {
                "category": failure.category,
                "message": failure.message,
                "step": failure.step,
                "details": failure.details,
                "critical_step": failure.critical_step,
            },
        }
    git(clone, "add", "-A")
    commit = None
    if git(clone, "diff", "--cached", "--quiet", check=False).returncode != 0:
        git(clone, "commit", "-q", "--no-verify", "-m", spec["message"])
        commit = git(clone, "rev-parse", "HEAD").stdout.strip()
        git(clone, "push", "-q", "--force", "origin", f"HEAD:refs/heads/{spec['branch']}")
    return {"ok": True, "output": outcome.output, "commit": commit}
