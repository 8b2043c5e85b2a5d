"""The `scripted` agent: plays a YAML scenario (durations, tokens, outcomes per step, questions)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .. import safefile
from ..events import FailureCategory, TerminalOutput, ToolCallRecorded, ToolContent
from ..loading import load_yaml_model
from ..plan import Backlog, Plan, PlanStep, load_plan
from ..store.atomic import atomic_write
from .base import AgentTask, Outcome, Reporter


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Fail(_Strict):
    fail: FailureCategory
    message: str
    details: str = ""


Try = Literal["ok"] | Fail


class ToolCallScript(_Strict):
    """A file edit the step reports as an ACP-style tool call with a diff."""

    title: str
    path: str
    old_text: str | None = None
    """None for a new file."""
    new_text: str
    kind: str = "edit"


class TerminalScript(_Strict):
    """A command the step reports running, with its output and exit code."""

    command: str
    output: str = ""
    exit_code: int = 0


class StepScript(_Strict):
    """What one step does: how long, what it costs, and how each try ends."""

    description: str = ""
    duration: float = Field(0.2, ge=0)
    tokens: dict[str, int] = {}
    logs: list[str] = []
    outcomes: list[Try] = []
    """Try n takes outcomes[n-1]; tries past the list succeed."""
    tool_calls: list[ToolCallScript] = []
    terminals: list[TerminalScript] = []


class Question(_Strict):
    question: str
    default: str = ""


class PlannerScript(_Strict):
    questions: list[Question] = []
    steps: list[StepScript] = []
    replan_steps: list[StepScript] | None = None
    """What the Planner plays on a replan (default: `steps` again)."""
    plan: dict[str, Any]
    """The plan.json the Planner writes (validated as a plan)."""
    replan: dict[str, Any] = {}
    """Fields merged into the plan on a replan; `steps` entries replace steps by id."""


class BuilderScript(_Strict):
    steps: dict[int, StepScript] = {}
    """Per plan step id."""


class ArchitectScript(_Strict):
    steps: list[StepScript] = []
    backlog: Backlog
    plans: dict[str, dict[str, Any]] = {}
    """Per task id, the plan the Planner writes for it in decompose_first."""


class Scenario(_Strict):
    goal: str = "Add user authentication with OAuth"
    planner: PlannerScript | None = None
    builder: BuilderScript = BuilderScript()
    architect: ArchitectScript | None = None
    tasks: dict[str, BuilderScript] = {}
    """multi_task / decompose_first: the builder's behaviour per backlog task."""


def load_scenario(path: Path, *, root: Path | None = None) -> Scenario:
    return load_yaml_model(path, Scenario, kind=safefile.SCENARIO, root=root)


