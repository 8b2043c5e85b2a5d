"""CommandAgent against real subprocesses: the JSON-lines protocol, timeouts, floods, cancellation."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time

import pytest
from agent_helpers import RecordingReporter, make_task, process_gone, python_agent

from studio_tui.core.agents import process
from studio_tui.core.agents.base import Failure
from studio_tui.core.agents.command import CommandAgent
from studio_tui.core.config import CommandAgentConfig


async def test_happy_run_reports_progress_tokens_logs_and_result(tmp_path):
    body = """
emit(type="progress", step=1, total=2, description="read the handoff")
emit(type="tokens", pool="working", tokens=120)
emit(type="progress", step=1, total=2, done=True)
emit(type="progress", step=2, total=2, description="write", risky=True)
emit(type="log", message="halfway", level="warning")
print("plain text from the agent", flush=True)
emit(type="progress", step=2, total=2, done=True)
emit(type="result", output={"handoff": handoff, "cwd": os.getcwd()})
"""
    task = make_task(
        tmp_path,
        context={"plan_id": "bp_1", "notes": ["a"]},
        attempt=2,
        completed_steps=frozenset({3, 1}),
        skip_steps=frozenset({4}),
        plan_path=tmp_path / "plan.json",
        failure=Failure(category="code_error", message="step 2 failed: exit 1", step=2, details="AssertionError"),
        answers=(("Which database?", "postgres"),),
    )
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(task, reporter)

    assert outcome.ok, outcome.failure
    assert reporter.events == [
        ("step", 1, 2, "read the handoff", False),
        ("tokens", "working", 120),
        ("step_done", 1),
        ("step", 2, 2, "write", True),
        ("step_done", 2),
    ]
    assert list(reporter.logs) == [("halfway", "warning"), ("plain text from the agent", "info")]
    assert outcome.output["handoff"] == {
        "role": "builder",
        "mode": "build",
        "goal": "build the thing",
        "task_id": "T1",
        "attempt": 2,
        "context": {"plan_id": "bp_1", "notes": ["a"]},
        "completed_steps": [1, 3],
        "skip_steps": [4],
        "plan_path": str(tmp_path / "plan.json"),
        "project_root": str(tmp_path),
        "workspace_root": str(task.workspace_root),
        "failure": {
            "category": "code_error",
            "message": "step 2 failed: exit 1",
            "step": 2,
            "details": "AssertionError",
            "critical_step": False,
        },
        "answers": [{"question": "Which database?", "answer": "postgres"}],
    }
    assert outcome.output["cwd"] == str(tmp_path)


async def test_string_command_runs_through_sh_with_config_env(tmp_path):
    config = CommandAgentConfig(
        kind="command",
        command='read handoff; echo "{\\"type\\": \\"result\\", \\"output\\": {\\"greeting\\": \\"$GREETING\\"}}"',
        env={"GREETING": "hello from env"},
    )

    outcome = await CommandAgent(config).run(make_task(tmp_path), RecordingReporter())

    assert outcome.ok, outcome.failure
    assert outcome.output == {"greeting": "hello from env"}


@pytest.mark.parametrize("category", ["transient", "code_error", "design_flaw", "blocker", "critical"])
async def test_failure_line_becomes_a_failed_outcome(tmp_path, category):
    body = f"""
emit(type="failure", category="{category}", message="it broke", step=2, details="the details", critical=True)
sys.exit(1)
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    assert outcome.failure.category == category
    assert outcome.failure.message == "it broke"
    assert outcome.failure.step == 2
    assert outcome.failure.details == "the details"
    assert outcome.failure.critical_step is True


async def test_failure_line_without_details_gets_the_stderr_tail(tmp_path):
    body = """
sys.stderr.write("disk full\\n"); sys.stderr.flush()
emit(type="failure", category="blocker", message="cannot write")
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    assert (outcome.failure.category, outcome.failure.step, outcome.failure.critical_step) == ("blocker", None, False)
    assert "disk full" in outcome.failure.details


async def test_question_is_answered_on_stdin(tmp_path):
    body = """
emit(type="question", question="Which database?", default="sqlite")
answer = json.loads(sys.stdin.readline())
emit(type="question", question="Add auth?")
second = json.loads(sys.stdin.readline())
emit(type="result", output={"answers": [answer, second]})
"""
    reporter = RecordingReporter(answers=["postgres"])

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    assert reporter.questions == [("Which database?", "sqlite"), ("Add auth?", "")]
    assert outcome.output["answers"] == [{"type": "answer", "answer": "postgres"}, {"type": "answer", "answer": ""}]


async def test_time_spent_waiting_for_an_answer_does_not_count_against_the_timeout(tmp_path):
    body = """
