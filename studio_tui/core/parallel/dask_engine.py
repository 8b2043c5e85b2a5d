"""Builder tasks on a Dask cluster: submit each to a worker, relay its reports, map a lost worker to transient.

Needs the `dask` extra (dask[distributed]); imported only when `execution.engine` is dask.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..agents.base import AgentTask, Outcome, Reporter
from ..config import ExecutionConfig, ScriptedAgentConfig
from ..errors import InputError
from .worktrees import Worktrees, git

if TYPE_CHECKING:
    from ..orchestrator import Orchestrator

CONNECT_TIMEOUT_S = 30
"""Seconds to reach a Dask scheduler given by --address before the run is refused."""


class DaskEngine:
    """One Dask client for the run; `run` executes one Builder attempt on a worker."""

    resumes_steps = False
    """Each attempt starts from a fresh clone: the steps an earlier attempt did are not in it."""

    def __init__(self, orch: Orchestrator, execution: ExecutionConfig, worktrees: Worktrees, repo: Path, client: Any, cluster: Any) -> None:
        self.orch = orch
        self.execution = execution
        self.worktrees = worktrees
        self.repo = repo
        self.source = execution.repo_url or str(repo)
        self.remote = execution.repo_url is not None and Path(execution.repo_url).expanduser().resolve() != repo.resolve()
        """Workers clone from and push to another repository: the base goes there first, the branch comes back."""
        self.run_git: Any = _in_thread
        """How git runs here (ParallelBuilders gives its one-at-a-time lock)."""
        self.client = client
        self.cluster = cluster
        self.lost: set[str] = set()
        """Workers lost mid-task: a retry goes to another one."""
        self.slots = 1
        """Tasks the cluster runs at once (its worker threads), known after `describe`."""

    @classmethod
    async def start(cls, orch: Orchestrator, execution: ExecutionConfig, worktrees: Worktrees, repo: Path) -> DaskEngine:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError("--engine dask needs the dask extra: pip install 'studio-tui[dask]'") from None
        cluster = None
        # A worker lost mid-task fails the task at once (KilledWorker), so the orchestrator retries it as a
        # transient failure on another worker, with an event, instead of Dask re-running it silently.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if execution.address:
                try:
                    client = await asyncio.wait_for(Client(execution.address, asynchronous=True), CONNECT_TIMEOUT_S)
                except (TimeoutError, OSError) as exc:
                    raise InputError(f"cannot reach the Dask scheduler at {execution.address}: {exc}") from None
            else:
                cluster = await LocalCluster(
                    n_workers=execution.dask_workers,
                    threads_per_worker=1,
                    processes=True,
                    asynchronous=True,
                    dashboard_address=None,
                    worker_dashboard_address=None,
                )
                client = await Client(cluster, asynchronous=True)
        engine = cls(orch, execution, worktrees, repo, client, cluster)
        await client.wait_for_workers(1 if execution.address else execution.dask_workers)
        # Import the task code on every worker now, so no task's time includes the workers' imports.
        await client.run(_warm_up)
        return engine

    async def _workers(self) -> dict[str, Any]:
        identity = await self.client.scheduler.identity()
        return dict(identity.get("workers", {}))

    async def describe(self) -> str:
        workers = await self._workers()
        self.slots = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
        where = self.execution.address or "a LocalCluster"
        return f"{len(workers)} worker(s) at {where}"

    async def close(self) -> None:
        await self.client.close()
        if self.cluster is not None:
            await self.cluster.close()

    # ── one attempt ──────────────────────────────────────────────────────

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        from distributed import Queue

        orch = self.orch
        assert task.task_id is not None
        queue_name = f"studio-{orch.state.id}-{task.task_id}-{task.attempt}-{secrets.token_hex(4)}"
        queue = await Queue(queue_name, client=self.client)
        base = await self.run_git(self.worktrees.head)
        if self.remote:
            # The workers clone the hub: it needs this base commit (the merged work) on a branch.
            await self.run_git(git, self.repo, "push", "-q", "--force", self.source, f"{base}:refs/heads/studio/{orch.state.id}/_base")
        spec = self._spec(task, queue_name, base)
        workers = [w for w in await self._workers() if w not in self.lost]
        future = self.client.submit(
            _run_on_worker,
            spec,
            key=queue_name,
            pure=False,
            retries=0,
            **({"workers": workers, "allow_other_workers": False} if workers else {}),
        )
        worker = ""
        settled = asyncio.ensure_future(_settled(future))
        next_message = asyncio.ensure_future(queue.get())
        try:
            while True:
                done, _ = await asyncio.wait({next_message, settled}, return_when=asyncio.FIRST_COMPLETED)
                if next_message in done:
                    message = next_message.result()
                    if message.get("type") == "end":
                        break
                    worker = await self._relay(message, task, reporter, worker)
                    next_message = asyncio.ensure_future(queue.get())
                elif settled.result() is not None:
                    break  # the task failed without its end message: the worker is gone
                # else: it returned; its end message is queued before its result, so keep reading
            result = await future
        except asyncio.CancelledError:
            await future.cancel()
            raise
        except Exception as exc:
            from distributed.scheduler import KilledWorker

            if isinstance(exc, (KilledWorker, OSError)):  # the worker died, or its connection did, mid-task
                if worker:
                    self.lost.add(worker)
                return Outcome.failed(
                    "transient", f"Dask worker {worker or '(unknown)'} was lost mid-task", details=f"{type(exc).__name__}: {exc}"[:2000]
                )
            # The task itself raised on the worker (a clone or push that failed): a person must look.
            return Outcome.failed(
                "blocker",
                f"the task failed on Dask worker {worker or '(unknown)'}: {type(exc).__name__}: {exc}"[:500],
                details=str(exc)[:2000],
            )
        finally:
            next_message.cancel()
            settled.cancel()
        if not result["ok"]:
            failure = result["failure"]
            return Outcome.failed(
                failure["category"],
                failure["message"],
                step=failure["step"],
                details=failure["details"],
                critical_step=failure["critical_step"],
            )
        if self.remote and result.get("commit"):
            branch = self.worktrees.branch(task.task_id)
            await self.run_git(git, self.repo, "fetch", "-q", self.source, f"+refs/heads/{branch}:refs/heads/{branch}")
        output = dict(result["output"])
        output.setdefault("worker", worker)
        return Outcome(output=output)

    async def _relay(self, message: dict[str, Any], task: AgentTask, reporter: Reporter, worker: str) -> str:
        kind = message.get("type")
        if kind == "worker":
            address = str(message.get("address", ""))
            if worker and address != worker:
                await reporter.log(f"Dask moved the task from {worker} to {address}", "warning")
            self.orch.emit(
                ev.TaskDispatched, agent=task.key, task_id=task.task_id or "", engine="dask", worker=address, attempt=task.attempt
            )
            return address
        if kind == "step":
            await reporter.step(message["step"], message["total"], message.get("description", ""), risky=message.get("risky", False))
        elif kind == "step_done":
            await reporter.step_done(message["step"])
        elif kind == "step_skipped":
            await reporter.step_skipped(message["step"])
        elif kind == "tokens":
            await reporter.tokens(message["pool"], message["tokens"], estimated=bool(message.get("estimated", False)))
        elif kind == "log":
            await reporter.log(str(message.get("message", "")), str(message.get("level", "info")))
        return worker

    def _spec(self, task: AgentTask, queue_name: str, base: str) -> dict[str, Any]:
        orch = self.orch
        agent_config = orch.config.agent("builder")
        files: dict[str, str] = {}
        if isinstance(agent_config, ScriptedAgentConfig):
            files[agent_config.scenario] = (orch.workspace.root / agent_config.scenario).read_text(encoding="utf-8")
        plan = None
        if task.plan_path is not None and task.plan_path.exists():
            plan = f"tasks/{task.task_id}/plan.json"
            files[plan] = task.plan_path.read_text(encoding="utf-8")
        agent = orch.state.agent(task.key)
        title = orch._goal_for(agent) if agent is not None else task.goal
        return {
            "queue": queue_name,
            "source": self.source,
            "base": base,
            "branch": self.worktrees.branch(task.task_id or ""),
            "agent": agent_config.model_dump(mode="json"),
            "files": files,
            "plan": plan,
            "key": task.key,
            "mode": task.mode,
            "goal": task.goal,
            "task_id": task.task_id,
            "context": task.context,
            "attempt": task.attempt,
            "skip_steps": sorted(task.skip_steps),
            "step_failures": {str(k): v for k, v in task.step_failures.items()},
            "message": f"{task.task_id}: {title}\n\nBuilt by studio-tui ({orch.state.id}, {task.key}) on a Dask worker.",
            "speed": getattr(orch, "speed", 1.0),
        }


async def _in_thread(call: Any, *args: Any) -> Any:
    return await asyncio.to_thread(call, *args)


async def _settled(future: Any) -> BaseException | None:
    """Wait for a Dask future; its exception, or None when it returned."""
    try:
        await future
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return exc
    return None


def _warm_up() -> bool:
    from ..agents import command, plan_builder  # noqa: F401
    from . import dask_worker  # noqa: F401

    return True


def _run_on_worker(spec: dict[str, Any]) -> dict[str, Any]:
    from .dask_worker import run_builder_task

    return run_builder_task(spec)