class ScriptedAgent:
    """Plays its role's part of a scenario; `speed` divides every duration (0 = no waiting)."""

    resumes_steps = True

    def __init__(self, scenario: Scenario, *, speed: float = 1.0) -> None:
        self.scenario = scenario
        self.speed = speed

    async def _play(
        self, step: int, total: int, script: StepScript, task: AgentTask, reporter: Reporter, *, risky: bool = False
    ) -> Outcome | None:
        await reporter.step(step, total, script.description, risky=risky)
        for line in script.logs:
            await reporter.log(line)
        await self._activity(step, script, reporter)
        if script.duration and self.speed > 0:
            await asyncio.sleep(script.duration / self.speed)
        for pool, tokens in script.tokens.items():
            await reporter.tokens(pool, tokens)
        try_index = task.step_failures.get(step, 0)
        outcome = script.outcomes[try_index] if try_index < len(script.outcomes) else "ok"
        if isinstance(outcome, Fail):
            return Outcome.failed(outcome.fail, outcome.message, step=step, details=outcome.details)
        await reporter.step_done(step)
        return None

    async def _activity(self, step: int, script: StepScript, reporter: Reporter) -> None:
        """The step's tool calls (diffs) and terminal output, for a reporter that records them."""
        record = getattr(reporter, "activity", None)
        if record is None:
            return
        for index, call in enumerate(script.tool_calls, start=1):
            content = [ToolContent(kind="diff", path=call.path, old_text=call.old_text, new_text=call.new_text)]
            await record(
                ToolCallRecorded,
                tool_call_id=f"s{step}_edit{index}",
                title=call.title,
                kind=call.kind,
                status="completed",
                locations=[call.path],
                content=content,
            )
        for index, terminal in enumerate(script.terminals, start=1):
            terminal_id = f"s{step}_term{index}"
            await record(
                ToolCallRecorded,
                tool_call_id=terminal_id,
                title=terminal.command,
                kind="execute",
                status="completed",
                content=[ToolContent(kind="terminal", terminal_id=terminal_id)],
            )
            await record(
                TerminalOutput,
                terminal_id=terminal_id,
                command=terminal.command,
                output=terminal.output,
                exit_code=terminal.exit_code,
                done=True,
            )

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        if task.role == "planner":
            return await self._plan(task, reporter)
        if task.role == "architect":
            return await self._decompose(task, reporter)
        return await self._build(task, reporter)

    async def _plan(self, task: AgentTask, reporter: Reporter) -> Outcome:
        script = self.scenario.planner
        if script is None:
            return Outcome.failed("blocker", "the scenario has no 'planner' section")
        if task.mode == "plan":
            for question in script.questions:
                answer = await reporter.ask(question.question, default=question.default)
                await reporter.log(f"answer noted: {answer}")
        steps = script.steps
        if task.mode == "replan" and script.replan_steps is not None:
            steps = script.replan_steps
        for number, step in enumerate(steps, start=1):
            failed = await self._play(number, len(steps), step, task, reporter)
            if failed:
                return failed
        data = dict(script.plan)
        plans = self.scenario.architect.plans if self.scenario.architect else {}
        if task.task_id and task.task_id in plans:
            data = dict(plans[task.task_id])
        data.setdefault("goal", task.goal)
        if task.mode == "replan" and script.replan:
            data = _merge_replan(data, script.replan)
            data["id"] = f"{data['id']}_r{task.attempt}"
        plan = Plan.model_validate(data)
        path = task.workspace_root / "tasks" / plan.task_id / "plan.json"
        atomic_write(path, json.dumps(plan.model_dump(mode="json"), indent=2) + "\n", root=task.workspace_root)
        return Outcome(output={"plan_id": plan.id, "task_id": plan.task_id, "plan_path": str(path), "confidence": plan.confidence})

    async def _decompose(self, task: AgentTask, reporter: Reporter) -> Outcome:
        script = self.scenario.architect
        if script is None:
            return Outcome.failed("blocker", "the scenario has no 'architect' section")
        for number, step in enumerate(script.steps, start=1):
            failed = await self._play(number, len(script.steps), step, task, reporter)
            if failed:
                return failed
        path = task.workspace_root / "backlog.yaml"
        atomic_write(path, yaml.safe_dump(script.backlog.model_dump(mode="json"), sort_keys=False), root=task.workspace_root)
        ids = [t.id for t in script.backlog.tasks()]
        return Outcome(output={"backlog": str(path), "task_ids": ids, "epics": len(script.backlog.epics)})

    async def _build(self, task: AgentTask, reporter: Reporter) -> Outcome:
        behaviour = self.scenario.tasks.get(task.task_id or "", self.scenario.builder)
        steps: list[PlanStep]
        if task.plan_path is not None:
            steps = load_plan(task.plan_path).steps
        elif behaviour.steps:
            steps = [PlanStep(id=i, description=s.description or f"step {i}") for i, s in sorted(behaviour.steps.items())]
        else:
            steps = [PlanStep(id=1, description=task.goal or "build")]
        done: list[int] = []
        for plan_step in steps:
            if plan_step.id in task.completed_steps:
                continue
            if plan_step.id in task.skip_steps:
                await reporter.step_skipped(plan_step.id)
                continue
            script = behaviour.steps.get(plan_step.id, StepScript())
            script = script.model_copy(update={"description": plan_step.description})
            failed = await self._play(plan_step.id, len(steps), script, task, reporter, risky=plan_step.risky)
            if failed:
                assert failed.failure is not None
                return replace(failed, failure=replace(failed.failure, critical_step=plan_step.critical))
            done.append(plan_step.id)
        return Outcome(output={"task_id": task.task_id, "steps_completed": sorted({*task.completed_steps, *done})})


def _merge_replan(plan: dict[str, Any], replan: dict[str, Any]) -> dict[str, Any]:
    merged = {**plan, **{k: v for k, v in replan.items() if k != "steps"}}
    by_id = {s["id"]: s for s in plan.get("steps", [])}
    for step in replan.get("steps", []):
        by_id[step["id"]] = {**by_id.get(step["id"], {}), **step}
    merged["steps"] = [by_id[k] for k in sorted(by_id)]
    return merged
