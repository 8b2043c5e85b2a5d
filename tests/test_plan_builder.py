"""PlanBuilderAgent running real plans in a throwaway project: steps, skips, failures, gates."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import RecordingReporter, make_task, process_gone

from studio_tui.core.agents.plan_builder import PlanBuilderAgent
from studio_tui.core.config import PlanBuilderConfig

PY = sys.executable
PRINT_PID_AND_HANG = "import os, time; print(os.getpid(), flush=True); time.sleep(60)"


def write_plan(root: Path, steps: list[dict[str, Any]], gates: list[dict[str, Any]] | None = None) -> Path:
    """A plan.json for task T1 under `root`, numbering the steps 1..n."""
    plan = {
        "id": "bp_1",
        "task_id": "T1",
        "goal": "build it",
        "steps": [{"id": i, **step} for i, step in enumerate(steps, start=1)],
        "quality_gates": gates or [],
    }
    path = root / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def builder(step_timeout: float = 10.0) -> PlanBuilderAgent:
    return PlanBuilderAgent(PlanBuilderConfig(kind="plan_builder", step_timeout=step_timeout))


def append(name: str, text: str) -> list[str]:
    """A step command (exec'd list) appending `text` to `name` in the project root."""
    return [PY, "-c", f"open({name!r}, 'a').write({text!r})"]


async def test_steps_run_in_order_in_the_project_root(tmp_path):
    plan = write_plan(
        tmp_path,
        [
            {"description": "create", "command": append("order.txt", "1")},
            {"description": "shell", "command": "printf 2 >> order.txt && echo wrote two", "risky": True},
            {"description": "think about it"},
            {"description": "check", "command": [PY, "-c", "assert open('order.txt').read() == '12'; print('ok')"]},
        ],
    )
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    assert outcome.ok, outcome.failure
    assert (tmp_path / "order.txt").read_text() == "12"
    assert [e for e in reporter.events if e[0] != "tokens"] == [
        ("step", 1, 4, "create", False),
        ("step_done", 1),
        ("step", 2, 4, "shell", True),
        ("step_done", 2),
        ("step", 3, 4, "think about it", False),
        ("step_done", 3),
        ("step", 4, 4, "check", False),
        ("step_done", 4),
    ]
    assert reporter.messages() == ["wrote two", "ok"]
    assert outcome.output == {
        "plan_id": "bp_1",
        "task_id": "T1",
        "steps_completed": [1, 2, 3, 4],
        "steps_skipped": [],
        "quality_gates": {},
    }


async def test_output_is_charged_to_the_working_pool_at_four_bytes_a_token(tmp_path):
    plan = write_plan(tmp_path, [{"description": "talk", "command": [PY, "-c", "print('x' * 3999)"]}])
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    assert outcome.ok, outcome.failure
    assert [e for e in reporter.events if e[0] == "tokens"] == [("tokens", "working", 1000)]


async def test_completed_steps_are_not_rerun_and_skipped_steps_are_reported(tmp_path):
    plan = write_plan(
        tmp_path,
        [
            {"description": "done before", "command": append("one.txt", "again")},
            {"description": "skipped by the person", "command": append("two.txt", "x")},
            {"description": "still to do", "command": append("three.txt", "x")},
        ],
    )
    reporter = RecordingReporter()
    task = make_task(tmp_path, plan_path=plan, completed_steps=frozenset({1}), skip_steps=frozenset({2}))

    outcome = await builder().run(task, reporter)

    assert outcome.ok, outcome.failure
    assert not (tmp_path / "one.txt").exists()
    assert not (tmp_path / "two.txt").exists()
    assert (tmp_path / "three.txt").exists()
    assert reporter.events == [
        ("step_skipped", 2),
        ("step", 3, 3, "still to do", False),
        ("step_done", 3),
    ]
    assert outcome.output["steps_completed"] == [1, 3]
    assert outcome.output["steps_skipped"] == [2]


async def test_failing_step_reports_its_on_failure_category_and_critical_flag(tmp_path):
    plan = write_plan(
        tmp_path,
        [
            {"description": "fine", "command": append("a.txt", "x")},
            {
                "description": "migrate",
                "command": "echo applying; echo 'schema mismatch' >&2; exit 4",
                "on_failure": "design_flaw",
                "critical": True,
            },
            {"description": "never", "command": append("never.txt", "x")},
        ],
    )
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    failure = outcome.failure
    assert failure is not None
    assert (failure.category, failure.step, failure.critical_step) == ("design_flaw", 2, True)
    assert failure.message == "step 2 failed: exit 4"
    assert "applying" in failure.details and "schema mismatch" in failure.details
    assert not (tmp_path / "never.txt").exists()
    assert [e for e in reporter.events if e[0] != "tokens"][-1] == ("step", 2, 3, "migrate", False)


async def test_failing_step_defaults_to_code_error(tmp_path):
    plan = write_plan(tmp_path, [{"description": "shell", "command": "exit 1"}])

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), RecordingReporter())

    assert outcome.failure is not None
    assert (outcome.failure.category, outcome.failure.step, outcome.failure.critical_step) == ("code_error", 1, False)


