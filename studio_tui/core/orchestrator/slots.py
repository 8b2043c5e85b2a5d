"""Agent slots: build each agent's task (mode, plan, context), run it, and record its success."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import events as ev
from ..agents.base import Agent, AgentTask, Failure, Outcome
from ..errors import InputError
from ..plan import Plan, load_backlog, load_plan
from ..recovery import RecoveryTracker
from ..state import AgentState
from .base import OrchestratorBase
from .reporter import SlotReporter

if TYPE_CHECKING:
    from .engine import Orchestrator


@dataclass
class _Slot:
    """Run-time bookkeeping for one agent slot (not state: rebuilt from state on resume)."""

    tracker: RecoveryTracker
    skip_steps: set[int] = field(default_factory=set)


class Slots(OrchestratorBase):
    def _agent_for(self, role: str) -> Agent:
        if role not in self._agents:
            self._agents[role] = self.agent_factory(role)
        return self._agents[role]

    def _slot(self, key: str) -> _Slot:
        if key not in self._slots:
            agent = self.state.agent(key)
            tracker = RecoveryTracker(self.config.recovery)
            if agent is not None:
                tracker.restore(agent.retries, agent.replans, [f for f in self.state.failures if f.agent == key])
            slot = _Slot(tracker=tracker)
            if agent is not None:
                slot.skip_steps = set(agent.steps_skipped)
            self._slots[key] = slot
        return self._slots[key]

    def _handoff_to(self, key: str) -> dict[str, Any]:
        for handoff in reversed(self.state.handoffs):
            if handoff.to_agent == key:
                return dict(handoff.context)
        return {}

    def _plan_path_for(self, key: str, task_id: str | None) -> Path | None:
        context = self._handoff_to(key)
        task = context.get("task_id") or task_id
        if task:
            path = self.workspace.task_dir(task) / "plan.json"
            if path.exists():
                return path
        return None

    def _step_failures(self, key: str) -> dict[int, int]:
        counts: dict[int, int] = {}
        for failure in self.state.failures:
            if failure.agent == key and failure.step is not None:
                counts[failure.step] = counts.get(failure.step, 0) + 1
        return counts

    def _task(self, key: str, *, mode: str) -> AgentTask:
        agent = self.state.agent(key)
        assert agent is not None
        slot = self._slot(key)
        plan_path = self._plan_path_for(key, agent.task_id) if agent.role == "builder" else None
        context = self._handoff_to(key)
        return AgentTask(
            key=key,
            role=agent.role,
            mode=mode,  # type: ignore[arg-type]
            goal=self._goal_for(agent),
            project_root=self.workspace.project_root,
            workspace_root=self.workspace.root,
            task_id=agent.task_id or context.get("task_id") or self._replanned_task(key, mode),
            context=context,
            attempt=agent.attempts + 1,
            completed_steps=frozenset(agent.steps_completed),
            gates_passed=frozenset(agent.gates_passed),
            skip_steps=frozenset(slot.skip_steps),
            plan_path=plan_path,
            step_failures=self._step_failures(key),
            **self._retry_context(key, agent, mode),
        )

    def _replanned_task(self, key: str, mode: str) -> str | None:
        """A replanning planner rewrites the plan of the builder that handed back to it."""
        if mode != "replan":
            return None
        for handoff in reversed(self.state.handoffs):
            if handoff.to_agent == key:
                builder = self.state.agent(handoff.from_agent)
                return (builder.task_id if builder else None) or self._handoff_to(handoff.from_agent).get("task_id")
        return None

    def _retry_context(self, key: str, agent: AgentState, mode: str) -> dict[str, Any]:
        """What a new attempt knows of the earlier ones: the failure that led to it (its own on a retry,
        the builder's on a replan), its own session to continue, and the person's answers so far."""
        own = [f for f in self.state.failures if f.agent == key]
        last = own[-1] if own and agent.attempts else (self.state.failures[-1] if mode == "replan" and self.state.failures else None)
        failure = None
        if last is not None:
            failure = Failure(category=last.category, message=last.message, step=last.step, details=last.details)  # type: ignore[arg-type]
        answers = tuple(
            (d.prompt, d.answer or "") for d in self.state.decisions if d.kind == "question" and d.agent == key and d.answer is not None
        )
        return {"failure": failure, "session_id": agent.session_id, "answers": answers}

    def _goal_for(self, agent: AgentState) -> str:
        if agent.title:
            return agent.title
        if agent.task_id:
            for task in load_backlog(self.workspace.backlog_path).tasks():
                if task.id == agent.task_id:
                    return task.title
        return self.state.goal

    async def _run_slot(self, key: str, *, mode: str | None = None) -> None:
        """Run one agent slot until it succeeds, is skipped, or the run stops."""
        agent_state = self.state.agent(key)
        assert agent_state is not None
        role = agent_state.role
        # A resumed agent works in the mode it was last started in (an interrupted replan stays a replan).
        mode = mode or agent_state.mode or {"planner": "plan", "architect": "decompose"}.get(role, "build")
        self._slot(key)
        while True:
            task = self._task(key, mode=mode)
            self.emit(
                ev.AgentStarted,
                agent=key,
                role=role,
                attempt=task.attempt,
                task_id=task.task_id,
                total_steps=self._total_steps(task),
                input=task.context,
                restart_steps=role != "builder" or not getattr(self._agent_for(role), "resumes_steps", True),
                mode=mode,
            )
            if role == "planner":
                self.emit(ev.StatusChanged, status="planning")
            elif role == "builder":
                self.emit(ev.StatusChanged, status="executing")
            outcome = await self._agent_for(role).run(
                task, SlotReporter(cast("Orchestrator", self), key)
            )  # self is always the whole Orchestrator
            if outcome.ok:
                await self._succeeded(key, role, mode, outcome)
                return
            if await self._recover(key, role, outcome):
                continue
            return

    def _total_steps(self, task: AgentTask) -> int:
        if task.plan_path is not None:
            try:
                return len(load_plan(task.plan_path).steps)
            except InputError:
                return 0
        return 0

    async def _succeeded(self, key: str, role: str, mode: str, outcome: Outcome) -> None:
        self._slot(key)
        output = dict(outcome.output)
        if role == "planner":
            plan = self._validated_plan(output)
            output.setdefault("plan_id", plan.id)
            output.setdefault("task_id", plan.task_id)
        self.emit(ev.AgentCompleted, agent=key, output=output)
        held = self.state.agent(key).tokens.get("working", 0)  # type: ignore[union-attr]
        if held:
            self.emit(ev.BudgetReleased, pool="working", tokens=held, agent=key, reason=f"{key} finished: its working context is freed")
        await self._settle(key)

    async def _settle(self, key: str) -> None:
        """What follows a completion: the handoff or new slots, then the checkpoint.

        Idempotent (a handoff or slots already recorded are not recorded again), so a resume that finds
        an agent completed without its checkpoint finishes this part and nothing else.
        """
        agent = self.state.agent(key)
        assert agent is not None
        # What the agent hands on is recorded before the checkpoint, so resuming from it loses nothing.
        if agent.role == "planner":
            await self._after_plan(key, self._validated_plan(dict(agent.output)), agent.mode or "plan")
        elif agent.role == "architect":
            self._after_decompose(dict(agent.output))
        what = "replan_complete" if agent.mode == "replan" else "complete"
        self.checkpoint(f"{key.replace(':', '_')}_{what}", after_agent=key, reason="agent_completed")

    def _validated_plan(self, output: dict[str, Any]) -> Plan:
        path = output.get("plan_path")
        if not path and output.get("task_id"):
            path = self.workspace.task_dir(str(output["task_id"])) / "plan.json"
        if not path:
            raise InputError("the planner finished without a plan (no plan_path or task_id in its result)")
        return load_plan(Path(path))
