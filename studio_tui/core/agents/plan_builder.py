"""The built-in Builder: runs a plan's steps as real commands, then its quality gates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import PlanBuilderConfig
from ..errors import InputError
from ..plan import Plan, PlanStep, QualityGate, load_plan
from .base import AgentTask, Outcome, Reporter
from .process import (
    ChildProcess,
    LogThrottle,
    OutputLine,
    OutputTail,
    RunClock,
    StreamName,
    describe_command,
    describe_exit,
)

BYTES_PER_TOKEN = 4
"""Bytes of command output counted as one token in the working pool: the usual rule of thumb for
English text and code, since the builder has no tokenizer and the budget only needs an estimate."""

WORKING_POOL = "working"
"""The budget pool that command output is charged to."""


@dataclass(frozen=True)
class _CommandRun:
    """How one step's or gate's command ended."""

    exit_code: int | None
    """None when it timed out or could not start."""
    tail: str
    start_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None and self.start_error is None

    def describe_end(self) -> str:
        if self.start_error is not None or self.exit_code is None:
            return f"cannot start {self.start_error}"
        return describe_exit(self.exit_code)


class PlanBuilderAgent:
    """Executes `task.plan_path`: each step's command in order, then the plan's quality gates."""

    resumes_steps = True
    """A new attempt is told `completed_steps` and skips them."""

    def __init__(self, config: PlanBuilderConfig) -> None:
        self.config = config

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        if task.plan_path is None:
            if not self.config.quality_gates:
                return Outcome.failed(
                    "blocker",
                    "the builder was given no plan to execute (plan_path is unset)",
                    details="a build_only goal with no pending plan: give agents.builder quality_gates to check, "
                    "or configure a coding agent (kind: acp) as the builder",
                )
            plan = self._gates_only_plan(task)
            await reporter.log(
                "no plan to execute: running the builder's configured quality gates ("
                + ", ".join(gate.name for gate in plan.quality_gates)
                + "); nothing here changes the code",
                "warning",
            )
        else:
            try:
                plan = load_plan(task.plan_path)
            except InputError as exc:
                return Outcome.failed("blocker", str(exc))
        if not task.project_root.is_dir():
            return Outcome.failed("blocker", f"{task.project_root}: project root is not a directory")
        if task.task_id is not None and plan.task_id != task.task_id:
            await reporter.log(f"{task.plan_path}: plan is for task {plan.task_id}, building it for task {task.task_id}", "warning")
        logs = LogThrottle(reporter)
        steps_completed: list[int] = []
        steps_skipped: list[int] = []
        ran_step = False
        for step in plan.steps:
            if step.id in task.completed_steps:
                steps_completed.append(step.id)
                continue
            if step.id in task.skip_steps:
                await reporter.step_skipped(step.id)
                steps_skipped.append(step.id)
                continue
            ran_step = True
            failure = await self._run_step(step, len(plan.steps), task.project_root, reporter, logs)
            if failure is not None:
                return failure
            steps_completed.append(step.id)
        # gates that passed before an interruption count only when no step ran since (the code is the same)
        passed_before = frozenset() if ran_step else task.gates_passed
        gates: dict[str, str] = {}
        for gate in plan.quality_gates:
            if gate.name in passed_before:
                await reporter.log(f"quality gate {gate.name} passed before the interruption: not run again")
                gates[gate.name] = "passed"
                continue
            failure = await self._run_gate(gate, task.project_root, reporter, logs)
            if failure is not None:
                return failure
            gates[gate.name] = "passed"
        return Outcome(output=self._output(plan, steps_completed, steps_skipped, gates))

    def _gates_only_plan(self, task: AgentTask) -> Plan:
        """What a builder with no plan runs: one step naming the goal, then the configured gates."""
        return Plan(
            id="no_plan",
            task_id=task.task_id or "no_plan",
            goal=task.goal,
            steps=[PlanStep(id=1, description=f"{task.goal} (no plan: only the quality gates run)")],
            quality_gates=[QualityGate(**gate.model_dump()) for gate in self.config.quality_gates],
        )

    @staticmethod
    def _output(plan: Plan, completed: list[int], skipped: list[int], gates: dict[str, str]) -> dict[str, object]:
        return {
            "plan_id": plan.id,
            "task_id": plan.task_id,
            "steps_completed": completed,
            "steps_skipped": skipped,
            "quality_gates": gates,
        }

    async def _run_step(self, step: PlanStep, total: int, root: Path, reporter: Reporter, logs: LogThrottle) -> Outcome | None:
        """Run one step; its failure as an Outcome, or None when it completed."""
        await reporter.step(step.id, total, step.description, risky=step.risky)
        if step.command is not None:
            timeout = step.timeout or self.config.step_timeout
            run = await self._run_command(step.command, root, timeout, reporter, logs)
            if run.timed_out:
                return Outcome.failed(
                    "transient",
                    f"step {step.id} timed out after {timeout:g}s",
                    step=step.id,
                    details=run.tail,
                    critical_step=step.critical,
                )
            if not run.ok:
                return Outcome.failed(
                    step.on_failure,
                    f"step {step.id} failed: {run.describe_end()}",
                    step=step.id,
                    details=run.tail,
                    critical_step=step.critical,
                )
        await reporter.step_done(step.id)
        return None

    async def _run_gate(self, gate: QualityGate, root: Path, reporter: Reporter, logs: LogThrottle) -> Outcome | None:
        return await run_gate(gate, root, self.config.step_timeout, reporter, logs)

    async def _run_command(
        self, command: list[str] | str, root: Path, timeout: float, reporter: Reporter, logs: LogThrottle
    ) -> _CommandRun:
        return await run_command(command, root, timeout, reporter, logs)


async def run_gate(gate: QualityGate, root: Path, default_timeout: float, reporter: Reporter, logs: LogThrottle) -> Outcome | None:
    """Run one quality gate in `root`; its failure as an Outcome, or None when it passed."""
    await reporter.log(f"quality gate {gate.name}: running {describe_command(gate.command)}")
    timeout = gate.timeout or default_timeout
    run = await run_command(gate.command, root, timeout, reporter, logs)
    if run.timed_out:
        await reporter.log(f"quality gate {gate.name}: timed out after {timeout:g}s", "error")
        return Outcome.failed("transient", f"quality gate {gate.name} timed out after {timeout:g}s", details=run.tail)
    if not run.ok:
        await reporter.log(f"quality gate {gate.name}: failed ({run.describe_end()})", "error")
        return Outcome.failed("code_error", f"quality gate {gate.name} failed: {run.describe_end()}", details=run.tail)
    await reporter.log(f"quality gate {gate.name}: passed")
    passed = getattr(reporter, "gate_passed", None)
    if passed is not None:
        await passed(gate.name, describe_command(gate.command))
    return None


async def run_command(command: list[str] | str, root: Path, timeout: float, reporter: Reporter, logs: LogThrottle) -> _CommandRun:
    """Run a command in the project root, its output streamed to the log and charged as tokens."""
    child = ChildProcess(command, cwd=root)
    try:
        await child.start()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return _CommandRun(exit_code=None, tail="", start_error=f"{describe_command(command)!r}: {reason}")
    tail = OutputTail()
    output_bytes = 0

    async def on_line(stream: StreamName, line: OutputLine) -> None:
        nonlocal output_bytes
        output_bytes += line.size
        shown = line.shown()
        tail.add(shown)
        await logs.log(shown)

    try:
        exit_code = await child.run(on_line, RunClock(timeout))
    finally:
        await child.close()
    await logs.flush()
    if output_bytes >= BYTES_PER_TOKEN:
        await reporter.tokens(WORKING_POOL, output_bytes // BYTES_PER_TOKEN)
    return _CommandRun(exit_code=exit_code, tail=tail.text())
