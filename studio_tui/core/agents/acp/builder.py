"""An ACP Builder executing a plan: one prompt a step in one session (the plan's steps are the
dashboard's steps), then studio-tui runs the plan's quality gates itself; a failing gate goes back to
the agent in the same session with the gate's output, counted as a retry. The agent's "done" is
never taken as proof."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ...plan import Plan
from ..base import Failure, Outcome, Reporter
from ..plan_builder import run_gate
from ..process import LogThrottle
from .prompts import gate_prompt, step_prompt

if TYPE_CHECKING:
    from .process import Session


async def _retry_in_session(reporter: Reporter, failure: Failure) -> bool:
    retry = getattr(reporter, "retry_in_session", None)
    return bool(retry is not None and await retry(failure))


async def build_plan(session: Session, plan: Plan, first: str) -> Outcome:
    task, reporter = session.task, session.reporter
    session.client.updates.steps_owned = True
    total = len(plan.steps)
    intro: str | None = first
    completed: list[int] = []
    skipped: list[int] = []
    last: dict[str, Any] = {}
    ran_step = False

    def opening(text: str) -> str:
        nonlocal intro
        text, intro = (f"{intro}\n{text}" if intro else text), None
        return text

    for step in plan.steps:
        if step.id in task.completed_steps:
            completed.append(step.id)
            continue
        if step.id in task.skip_steps:
            await reporter.step_skipped(step.id)
            skipped.append(step.id)
            continue
        await reporter.step(step.id, total, step.description, risky=step.risky)
        ran_step = True
        outcome = await session.turn(opening(step_prompt(step, total)))
        if not outcome.ok:
            assert outcome.failure is not None
            return Outcome(failure=dataclasses.replace(outcome.failure, step=step.id, critical_step=step.critical))
        last = outcome.output
        await reporter.step_done(step.id)
        completed.append(step.id)
    logs = LogThrottle(reporter)
    # gates that passed before an interruption count only when no step ran since (the code is the same)
    passed_before = set() if ran_step else set(task.gates_passed)
    while True:
        failure: Failure | None = None
        with session.clock.paused():  # the gates have their own timeouts
            for gate in plan.quality_gates:
                if gate.name in passed_before:
                    await reporter.log(f"quality gate {gate.name} passed before the interruption: not run again")
                    continue
                result = await run_gate(gate, task.project_root, session.config.gate_timeout, reporter, logs)
                if result is not None:
                    failure = result.failure
                    break
        if failure is None:
            return Outcome(
                output={
                    **last,
                    "plan_id": plan.id,
                    "task_id": plan.task_id,
                    "steps_completed": completed,
                    "steps_skipped": skipped,
                    "quality_gates": {gate.name: "passed" for gate in plan.quality_gates},
                }
            )
        passed_before = set()  # the agent changes the code to fix the gate: every gate runs again
        if not await _retry_in_session(reporter, failure):
            return Outcome(failure=failure)
        outcome = await session.turn(opening(gate_prompt(failure, plan.quality_gates)))
        if not outcome.ok:
            return outcome
        last = outcome.output
