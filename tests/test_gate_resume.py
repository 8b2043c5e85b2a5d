"""A quality gate that passed before a kill -9 is recorded (`gate_passed`) and not run again on resume;
a step that runs after it (the code may change) makes it count no more."""

from __future__ import annotations

import signal
import subprocess

import pytest
from test_fork_route_liveness import DEADLINE_S, log_has, newest_cp, plan_with, studio, use_plan_builder, wait_until

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.store import read_log


@pytest.fixture
def cli_env_fixture(doubles, _subprocess_bytecode_cache):
    return doubles.cli_env()


def test_a_gate_passed_before_kill_9_is_not_run_again_on_resume(write_ws, cli_env_fixture):
    gates = [
        {"name": "lint", "command": "echo lint >> sidefx.log"},
        # held here until the test has killed the run: it waits for a file created after the kill
        {"name": "hold", "command": "touch holding; until test -f go; do sleep 0.05; done; echo hold >> sidefx.log"},
    ]
    plan = plan_with("task_g", ["echo step >> sidefx.log"], quality_gates=gates)
    ws = use_plan_builder(write_ws({"goal": "x"}, plans={"task_g": plan}))
    proc = subprocess.Popen(
        studio(ws, "build", "Finish task_g", "--headless", "--on-escalation", "abort"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: log_has(ws, '"type":"gate_passed"'), "the lint gate to pass", proc)
        # the gate's shell itself runs (its parent-death signal is set): the kill takes it down too
        wait_until(lambda: (ws.project_root / "holding").exists(), "the hold gate to start", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    orch_id = ws.latest()
    before = fold(read_log(ws.events_path(orch_id)).events)
    assert before.agent("builder").gates_passed == ["lint"]
    assert before.status != "completed"
    (ws.project_root / "go").touch()
    done = subprocess.run(
        studio(ws, "resume", newest_cp(ws, orch_id), "--headless", "--on-escalation", "abort"),
        cwd=ws.project_root,
        env=cli_env_fixture,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (ws.project_root / "sidefx.log").read_text().split()
    assert lines.count("lint") == 1, lines
    assert lines.count("step") == 1, lines
    assert lines.count("hold") == 1, lines
    events = read_log(ws.events_path(orch_id)).events
    final = fold(events)
    assert final.status == "completed"
    assert final.agent("builder").output["quality_gates"] == {"lint": "passed", "hold": "passed"}
    resumed_at = max(i for i, e in enumerate(events) if isinstance(e, ev.Resumed))
    after = events[resumed_at:]
    assert any(isinstance(e, ev.AgentLog) and e.message == "quality gate lint passed before the interruption: not run again" for e in after)
    assert [e.gate for e in after if isinstance(e, ev.GatePassed)] == ["hold"]
    assert sorted(final.agent("builder").gates_passed) == ["hold", "lint"]


def _event(cls, seq, **fields):
    return cls(seq=seq, ts=float(seq), orch_id="orch_x", **fields)


def test_gates_passed_count_only_after_the_last_step_and_within_the_attempt():
    started = _event(ev.AgentStarted, 1, agent="builder", role="builder", attempt=1, restart_steps=False)
    step = _event(ev.AgentStep, 2, agent="builder", step=1, status="started")
    done = _event(ev.AgentStep, 3, agent="builder", step=1, status="completed")
    lint = _event(ev.GatePassed, 4, agent="builder", gate="lint", command="ruff check", attempt=1)
    tests = _event(ev.GatePassed, 5, agent="builder", gate="tests", command="pytest", attempt=1)
    state = fold([started, step, done, lint, tests, lint])
    assert state.agent("builder").gates_passed == ["lint", "tests"]
    # a later step may change the code: the gates run again
    again = fold([_event(ev.AgentStep, 6, agent="builder", step=2, status="started")], state)
    assert again.agent("builder").gates_passed == []
    # a resumed attempt (no restart) keeps them; a failed attempt or a restart drops them
    resumed = fold([_event(ev.AgentStarted, 6, agent="builder", role="builder", attempt=2, restart_steps=False)], state)
    assert resumed.agent("builder").gates_passed == ["lint", "tests"]
    failed = fold([_event(ev.AgentFailed, 6, agent="builder", category="code_error", message="gate failed")], state)
    assert failed.agent("builder").gates_passed == []
    restarted = fold([_event(ev.AgentStarted, 6, agent="builder", role="builder", attempt=2, restart_steps=True)], state)
    assert restarted.agent("builder").gates_passed == []
    # a completed builder re-invoked checks its gates again
    completed = fold([_event(ev.AgentCompleted, 6, agent="builder", output={})], state)
    assert completed.agent("builder").gates_passed == ["lint", "tests"]
    reinvoked = fold([_event(ev.AgentStatus, 7, agent="builder", status="pending", reason="re-invoked")], completed)
    assert reinvoked.agent("builder").gates_passed == []
