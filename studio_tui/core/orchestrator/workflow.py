"""The workflow: route the goal, run the agent sequence in order, hand work on between agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import budget as budget_mod
from .. import events as ev
from ..decider import CONFIDENCE_OPTIONS, ROUTING_OPTIONS
from ..errors import InputError
from ..plan import Backlog, Plan, load_backlog
from ..routing import RoutingDecision, route
from ..store import Workspace
from .base import OrchestratorBase
from .common import RunStopped, preflight


def sequence_for(decision: RoutingDecision, backlog: Backlog, ws: Workspace) -> list[ev.SlotSpec]:
    """The agent slots a routing decision runs, in order."""
    if decision.workflow == "plan_then_build":
        sequence = [ev.SlotSpec(key="planner", agent="planner"), ev.SlotSpec(key="builder", agent="builder")]
    elif decision.workflow == "build_only":
        task_id = decision.task_ids[0] if decision.task_ids else None
        sequence = [ev.SlotSpec(key="builder", agent="builder", task_id=task_id)]
    elif decision.workflow == "multi_task" and decision.items:
        sequence = [
            ev.SlotSpec(key=f"builder:{t}", agent="builder", task_id=t, title=item)
            for t, item in zip(decision.task_ids, decision.items, strict=False)
        ]
    elif decision.workflow == "multi_task":
        task_ids = decision.task_ids or [t.id for t in backlog.pending()]
        if not task_ids:
            raise InputError(f"{ws.backlog_path}: multi_task needs pending tasks in the backlog, found none")
        sequence = [ev.SlotSpec(key=f"builder:{t}", agent="builder", task_id=t) for t in task_ids]
    else:
        sequence = [ev.SlotSpec(key="architect", agent="architect")]
    return sequence


class Workflow(OrchestratorBase):
    async def _fresh_run(self) -> None:
        self.emit(ev.StatusChanged, status="analyzing")
        self._route()
        # Right after routing, before anything that can fail: every started run is resumable.
        self.checkpoint("routed", reason="routed")
        await self._continue_run()

    async def _prepare(self) -> None:
        """The routing question (explicit mode) and the budget, each once: a resume does what is missing."""
        routing = self.state.routing
        if self.state.mode == "explicit" and not any(d.kind == "routing" and d.answer is not None for d in self.state.decisions):
            answer = await self._ask(
                "routing",
                f'Route "{self.state.goal}" to {routing.workflow}?',
                options=ROUTING_OPTIONS,
                details={
                    "workflow": routing.workflow,
                    "complexity": routing.complexity,
                    "confidence": routing.confidence,
                    "agents": [s.agent for s in routing.agent_sequence],
                    "signals": list(routing.signals),
                },
            )
            if answer != "proceed":
                raise RunStopped("cancelled", "the person cancelled at routing")
        if not self.state.budget.pools:
            self.emit(ev.StatusChanged, status="allocating")
            pools = budget_mod.measure_workspace(self.workspace.root, self.config.budget)
            self.emit(ev.BudgetAllocated, pools=pools, warning=self.config.budget.warning, critical=self.config.budget.critical)
        self.sessions_dir.mkdir(parents=True, exist_ok=True)

    @property
    def sessions_dir(self) -> Path:
        return self.workspace.sessions_dir / self.state.id

    def _route(self) -> RoutingDecision:
        ws = self.workspace
        backlog, pending_plans = preflight(ws)
        decision = route(
            self.state.goal,
            pending_plan_tasks=pending_plans,
            backlog_task_ids=[t.id for t in backlog.tasks()],
            chosen_plan=self._chosen_plan,
        )
        sequence = sequence_for(decision, backlog, ws)
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

    async def _continue_run(self) -> None:
        await self._prepare()
        self.emit(ev.StatusChanged, status="executing")
        if self.config.execution.distributed and self.state.routing.workflow in ("multi_task", "decompose_first"):
            from ..parallel.run import ParallelBuilders

            await ParallelBuilders(self).run()  # type: ignore[arg-type]
            await self._finalize()
            return
        index = 0
        while index < len(self.state.routing.agent_sequence):
            entry = self.state.routing.agent_sequence[index]
            index += 1
            if entry.key in self._unsettled:
                self._unsettled.discard(entry.key)
                if entry.status == "completed":
                    await self._settle(entry.key)
            if entry.status in ("completed", "skipped"):
                continue
            failure = self._pending_replans.pop(entry.key, None)
            if failure is not None:
                await self._replan(entry.key, failure)
            await self._run_slot(entry.key)
        await self._finalize()

    async def _after_plan(self, key: str, plan: Plan, mode: str) -> None:
        threshold = self.config.planner.confidence_threshold
        if plan.confidence < threshold:
            earlier = [
                d.answer
                for d in self.state.decisions
                if d.kind == "confidence" and d.agent == key and d.details.get("plan_id") == plan.id and d.answer in CONFIDENCE_OPTIONS
            ]
            # Answered before the run stopped (a resume finishing this planner's handoff): not asked twice.
            answer = (
                earlier[-1]
                if earlier
                else await self._ask(
                    "confidence",
                    f"The plan's confidence is {plan.confidence:.0%}, below {threshold:.0%}. Build it anyway?",
                    agent=key,
                    options=CONFIDENCE_OPTIONS,
                    details={"plan_id": plan.id, "confidence": plan.confidence, "threshold": threshold, "summary": plan.summary_text()},
                )
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
        self._handoff(key, builder_key, context, once=True)

    def _builder_after(self, planner_key: str) -> str:
        suffix = planner_key.partition(":")[2]
        return f"builder:{suffix}" if suffix else "builder"

    def _after_decompose(self, output: dict[str, Any]) -> None:
        backlog = load_backlog(self.workspace.backlog_path)
        slots: list[ev.SlotSpec] = []
        for task in backlog.pending():
            slots.append(ev.SlotSpec(key=f"planner:{task.id}", agent="planner", task_id=task.id))
            slots.append(ev.SlotSpec(key=f"builder:{task.id}", agent="builder", task_id=task.id))
        slots = [s for s in slots if self.state.agent(s.key) is None]
        if slots:
            self.emit(ev.SequenceExtended, sequence=slots)

    def _handoff(self, from_key: str, to_key: str, context: dict[str, Any], *, once: bool = False) -> ev.HandoffRecorded | None:
        """Record a handoff; with `once`, not when the latest one between these agents already says the same."""
        if once:
            latest = [h for h in self.state.handoffs if h.from_agent == from_key and h.to_agent == to_key]
            if latest and latest[-1].context == context:
                return None
        tokens = budget_mod.estimate_tokens(len(json.dumps(context, sort_keys=True).encode()))
        ends: dict[str, Any] = {"from": from_key, "to": to_key}  # the field aliases are Python keywords
        return self.emit(ev.HandoffRecorded, **ends, context=context, tokens=tokens)
