"""After an agent fails: retry, replan, halt or escalate to the person, as the recovery policy decides."""

from __future__ import annotations

import copy
from typing import Any

from .. import events as ev
from ..agents.base import Outcome
from ..decider import ESCALATION_OPTIONS
from .base import OrchestratorBase
from .common import RunStopped


class RecoveryFlow(OrchestratorBase):
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

    async def _retry_in_session(self, key: str, failure: Any) -> bool:
        """An agent asks to fix `failure` in its running session: recorded as a failure and a retry
        when the policy grants one (True); otherwise nothing is recorded and the counters stay as they
        were (False), since the agent then returns the failure and `_recover` takes it from there."""
        slot = self._slot(key)
        trial = copy.deepcopy(slot.tracker)
        decision = trial.decide(failure.category, failure.message, failure.step, can_replan=False)
        if decision.action != "retry":
            return False
        slot.tracker = trial
        self.emit(ev.AgentFailed, agent=key, step=failure.step, category=failure.category, message=failure.message, details=failure.details)
        self.emit(
            ev.RecoveryDecided,
            agent=key,
            step=failure.step,
            category=failure.category,
            action="retry",
            retries_used=trial.retries_used,
            replans_used=trial.replans_used,
            reason=f"{decision.reason}, in the agent's own session",
        )
        self.emit(ev.AgentStatus, agent=key, status="active", reason="retrying in the agent's own session")
        return True

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
        self._handoff(builder_key, planner_key, context, once=True)
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
            f"Build failed after {retries} retr{'y' if retries == 1 else 'ies'} and {replans} replan attempt{'' if replans == 1 else 's'}."
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