async def test_step_killed_by_a_signal_says_so(tmp_path):
    plan = write_plan(tmp_path, [{"description": "crash", "command": "kill -9 $$"}])

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), RecordingReporter())

    assert outcome.failure is not None
    assert outcome.failure.message == "step 1 failed: killed by signal 9 (SIGKILL)"


async def test_step_whose_program_is_missing_fails_with_its_category(tmp_path):
    plan = write_plan(tmp_path, [{"description": "tool", "command": ["/nonexistent/tool", "--fix"], "on_failure": "blocker"}])

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), RecordingReporter())

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "/nonexistent/tool" in outcome.failure.message


async def test_step_timeout_is_transient_and_kills_the_step(tmp_path):
    plan = write_plan(
        tmp_path,
        [
            {
                "description": "hang",
                "command": [PY, "-c", PRINT_PID_AND_HANG],
                "timeout": 1,
                "critical": True,
            }
        ],
    )
    reporter = RecordingReporter()
    started = time.monotonic()

    outcome = await builder(step_timeout=30).run(make_task(tmp_path, plan_path=plan), reporter)

    assert time.monotonic() - started < 5
    assert outcome.failure is not None
    assert (outcome.failure.category, outcome.failure.step, outcome.failure.critical_step) == ("transient", 1, True)
    assert outcome.failure.message == "step 1 timed out after 1s"
    assert process_gone(int(reporter.messages()[0]))


async def test_config_step_timeout_applies_when_the_step_names_none(tmp_path):
    plan = write_plan(tmp_path, [{"description": "hang", "command": [PY, "-c", "import time; time.sleep(60)"]}])

    outcome = await builder(step_timeout=0.5).run(make_task(tmp_path, plan_path=plan), RecordingReporter())

    assert outcome.failure is not None and outcome.failure.category == "transient"
    assert "0.5s" in outcome.failure.message


async def test_quality_gates_run_in_order_after_the_steps(tmp_path):
    plan = write_plan(
        tmp_path,
        [{"description": "make", "command": append("built.txt", "x")}],
        gates=[
            {"name": "built", "command": [PY, "-c", "import os; assert os.path.exists('built.txt')"]},
            {"name": "lint", "command": "true"},
        ],
    )
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output["quality_gates"] == {"built": "passed", "lint": "passed"}
    gate_logs = [m for m in reporter.messages() if m.startswith("quality gate")]
    assert gate_logs[1] == "quality gate built: passed" and gate_logs[3] == "quality gate lint: passed"


async def test_failing_quality_gate_is_a_code_error_naming_the_gate(tmp_path):
    plan = write_plan(
        tmp_path,
        [{"description": "make", "command": append("built.txt", "x")}],
        gates=[
            {"name": "tests", "command": [PY, "-c", "import sys; print('3 failed, 9 passed'); sys.exit(1)"]},
            {"name": "never", "command": append("gate.txt", "x")},
        ],
    )
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    failure = outcome.failure
    assert failure is not None
    assert (failure.category, failure.step) == ("code_error", None)
    assert failure.message == "quality gate tests failed: exit 1"
    assert "3 failed, 9 passed" in failure.details
    assert not (tmp_path / "gate.txt").exists()
    assert ("quality gate tests: failed (exit 1)", "error") in reporter.logs


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('{"id": "bp_1", "task_id": "T1", "steps": [', "invalid JSON"),
        ('{"id": "bp_1", "task_id": "T1", "steps": [{"id": 2, "description": "x"}]}', "step ids"),
        ('{"id": "bp_1", "task_id": "T1", "steps": [{"id": 1, "description": "x", "bogus": 1}]}', "bogus"),
    ],
)
async def test_malformed_plan_is_a_blocker_naming_the_file(tmp_path, text, complaint):
    plan = tmp_path / "plan.json"
    plan.write_text(text, encoding="utf-8")
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    assert outcome.failure is not None
    assert outcome.failure.category == "blocker"
    assert str(plan) in outcome.failure.message
    assert complaint in outcome.failure.message
    assert reporter.events == []


async def test_missing_plan_is_a_blocker(tmp_path):
    outcome = await builder().run(make_task(tmp_path, plan_path=tmp_path / "nope.json"), RecordingReporter())

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "nope.json" in outcome.failure.message


async def test_flooding_step_completes_with_bounded_logs(tmp_path):
    plan = write_plan(
        tmp_path,
        [{"description": "noisy", "command": [PY, "-c", "for i in range(100000): print(i)"]}],
    )
    reporter = RecordingReporter()

    outcome = await builder().run(make_task(tmp_path, plan_path=plan), reporter)

    assert outcome.ok, outcome.failure
    assert reporter.log_count < 10000
    assert any("output lines not shown" in m for m in reporter.messages("warning"))
    output_bytes = sum(len(f"{i}\n") for i in range(100000))
    assert ("tokens", "working", output_bytes // 4) in reporter.events


async def test_cancelling_the_build_kills_the_running_step(tmp_path):
    plan = write_plan(
        tmp_path,
        [{"description": "long", "command": [PY, "-c", PRINT_PID_AND_HANG]}],
    )
    reporter = RecordingReporter()
    pid_logged = reporter.wait_for_log(str.isdigit)
    run = asyncio.ensure_future(builder().run(make_task(tmp_path, plan_path=plan), reporter))

    pid = int(await asyncio.wait_for(pid_logged, 10))
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert process_gone(pid)