emit(type="question", question="Proceed?", default="yes")
answer = json.loads(sys.stdin.readline())["answer"]
emit(type="result", output={"answer": answer})
"""

    async def slow_person(question: str) -> None:
        await asyncio.sleep(2.0)  # a person thinking for longer than the whole run may take

    reporter = RecordingReporter(answers=["yes"], on_ask=slow_person)

    outcome = await CommandAgent(python_agent(body, timeout=1.5)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output == {"answer": "yes"}


async def test_question_from_an_agent_that_exits_without_reading_the_answer(tmp_path):
    body = """
emit(type="question", question="Anyone there?")
sys.exit(0)
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    assert outcome.failure.message == "exited without a result"


async def test_unparsable_protocol_lines_are_logged_not_fatal(tmp_path):
    body = """
print("{not json", flush=True)
emit(type="teleport", where="mars")
emit(type="progress", step="first", total=2)
emit(type="tokens", pool="working")
emit(no_type=True)
print("[1, 2, 3]", flush=True)
print("Compiling 12 files", flush=True)
print("", flush=True)
emit(type="result", output={"fine": True})
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output == {"fine": True}
    warnings = reporter.messages("warning")
    assert len(warnings) == 5
    assert "invalid JSON" in warnings[0] and "{not json" in warnings[0]
    assert "teleport" in warnings[1]
    assert "step" in warnings[2]
    assert "tokens" in warnings[3]
    assert "type" in warnings[4]
    assert reporter.messages("info") == ["[1, 2, 3]", "Compiling 12 files"]
    assert reporter.events == []


async def test_second_final_line_is_ignored_with_a_warning(tmp_path):
    body = """
emit(type="result", output={"first": True})
emit(type="failure", category="critical", message="too late")
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.ok and outcome.output == {"first": True}
    assert any("second failure line" in m for m in reporter.messages("warning"))


