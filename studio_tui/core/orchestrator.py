"""Runs a workflow: routes, runs agents, checkpoints, recovers, keeps budgets; every change is an event."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import budget as budget_mod
from . import events as ev
from .agents.base import Agent, AgentTask, Outcome, PermissionOption
from .config import StudioConfig
from .decider import (
    CONFIDENCE_OPTIONS,
    ESCALATION_OPTIONS,
    PERMISSION_CANCELLED,
    ROUTING_OPTIONS,
    Decider,
    DecisionRequest,
)
from .errors import InputError
from .plan import Backlog, Plan, load_backlog, load_plan
from .recovery import RecoveryTracker
from .reducer import apply, fold
from .routing import route
from .state import AgentState, OrchestrationState
from .store import CheckpointMeta, CheckpointRecord, EventLogWriter, Workspace, atomic_write, read_log

Subscriber = Callable[[ev.Event, OrchestrationState], None]
AgentFactory = Callable[[str], Agent]
"""role -> agent; the CLI builds one from config.yaml."""

STATE_WRITE_INTERVAL = 0.25
"""Seconds between non-essential state.yaml rewrites: a reader is never more than this behind, and a
flood of token events does not become a flood of fsyncs."""

_ESSENTIAL = (
    ev.OrchestrationStarted,
    ev.StatusChanged,
    ev.RoutingDecided,
    ev.SequenceExtended,
    ev.DecisionRequested,
    ev.DecisionAnswered,
    ev.AgentCompleted,
    ev.AgentFailed,
    ev.AgentStatus,
    ev.CheckpointSaved,
    ev.Resumed,
    ev.OrchestrationFinished,
)
"""Events after which state.yaml is rewritten at once and durably."""


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
    backlog = load_backlog(workspace.backlog_path)
    pending_plans: list[str] = []
    for plan_path in budget_mod.plan_files(workspace.tasks_dir):
        plan = load_plan(plan_path)
        if plan.status in ("pending", "in_progress"):
            pending_plans.append(plan.task_id)
    return backlog, pending_plans


@dataclass
class _Slot:
    """Run-time bookkeeping for one agent slot (not state: rebuilt from state on resume)."""

    tracker: RecoveryTracker
    skip_steps: set[int] = field(default_factory=set)


class Orchestrator:
    """One orchestration, driven in this process; holds its state and appends to its log."""

    def __init__(
        self,
        workspace: Workspace,
        config: StudioConfig,
        decider: Decider,
        agent_factory: AgentFactory,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.workspace = workspace
        self.config = config
        self.decider = decider
        self.agent_factory = agent_factory
        self.clock = clock
        self.sleep = sleep
        self.state = OrchestrationState()
        self.subscribers: list[Subscriber] = []
        self._log: EventLogWriter | None = None
        self._slots: dict[str, _Slot] = {}
        self._agents: dict[str, Agent] = {}
        self._last_state_write = 0.0
        self._optimized_for: frozenset[str] = frozenset()
        self._pruned_tasks: set[str] = set()
        self._unknown_pools: set[str] = set()
        self._orch_id = ""
        self._damaged_state: Path | None = None
        self._answered_by = "the person"
        self._last_checkpoint_epoch = 0

    # ── events ────────────────────────────────────────────────────────────

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def emit(self, cls: type[ev._Event], **fields: Any) -> ev.Event:
        """Append an event to the log, reduce it into the state, write state.yaml, tell subscribers."""
        event = cls(seq=self.state.seq + 1, ts=round(self.clock(), 3), orch_id=self._orch_id, **fields)
        assert self._log is not None, "emit before the log is open"
        try:
            line = ev.encode(event)
        except (ValueError, RecursionError):
            # Text an agent sent that JSON cannot carry (lone surrogates, absurd nesting): keep a safe copy.
            event = type(event).model_validate(ev.make_encodable(event.model_dump(mode="python", by_alias=True)))
            line = ev.encode(event)
        self._log.append_line(line)
        apply(self.state, event)
        essential = isinstance(event, _ESSENTIAL)
        now = time.monotonic()
        if essential or now - self._last_state_write >= STATE_WRITE_INTERVAL:
            if isinstance(event, (ev.CheckpointSaved, ev.DecisionRequested, ev.OrchestrationFinished)):
                self._log.sync()
            self.workspace.write_state(self.state, durable=essential)
            self._last_state_write = now
        for subscriber in list(self.subscribers):
            subscriber(event, self.state)
        return event

    def _open(self, orch_id: str) -> None:
        self._orch_id = orch_id
        self._damaged_state = self.workspace.set_aside_damaged_state(orch_id)
        self._log = EventLogWriter(self.workspace.events_path(orch_id))

    def close(self) -> None:
        """Flush the final state.yaml and close the log."""
        if self._log is None:
            return
        if self.state.id:
            self.workspace.write_state(self.state)
        self._log.close()
        self._log = None

    # ── entry points ─────────────────────────────────────────────────────

    async def build(self, goal: str, *, mode: str = "implicit") -> OrchestrationState:
        """Start a new orchestration for `goal` and run it to the end."""
        if not goal.strip():
            raise InputError("the goal is empty: say what to build, e.g. studio-tui build \"Fix login typo\"")
        preflight(self.workspace)
        orch_id = new_orch_id(self.clock())
        self.workspace.orch_dir(orch_id).mkdir(parents=True, exist_ok=False)
        self._open(orch_id)
        self.emit(ev.OrchestrationStarted, goal=goal, mode=mode, workspace=str(self.workspace.root))
        return await self._guarded(self._fresh_run)

    async def resume(self, record: CheckpointRecord) -> OrchestrationState:
        """Continue an orchestration from a checkpoint, appending to the same log."""
        preflight(self.workspace)
        self.state = OrchestrationState(id=record.meta.orch_id, seq=self._last_seq(record.meta.orch_id))
        self._open(record.meta.orch_id)
        self.emit(ev.Resumed, checkpoint_id=record.meta.id, snapshot=record.state.to_dict())
        if self._damaged_state is not None:
            self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"state.yaml did not load; kept as {self._damaged_state.name} and rewritten from the log")
        for agent in self.state.agent_states:
            if agent.status in ("active", "waiting", "failed"):
                self.emit(ev.AgentStatus, agent=agent.agent, status="pending", reason=f"resumed from {record.meta.id}")
        return await self._guarded(self._continue_run)

    def attach(self, orch_id: str) -> OrchestrationState:
        """Take up an existing orchestration (state folded from its log) to append to it."""
        read = read_log(self.workspace.events_path(orch_id))
        if not read.events:
            raise InputError(f"{self.workspace.events_path(orch_id)}: no events to continue from")
        self.state = fold(read.events)
        self._open(orch_id)
        return self.state

    def record_handoff(self, from_key: str, to_key: str, context: dict[str, Any]) -> ev.HandoffRecorded:
        """A handoff given by hand (`studio-tui handoff FROM TO JSON`)."""
        return self._handoff(from_key, to_key, context)

    async def rerun_agent(self, orch_id: str, key: str) -> OrchestrationState:
        """Re-invoke one agent (same input, next attempt), then continue the run from there."""
        self.attach(orch_id)
        agent = self.state.agent(key)
        if agent is None:
            known = ", ".join(a.agent for a in self.state.agent_states) or "none routed yet"
            self.close()
            raise InputError(f"unknown agent {key!r} in {orch_id}; agents: {known}")
        self.emit(ev.AgentStatus, agent=key, status="pending", reason="re-invoked by agent-start")
        for later in self.state.agent_states[self.state.agent_states.index(agent) + 1 :]:
            if later.status in ("active", "waiting", "failed"):
                self.emit(ev.AgentStatus, agent=later.agent, status="pending", reason="re-invoked by agent-start")
        return await self._guarded(self._continue_run)

    def _last_seq(self, orch_id: str) -> int:
        path = self.workspace.events_path(orch_id)
        if not path.exists():
            return 0
        found = read_log(path).events
        return found[-1].seq if found else 0

    async def _guarded(self, body: Callable[[], Any]) -> OrchestrationState:
        """Run `body`; turn stops and interruptions into their final events, saving a checkpoint on Ctrl-C."""
        try:
            await body()
        except RunStopped as stop:
            self.emit(ev.OrchestrationFinished, status=stop.status, summary=stop.summary)
        except asyncio.CancelledError:
            self._interrupted()
            raise
        except InputError as exc:
            self.emit(ev.AgentLog, agent="orchestrator", level="error", message=str(exc))
            self.checkpoint("failed", reason="error")
            self.emit(ev.OrchestrationFinished, status="failed", summary=str(exc))
        except Exception as exc:  # a bug or an OS error: keep the work, say what happened
            self.emit(ev.AgentLog, agent="orchestrator", level="error", message=traceback.format_exc())
            self.checkpoint("crashed", reason="error")
            self.emit(ev.OrchestrationFinished, status="failed", summary=f"{type(exc).__name__}: {exc}")
        finally:
            self.close()
        return self.state

    def _interrupted(self) -> None:
        if self.state.finished:
            return
        self.checkpoint("interrupted", reason="interrupt")
        self.emit(ev.OrchestrationFinished, status="interrupted", summary="interrupted; resume from the last checkpoint")

    # ── the workflow ─────────────────────────────────────────────────────

    async def _fresh_run(self) -> None:
        self.emit(ev.StatusChanged, status="analyzing")
        decision = self._route()
        if self.state.mode == "explicit":
            answer = await self._ask(
                "routing",
                f"Route \"{self.state.goal}\" to {decision.workflow}?",
                options=ROUTING_OPTIONS,
                details={
                    "workflow": decision.workflow,
                    "complexity": decision.complexity,
                    "confidence": decision.confidence,
                    "agents": [s.agent for s in self.state.routing.agent_sequence],
                    "signals": list(decision.signals),
                },
            )
            if answer != "proceed":
                raise RunStopped("cancelled", "the person cancelled at routing")
        self.emit(ev.StatusChanged, status="allocating")
        pools = budget_mod.measure_workspace(self.workspace.root, self.config.budget)
        self.emit(ev.BudgetAllocated, pools=pools, warning=self.config.budget.warning, critical=self.config.budget.critical)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint("routed", reason="routed")
        await self._continue_run()

    @property
    def sessions_dir(self) -> Path:
        return self.workspace.sessions_dir / self.state.id

    def _route(self):
        ws = self.workspace
        backlog, pending_plans = preflight(ws)
        decision = route(
            self.state.goal,
            pending_plan_tasks=pending_plans,
            backlog_task_ids=[t.id for t in backlog.tasks()],
        )
        if decision.workflow == "plan_then_build":
            sequence = [ev.SlotSpec(key="planner", agent="planner"), ev.SlotSpec(key="builder", agent="builder")]
        elif decision.workflow == "build_only":
            task_id = decision.task_ids[0] if decision.task_ids else None
            sequence = [ev.SlotSpec(key="builder", agent="builder", task_id=task_id)]
        elif decision.workflow == "multi_task" and decision.items:
            sequence = [
                ev.SlotSpec(key=f"builder:{t}", agent="builder", task_id=t, title=item)
                for t, item in zip(decision.task_ids, decision.items)
            ]
        elif decision.workflow == "multi_task":
            task_ids = decision.task_ids or [t.id for t in backlog.pending()]
            if not task_ids:
                raise InputError(f"{ws.backlog_path}: multi_task needs pending tasks in the backlog, found none")
            sequence = [ev.SlotSpec(key=f"builder:{t}", agent="builder", task_id=t) for t in task_ids]
        else:
            sequence = [ev.SlotSpec(key="architect", agent="architect")]
        self.emit(
            ev.RoutingDecided,
            workflow=decision.workflow,
            complexity=decision.complexity,
            confidence=decision.confidence,
            signals=decision.signals,
            reason=decision.reason,
            sequence=sequence,
        )
        return decision

    async def run_backlog(self) -> OrchestrationState:
        """multi_task over every pending backlog task, in order."""
        backlog = load_backlog(self.workspace.backlog_path)
        pending = [t.id for t in backlog.pending()]
        if not pending:
            raise InputError(f"{self.workspace.backlog_path}: no pending tasks to run")
        goal = "Run backlog: " + ", ".join(pending)
        return await self.build(goal)

    async def _continue_run(self) -> None:
        self.emit(ev.StatusChanged, status="executing")
        if self.config.execution.distributed and self.state.routing.workflow in ("multi_task", "decompose_first"):
            from .parallel.run import ParallelBuilders

            await ParallelBuilders(self).run()
            await self._finalize()
            return
        index = 0
        while index < len(self.state.routing.agent_sequence):
            entry = self.state.routing.agent_sequence[index]
            index += 1
            if entry.status in ("completed", "skipped"):
                continue
            await self._run_slot(entry.key)
        await self._finalize()

    # ── agents ───────────────────────────────────────────────────────────

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
            task_id=agent.task_id or context.get("task_id"),
            context=context,
            attempt=agent.attempts + 1,
            completed_steps=frozenset(agent.steps_completed),
            skip_steps=frozenset(slot.skip_steps),
            plan_path=plan_path,
            step_failures=self._step_failures(key),
        )

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
        mode = mode or {"planner": "plan", "architect": "decompose"}.get(role, "build")
        slot = self._slot(key)
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
            )
            if role == "planner":
                self.emit(ev.StatusChanged, status="planning")
            elif role == "builder":
                self.emit(ev.StatusChanged, status="executing")
            outcome = await self._agent_for(role).run(task, _SlotReporter(self, key))
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
        slot = self._slot(key)
        output = dict(outcome.output)
        if role == "planner":
            plan = self._validated_plan(output)
            output.setdefault("plan_id", plan.id)
            output.setdefault("task_id", plan.task_id)
        self.emit(ev.AgentCompleted, agent=key, output=output)
        held = self.state.agent(key).tokens.get("working", 0)  # type: ignore[union-attr]
        if held:
            self.emit(ev.BudgetReleased, pool="working", tokens=held, agent=key, reason=f"{key} finished: its working context is freed")
        # What the agent hands on is recorded before the checkpoint, so resuming from it loses nothing.
        if role == "planner":
            await self._after_plan(key, plan, mode)
        elif role == "architect":
            self._after_decompose(output)
        self.checkpoint(f"{key.replace(':', '_')}_complete", after_agent=key, reason="agent_completed")

    def _validated_plan(self, output: dict[str, Any]) -> Plan:
        path = output.get("plan_path")
        if not path and output.get("task_id"):
            path = self.workspace.task_dir(str(output["task_id"])) / "plan.json"
        if not path:
            raise InputError("the planner finished without a plan (no plan_path or task_id in its result)")
        return load_plan(Path(path))

    async def _after_plan(self, key: str, plan: Plan, mode: str) -> None:
        threshold = self.config.planner.confidence_threshold
        if plan.confidence < threshold:
            answer = await self._ask(
                "confidence",
                f"The plan's confidence is {plan.confidence:.0%}, below {threshold:.0%}. Build it anyway?",
                agent=key,
                options=CONFIDENCE_OPTIONS,
                details={"plan_id": plan.id, "confidence": plan.confidence, "threshold": threshold, "summary": plan.summary_text()},
            )
            if answer != "proceed":
                raise RunStopped("aborted", f"plan {plan.id} rejected at confidence {plan.confidence:.0%}")
        else:
            self.emit(ev.AgentLog, agent="orchestrator", message=f"confidence {plan.confidence:.0%} ≥ {threshold:.0%}: proceed")
        builder_key = self._builder_after(key)
        context = {
            "task_id": plan.task_id,
            "plan_id": plan.id,
            "plan_summary": plan.summary_text(),
            "learnings_loaded": list(plan.learnings),
            "requirements_summary": dict(plan.requirements),
        }
        self._handoff(key, builder_key, context)

    def _builder_after(self, planner_key: str) -> str:
        suffix = planner_key.partition(":")[2]
        return f"builder:{suffix}" if suffix else "builder"

    def _after_decompose(self, output: dict[str, Any]) -> None:
        backlog = load_backlog(self.workspace.backlog_path)
        slots: list[ev.SlotSpec] = []
        for task in backlog.pending():
            slots.append(ev.SlotSpec(key=f"planner:{task.id}", agent="planner", task_id=task.id))
            slots.append(ev.SlotSpec(key=f"builder:{task.id}", agent="builder", task_id=task.id))
        if slots:
            self.emit(ev.SequenceExtended, sequence=slots)

    def _handoff(self, from_key: str, to_key: str, context: dict[str, Any]) -> ev.HandoffRecorded:
        tokens = budget_mod.estimate_tokens(len(json.dumps(context, sort_keys=True).encode()))
        return self.emit(ev.HandoffRecorded, **{"from": from_key, "to": to_key}, context=context, tokens=tokens)

    # ── recovery ─────────────────────────────────────────────────────────

    async def _recover(self, key: str, role: str, outcome: Outcome) -> bool:
        """Handle a failure; True to run the agent again, False when its slot is done (skipped)."""
        failure = outcome.failure
        assert failure is not None
        slot = self._slot(key)
        self.emit(ev.AgentFailed, agent=key, step=failure.step, category=failure.category, message=failure.message, details=failure.details)
        decision = slot.tracker.decide(failure.category, failure.message, failure.step, can_replan=role == "builder")
        self.emit(
            ev.RecoveryDecided,
            agent=key,
            step=failure.step,
            category=failure.category,
            action=decision.action,
            retries_used=slot.tracker.retries_used,
            replans_used=slot.tracker.replans_used,
            reason=decision.reason,
        )
        if decision.action == "retry":
            delay = self.config.recovery.backoff.delay(slot.tracker.retries_used)
            if delay > 0:
                await self.sleep(delay)
            return True
        if decision.action == "replan":
            await self._replan(key, failure)
            return True
        if decision.action == "halt":
            self.emit(ev.AgentStatus, agent=key, status="failed", reason="halted: critical failure")
            raise RunStopped("halted", f"critical failure in {key}: {failure.message}")
        return await self._escalate(key, failure, decision.reason)

    async def _replan(self, builder_key: str, failure: Any) -> None:
        agent = self.state.agent(builder_key)
        assert agent is not None
        suffix = builder_key.partition(":")[2]
        planner_key = f"planner:{suffix}" if suffix else "planner"
        context = {
            "failure_reason": f"Step {failure.step} failed: {failure.message}" if failure.step else failure.message,
            "completed_steps": sorted(agent.steps_completed),
            "failed_step": failure.step,
            "error_details": failure.details or failure.message,
            "suggestion": "Consider an alternative approach for the failed step",
        }
        self._handoff(builder_key, planner_key, context)
        if self.state.agent(planner_key) is None:
            slot = ev.SlotSpec(key=planner_key, agent="planner", task_id=agent.task_id)
            self.emit(ev.SequenceExtended, sequence=[slot], insert_before=builder_key)
        await self._run_slot(planner_key, mode="replan")

    async def _escalate(self, key: str, failure: Any, reason: str) -> bool:
        agent = self.state.agent(key)
        assert agent is not None
        slot = self._slot(key)
        options = tuple(o for o in ESCALATION_OPTIONS if o != "skip" or not failure.critical_step)
        retries, replans = slot.tracker.retries_used, slot.tracker.replans_used
        prompt = (
            f"Build failed after {retries} retr{'y' if retries == 1 else 'ies'} "
            f"and {replans} replan attempt{'' if replans == 1 else 's'}."
        )
        answer = await self._ask(
            "escalation",
            prompt,
            agent=key,
            options=options,
            details={
                "last_error": failure.message,
                "agent": key,
                "step": failure.step,
                "category": failure.category,
                "critical_step": failure.critical_step,
                "retries": retries,
                "replans": replans,
                "reason": reason,
            },
        )
        if answer == "retry":
            return True
        if answer == "skip":
            if failure.step is None:
                self.emit(ev.AgentStatus, agent=key, status="skipped", reason="skipped by the person after escalation")
                return False
            slot.skip_steps.add(failure.step)
            return True
        self.emit(ev.AgentStatus, agent=key, status="failed", reason=f"aborted by {self._answered_by}")
        raise RunStopped("aborted", f"aborted by {self._answered_by} at {key} step {failure.step}: {failure.message}")

    async def _ask(self, kind: str, prompt: str, *, agent: str | None = None, options: tuple[str, ...] = (), details: dict[str, Any] | None = None, default: str = "") -> str:
        decision_id = f"d{self.state.seq + 1}"
        details = details or {}
        self.emit(ev.DecisionRequested, decision_id=decision_id, kind=kind, agent=agent, prompt=prompt, details=details, options=list(options))
        request = DecisionRequest(id=decision_id, kind=kind, prompt=prompt, agent=agent, options=options, details=details, default=default)  # type: ignore[arg-type]
        try:
            answer = await self.decider.decide(request)
        except asyncio.CancelledError:
            # Withdrawn (abort, skip, Ctrl-C): close the question in the log so no state stays waiting.
            withdrawn = PERMISSION_CANCELLED if kind == "permission" else "withdrawn"
            self.emit(ev.DecisionAnswered, decision_id=decision_id, kind=kind, answer=withdrawn, by="policy")
            raise
        self._answered_by = "the person" if answer.by == "person" else "policy"
        value = answer.value
        if options and value not in options:
            value = options[-1]
        self.emit(ev.DecisionAnswered, decision_id=decision_id, kind=kind, answer=value, by=answer.by)
        return value

    # ── budget ───────────────────────────────────────────────────────────

    async def add_tokens(self, key: str, pool: str, tokens: int) -> None:
        if tokens == 0:
            return
        if pool not in self.state.budget.pools:
            if pool not in self._unknown_pools:
                self._unknown_pools.add(pool)
                known = ", ".join(self.state.budget.pools)
                self.emit(ev.AgentLog, agent=key, level="warning", message=f"tokens for unknown pool {pool!r} not counted; pools are: {known}")
            return
        self.emit(ev.TokensUsed, agent=key, pool=pool, tokens=tokens)
        self._relieve_pressure(key)

    def _critical_pools(self) -> frozenset[str]:
        budget = self.state.budget
        critical = {name for name, p in budget.pools.items() if budget.level(p.used, p.soft) == "CRITICAL"}
        if budget.total_level == "CRITICAL":
            critical.add("TOTAL")
        return frozenset(critical)

    def _relieve_pressure(self, key: str) -> None:
        """At CRITICAL (the total or a pool), run the seed's optimisation steps in order until it clears.

        A pass runs once per set of critical pools, so a pool no step can relieve (working) does not
        re-run the steps on every token event; a newly critical pool triggers a new pass.
        """
        critical = self._critical_pools()
        if not critical or critical <= self._optimized_for:
            self._optimized_for = critical
            return
        self._optimized_for = critical
        names = ", ".join(sorted(critical))
        self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"context budget CRITICAL ({names}): optimising before continuing")
        completed = frozenset(self._completed_tasks())
        for name, step in budget_mod.OPTIMIZATION_STEPS:
            done = self.state.budget.optimizations
            inputs = budget_mod.OptimizationInputs(
                root=self.workspace.root,
                context7_in_use=self.state.agent(key).tokens.get("context7", 0) if self.state.agent(key) else 0,
                completed_tasks=completed,
                done_steps=frozenset(o.step for o in done),
                pruned_tasks=frozenset(self._pruned_tasks),
            )
            result = step(self.state, inputs)
            if result is None:
                continue
            before = self.state.budget.pools[result.pool].used
            if result.after >= before:
                continue
            self.emit(
                ev.OptimizationApplied,
                step=name,
                pool=result.pool,
                before=before,
                after=result.after,
                detail=result.detail,
                kept_agent=key if name == "clear_context7" else None,
            )
            if name == "prune_plans":
                self._pruned_tasks |= completed
            if not self._critical_pools():
                self._optimized_for = frozenset()
                return
        still = ", ".join(sorted(self._critical_pools()))
        self.emit(ev.AgentLog, agent="orchestrator", level="warning", message=f"still CRITICAL after every optimisation step: {still}")

    def _completed_tasks(self) -> set[str]:
        done = {
            a.task_id or a.output.get("task_id")
            for a in self.state.agent_states
            if a.role == "builder" and a.status == "completed"
        }
        done.discard(None)
        for path in budget_mod.plan_files(self.workspace.tasks_dir):
            try:
                if json.loads(path.read_text(encoding="utf-8")).get("status") == "completed":
                    done.add(path.parent.name)
            except (OSError, ValueError):
                continue
        return done

    # ── checkpoints ──────────────────────────────────────────────────────

    def checkpoint(self, name: str, *, after_agent: str | None = None, reason: str = "manual") -> str:
        """Save a checkpoint now: an event, then the state snapshot on disk, both durable."""
        cp_id = self.workspace.free_checkpoint_id(max(self.clock(), self._last_checkpoint_epoch + 1))
        self._last_checkpoint_epoch = int(cp_id[3:])
        event = self.emit(ev.CheckpointSaved, checkpoint_id=cp_id, name=name, after_agent=after_agent, reason=reason)
        meta = CheckpointMeta(id=cp_id, orch_id=self.state.id, name=name, after_agent=after_agent, seq=event.seq, ts=event.ts, reason=reason)
        self.workspace.write_checkpoint(meta, self.state)
        return cp_id

    def _take_requests(self) -> None:
        """Checkpoints asked for by `studio-tui checkpoint NAME` from another process."""
        folder = self.workspace.orch_dir(self.state.id) / "requests"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("checkpoint-*.json")):
            try:
                name = str(json.loads(path.read_text(encoding="utf-8")).get("name", "on_demand"))[:80]
            except (OSError, ValueError):
                name = "on_demand"
            path.unlink(missing_ok=True)
            self.checkpoint(name, reason="on_demand")

    # ── finalize ─────────────────────────────────────────────────────────

    async def _finalize(self) -> None:
        self.emit(ev.StatusChanged, status="finalizing")
        learning = self._capture_learnings()
        self.emit(ev.LearningCaptured, path=str(learning.relative_to(self.workspace.root)), summary=f"{len(self.state.failures)} failure(s) recorded")
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
        atomic_write(path, "\n".join(lines) + "\n")
        return path

    def _update_backlog(self) -> None:
        built = [
            a.task_id or a.output.get("task_id")
            for a in self.state.agent_states
            if a.role == "builder" and a.status == "completed"
        ]
        built = [task_id for task_id in built if task_id]
        if not built:
            return
        for task_id in built:
            plan_path = self.workspace.task_dir(task_id) / "plan.json"
            if plan_path.exists():
                data = json.loads(plan_path.read_text(encoding="utf-8"))
                data["status"] = "completed"
                atomic_write(plan_path, json.dumps(data, indent=2) + "\n")
        if not self.workspace.backlog_path.exists():
            return
        backlog = load_backlog(self.workspace.backlog_path)
        changed = [task_id for task_id in built if backlog.set_status(task_id, "completed")]
        if changed:
            atomic_write(self.workspace.backlog_path, yaml.safe_dump(backlog.model_dump(mode="json"), sort_keys=False))
            for task_id in changed:
                self.emit(ev.BacklogUpdated, task_id=task_id, status="completed")


class _SlotReporter:
    """The Reporter an agent gets: each call becomes an event of its slot."""

    def __init__(self, orchestrator: Orchestrator, key: str) -> None:
        self.orchestrator = orchestrator
        self.key = key

    async def step(self, step: int, total: int, description: str, *, risky: bool = False) -> None:
        orch = self.orchestrator
        orch._take_requests()
        if risky:
            orch.checkpoint(f"before_{self.key.replace(':', '_')}_step_{step}", after_agent=self.key, reason="risky_step")
        orch.emit(ev.AgentStep, agent=self.key, step=step, total=total, description=description, status="started")

    async def step_done(self, step: int) -> None:
        orch = self.orchestrator
        orch.emit(ev.AgentStep, agent=self.key, step=step, status="completed")
        done = len(orch.state.agent(self.key).steps_completed)  # type: ignore[union-attr]
        every = orch.config.checkpoints.every_steps
        if every and done % every == 0:
            orch.checkpoint(f"{self.key.replace(':', '_')}_step_{step}", after_agent=self.key, reason="progress")

    async def step_skipped(self, step: int) -> None:
        self.orchestrator.emit(ev.AgentStep, agent=self.key, step=step, status="skipped")

    async def tokens(self, pool: str, tokens: int) -> None:
        await self.orchestrator.add_tokens(self.key, pool, tokens)

    async def log(self, message: str, level: str = "info") -> None:
        self.orchestrator.emit(ev.AgentLog, agent=self.key, level=level, message=message)

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        orch = self.orchestrator
        offered = {"options": [{"id": o.id, "name": o.name, "kind": o.kind} for o in options], **(details or {})}
        answer = await orch._ask(
            "permission",
            title,
            agent=self.key,
            options=tuple(o.id for o in options) + (PERMISSION_CANCELLED,),
            details=offered,
        )
        return None if answer == PERMISSION_CANCELLED else answer

    async def ask(self, question: str, *, default: str = "") -> str:
        orch = self.orchestrator
        agent = orch.state.agent(self.key)
        for earlier in reversed(orch.state.decisions):
            if earlier.kind == "question" and earlier.agent == self.key and earlier.prompt == question and earlier.by == "person":
                # Asked and answered before a resume (or a retry): the person is not asked twice.
                await self.log(f"answer reused from decision {earlier.id}: {earlier.answer}")
                return earlier.answer or ""
        asked = sum(1 for d in orch.state.decisions if d.kind == "question" and d.agent == self.key)
        if asked >= orch.config.planner.max_question_rounds:
            await self.log(f"question round limit reached; assuming: {default or 'no answer'}", "warning")
            return default
        return await orch._ask(
            "question",
            question,
            agent=self.key,
            details={"round": asked + 1, "max_rounds": orch.config.planner.max_question_rounds, "role": agent.role if agent else ""},
            default=default,
        )