async def test_hang_hits_the_timeout_and_the_process_is_gone(tmp_path):
    body = """
emit(type="log", message=f"pid {os.getpid()}")
sys.stderr.write("about to hang\\n"); sys.stderr.flush()
import time; time.sleep(60)
"""
    reporter = RecordingReporter()
    started = time.monotonic()

    outcome = await CommandAgent(python_agent(body, timeout=1)).run(make_task(tmp_path), reporter)

    assert time.monotonic() - started < 5
    assert outcome.failure is not None
    assert outcome.failure.category == "transient"
    assert outcome.failure.message == "timed out after 1s"
    assert "about to hang" in outcome.failure.details
    pid = int(reporter.messages()[0].split()[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_timeout_kills_the_whole_group_even_when_sigterm_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(process, "KILL_GRACE_SECONDS", 0.2)
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    body = f"""
import signal, subprocess, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([{sys.executable!r}, "-c", {stubborn!r}])
emit(type="log", message=f"pids {{os.getpid()}} {{child.pid}}")
time.sleep(60)
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body, timeout=1)).run(make_task(tmp_path), reporter)

    assert outcome.failure is not None and outcome.failure.category == "transient"
    agent_pid, grandchild_pid = (int(p) for p in reporter.messages()[0].split()[1:])
    assert process_gone(agent_pid)
    assert process_gone(grandchild_pid)


async def test_background_process_left_by_the_agent_is_ended(tmp_path):
    body = f"""
import subprocess
child = subprocess.Popen([{sys.executable!r}, "-c", "import time; time.sleep(60)"])
emit(type="result", output={{"leftover": child.pid}})
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.ok, outcome.failure
    assert process_gone(outcome.output["leftover"])


async def test_nonzero_exit_without_result_is_a_code_error_with_the_stderr_tail(tmp_path):
    body = """
sys.stderr.write("Traceback (most recent call last):\\nValueError: boom\\n")
sys.exit(3)
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    assert outcome.failure.category == "code_error"
    assert outcome.failure.message == "exited without a result: exit 3"
    assert "ValueError: boom" in outcome.failure.details


async def test_clean_exit_without_result_is_a_code_error(tmp_path):
    outcome = await CommandAgent(python_agent("pass")).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    assert outcome.failure.category == "code_error"
    assert outcome.failure.message == "exited without a result"


async def test_result_then_nonzero_exit_is_a_code_error(tmp_path):
    body = """
emit(type="result", output={})
sys.exit(2)
"""
    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None and outcome.failure.category == "code_error"
    assert outcome.failure.message == "failed after sending its result: exit 2"


async def test_missing_program_is_a_blocker(tmp_path):
    config = CommandAgentConfig(kind="command", command=["/nonexistent/agent-binary"])

    outcome = await CommandAgent(config).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "/nonexistent/agent-binary" in outcome.failure.message


async def test_flood_of_100000_lines_completes_with_bounded_logs(tmp_path):
    body = """
out = sys.stdout
for i in range(100000):
    out.write(f"line {i}\\n")
for i in range(100000):
    sys.stderr.write(f"err {i}\\n")
out.flush(); sys.stderr.flush()
emit(type="result", output={"lines": 100000})
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body, timeout=30)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    assert reporter.log_count < 10000
    shown = sum(1 for m in reporter.messages("info") if m.startswith("line "))
    warnings = " ".join(reporter.messages("warning"))
    held_back = sum(int(n) for n in re.findall(r"… (\d+) output lines not shown", warnings))
    assert shown + held_back == 100000
    assert held_back > 0


async def test_stderr_flood_keeps_only_a_bounded_tail(tmp_path):
    body = """
for i in range(100000):
    sys.stderr.write(f"err {i}\\n")
sys.exit(1)
"""
    outcome = await CommandAgent(python_agent(body, timeout=30)).run(make_task(tmp_path), RecordingReporter())

    assert outcome.failure is not None
    details = outcome.failure.details
    assert len(details) <= process.TAIL_MAX_CHARS + 100
    assert details.count("\n") <= process.TAIL_MAX_LINES
    assert details.endswith("err 99999")
    assert "err 0\n" not in details


async def test_one_megabyte_line_is_truncated_not_fatal(tmp_path):
    body = """
sys.stdout.write("x" * 1_000_000 + "\\n")
sys.stderr.write("e" * 1_000_000 + "\\n")
sys.stdout.write('{"type": "log", "message": "' + "y" * 1_000_000 + '"}\\n')
sys.stdout.flush(); sys.stderr.flush()
emit(type="result", output={"after": "the long lines"})
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output == {"after": "the long lines"}
    [(plain, plain_level), (protocol, protocol_level)] = [(m, lvl) for m, lvl in reporter.logs if "truncated" in m]
    assert plain_level == "info"
    assert plain.startswith("x" * 100) and plain.endswith("[truncated, 1000001 bytes]")
    assert protocol_level == "warning"
    assert "longer than" in protocol and protocol.endswith("[truncated, 1000031 bytes]")
    assert len(plain) < 2 * process.LOG_LINE_MAX_CHARS and len(protocol) < 2 * process.LOG_LINE_MAX_CHARS


async def test_long_log_message_is_clipped(tmp_path):
    body = """
emit(type="log", message="m" * 100_000, level="error")
emit(type="result", output={})
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.ok, outcome.failure
    [(message, level)] = reporter.logs
    assert level == "error"
    assert message.endswith("[truncated, 100000 characters]") and len(message) < 2 * process.LOG_LINE_MAX_CHARS


async def test_huge_output_without_any_newline_before_exit_is_not_fatal(tmp_path):
    body = """
sys.stdout.write("z" * 2_000_000); sys.stdout.flush()
sys.exit(5)
"""
    reporter = RecordingReporter()

    outcome = await CommandAgent(python_agent(body)).run(make_task(tmp_path), reporter)

    assert outcome.failure is not None and outcome.failure.message.endswith("exit 5")
    assert any(m.endswith("[truncated, 2000000 bytes]") for m in reporter.messages())


async def test_cancellation_kills_the_process_and_propagates(tmp_path):
    body = """
emit(type="log", message=f"pid {os.getpid()}")
import time; time.sleep(60)
"""
    reporter = RecordingReporter()
    pid_logged = reporter.wait_for_log(lambda m: m.startswith("pid "))
    run = asyncio.ensure_future(CommandAgent(python_agent(body, timeout=30)).run(make_task(tmp_path), reporter))

    pid = int((await asyncio.wait_for(pid_logged, 10)).split()[1])
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert process_gone(pid)


async def test_cancellation_while_asking_kills_the_process(tmp_path):
    body = """
emit(type="log", message=f"pid {os.getpid()}")
emit(type="question", question="Wait forever?")
sys.stdin.readline()
"""
    asked = asyncio.Event()

    async def never_answer(question: str) -> None:
        asked.set()
        await asyncio.Event().wait()

    reporter = RecordingReporter(on_ask=never_answer)
    run = asyncio.ensure_future(CommandAgent(python_agent(body, timeout=30)).run(make_task(tmp_path), reporter))

    await asyncio.wait_for(asked.wait(), 10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    pid = int(reporter.messages()[0].split()[1])
    assert process_gone(pid)
