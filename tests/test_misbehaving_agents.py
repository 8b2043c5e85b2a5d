"""Command agents that misbehave, seen from the orchestrator (tests/test_command_agent.py covers the agent unit).

Each test writes a tiny workspace whose three roles are `command` agents running `agent.py` (a Python
script given below), runs a whole orchestration (in process, or through the CLI when the exit code
or the process's memory matters) and checks what the run did: the events it logged, the failures,
the recovery decisions and the final status.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.agents import agent_factory
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.reducer import fold
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import Workspace, read_log

PRELUDE = """\
import json, os, sys, time
handoff = json.loads(sys.stdin.readline())
attempt = handoff["attempt"]
def emit(**message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()
def raw(text):
    sys.stdout.write(text + "\\n")
    sys.stdout.flush()
"""
"""What every agent script starts with: the parsed handoff, `emit(type=..., ...)` and `raw(line)`."""

FAST_RECOVERY = {"max_retries": 1, "max_replans": 0, "loop_guard": 3, "backoff": {"initial": 0}}
MEMORY_BOUND_MB = 200


async def nosleep(delay: float) -> None:
    """Back-off without waiting."""


def agent_workspace(project: Path, body: str, *, timeout: float = 20.0, recovery: dict | None = None) -> Workspace:
    """A workspace whose planner, builder and architect all run `agent.py` = PRELUDE + body."""
    root = project / ".studio"
    root.mkdir(parents=True)
    (project / "agent.py").write_text(PRELUDE + textwrap.dedent(body))
    command = {"kind": "command", "command": [sys.executable, "agent.py"], "timeout": timeout}
    config = {
        "recovery": recovery or FAST_RECOVERY,
        "checkpoints": {"every_steps": 0},
        "agents": {role: dict(command) for role in ("planner", "builder", "architect")},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return Workspace(root)


class Run:
    def __init__(self, ws: Workspace, state: OrchestrationState, seconds: float) -> None:
        self.ws = ws
        self.state = state
        self.seconds = seconds
        read = read_log(ws.events_path(state.id))
        assert read.bad_lines == [], read.bad_lines
        self.events = read.events

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]

    def logs(self, level: str | None = None) -> list[str]:
        return [e.message for e in self.of(ev.AgentLog) if level is None or e.level == level]


async def run_agent(tmp_path: Path, body: str, *, goal: str = "Fix the flaky thing", policy: str = "abort", **kw) -> Run:
    ws = agent_workspace(tmp_path / "project", body, **kw)
    config = ws.config()
    orchestrator = Orchestrator(ws, config, PolicyDecider(policy), agent_factory(ws, config), sleep=nosleep)  # type: ignore[arg-type]
    started = time.monotonic()
    state = await orchestrator.build(goal)
    run = Run(ws, state, time.monotonic() - started)
    # whatever happened, the log reproduces the state
    assert fold(run.events).to_yaml() == ws.state_path(state.id).read_text()
    return run


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


# ── hangs ───────────────────────────────────────────────────────────────


HANG = """\
with open(f"pid-{attempt}", "w") as handle:
    handle.write(str(os.getpid()))
emit(type="progress", step=1, total=2, description="waiting for a network that never answers")
time.sleep(600)
"""


@pytest.mark.parametrize("policy, final", [("abort", "aborted"), ("skip", "completed")])
async def test_hanging_agent_hits_its_timeout_retries_then_escalates(tmp_path, policy, final):
    run = await run_agent(tmp_path, HANG, timeout=0.3, policy=policy)
    failures = [(f.category, f.message) for f in run.state.failures]
    assert failures == [("transient", "timed out after 0.3s")] * 2
    assert [e.action for e in run.of(ev.RecoveryDecided)] == ["retry", "escalate"]
    escalations = [d for d in run.state.decisions if d.kind == "escalation"]
    assert [(d.answer, d.by) for d in escalations] == [(policy, "policy")]
    assert run.state.status == final
    assert run.state.agent("builder").status == ("failed" if policy == "abort" else "skipped")
    # both hung processes are gone, and the run did not wait for them
    pids = [int((run.ws.project_root / f"pid-{n}").read_text()) for n in (1, 2)]
    assert all(pid_gone(pid) for pid in pids)
    assert run.seconds < 10


# ── dying without a result ──────────────────────────────────────────────


@pytest.mark.parametrize(
    "ending, message",
    [
        ("sys.exit(0)", "exited without a result"),
        ("sys.exit(3)", "exited without a result: exit 3"),
        ("os.kill(os.getpid(), 9)", "exited without a result: killed by signal 9 (SIGKILL)"),
    ],
)
async def test_agent_dying_without_a_result_is_a_code_error(tmp_path, ending, message):
    body = f"""\
emit(type="progress", step=1, total=1, description="start")
sys.stderr.write("Traceback (most recent call last):\\nKeyError: 'x'\\n")
sys.stderr.flush()
{ending}
"""
    run = await run_agent(tmp_path, body)
    assert [(f.category, f.message) for f in run.state.failures] == [("code_error", message)] * 2
    assert "KeyError: 'x'" in run.state.failures[0].details
    assert [e.action for e in run.of(ev.RecoveryDecided)] == ["retry", "escalate"]
    assert run.state.status == "aborted"


# ── garbage on the protocol ─────────────────────────────────────────────


GARBAGE = """\
raw("not json at all")
raw("{oops")
raw('{"type": "weird", "x": 1}')
raw('{"type": "progress", "step": "one", "total": 2}')
raw('{"type": "tokens"}')
raw('{"type": "failure", "category": "cosmic", "message": "m"}')
raw("[1, 2, 3]")
raw("{}")
sys.stdout.buffer.write(b"\\xff\\xfe\\x80 not utf-8\\n")
sys.stdout.flush()
emit(type="progress", step=1, total=1, description="real work")
emit(type="progress", step=1, total=1, done=True)
emit(type="result", output={"task_id": None, "answer": 42})
"""


async def test_unparsable_protocol_lines_are_logged_and_the_run_goes_on(tmp_path):
    run = await run_agent(tmp_path, GARBAGE)
    assert run.state.status == "completed", run.state.summary
    assert run.state.failures == []
    builder = run.state.agent("builder")
    assert builder.output == {"task_id": None, "answer": 42}
    assert builder.steps_completed == [1]
    ignored = [m for m in run.logs("warning") if m.startswith("ignored agent output line")]
    # {oops, the unknown type, the bad step, the tokens without a pool, the unknown category, {}
    assert len(ignored) == 6, ignored
    assert any("{oops" in m for m in ignored) and any("cosmic" in m for m in ignored)
    plain = run.logs("info")
    assert "not json at all" in plain and "[1, 2, 3]" in plain
    assert any("not utf-8" in m and "\ufffd" in m for m in plain)


async def test_a_lone_surrogate_in_a_protocol_line_is_not_fatal(tmp_path):
    body = """\
raw('{"type": "log", "message": "half a pair: \\\\ud800"}')
emit(type="result", output={})
"""
    run = await run_agent(tmp_path, body)
    assert run.state.status == "completed", run.state.summary


async def test_a_deeply_nested_protocol_line_is_not_fatal(tmp_path):
    body = """\
raw('{"type": "log", "message": ' + "[" * 100000)
emit(type="result", output={})
"""
    run = await run_agent(tmp_path, body)
    assert run.state.status == "completed", run.state.summary
    assert any(m.startswith("ignored agent output line") for m in run.logs("warning"))


async def test_a_deeply_nested_result_is_not_fatal(tmp_path):
    body = """\
nested = []
for _ in range(500):
    nested = [nested]
emit(type="result", output={"tree": nested})
"""
    run = await run_agent(tmp_path, body)
    # refused as a bad result (a code error) or kept: either way the orchestrator itself does not crash
    assert not any("Traceback" in m for m in run.logs("error")), run.state.summary


async def test_invented_pool_names_keep_the_log_linear(tmp_path):
    body = """\
for i in range(1000):
    emit(type="tokens", pool=f"pool{i}", tokens=1)
emit(type="result", output={})
"""
    run = await run_agent(tmp_path, body)
    size = run.ws.events_path(run.state.id).stat().st_size
    assert size < 1_000_000, f"events.jsonl is {size} bytes for 1,000 token lines"


# ── floods ──────────────────────────────────────────────────────────────


PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code)\n"
)
"""Runs the command under a small fresh interpreter and writes its peak RSS: a child forked straight from
pytest would count pytest's own memory (the high-water mark survives exec), so its peak would depend on
which tests ran before."""


def run_cli_measured(ws: Workspace, *args: str, deadline_s: float = 120.0) -> tuple[int, int, str]:
    """Run `studio-tui ARGS` on `ws`; (exit code, peak RSS in KiB of it and its descendants, stdout)."""
    env = dict(os.environ, CI="true", NO_COLOR="1", COLUMNS="160")
    out_path = ws.project_root / "cli.out"
    peak_path = ws.project_root / "cli.peak"
    command = [sys.executable, "-m", "studio_tui", "--workspace", str(ws.root), *args]
    with open(out_path, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", PEAK_WRAPPER, str(peak_path), *command],
            cwd=ws.project_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        code = proc.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"studio-tui did not finish in {deadline_s}s") from None
    return code, int(peak_path.read_text()), out_path.read_text(errors="replace")


FLOOD = """\
emit(type="progress", step=1, total=1, description="flooding")
for i in range(100_000):
    sys.stdout.write(f"compiling module {i} of 100000\\n")
sys.stdout.flush()
emit(type="progress", step=1, total=1, done=True)
emit(type="result", output={"lines": 100_000})
"""


def test_a_flood_of_100000_lines_completes_with_bounded_memory_and_log(tmp_path):
    ws = agent_workspace(tmp_path / "project", FLOOD)
    code, peak_kib, out = run_cli_measured(ws, "build", "Fix the noisy build", "--headless")
    assert code == 0, out[-2000:]
    events = read_log(ws.events_path(ws.latest())).events
    logs = [e for e in events if isinstance(e, ev.AgentLog) and e.agent == "builder"]
    assert len(logs) < 2_000, len(logs)
    assert any("output lines not shown" in e.message for e in logs)
    assert fold(events).agent("builder").output == {"lines": 100_000}
    assert len(out.splitlines()) < 2_100
    assert peak_kib < MEMORY_BOUND_MB * 1024, f"peak RSS {peak_kib / 1024:.0f} MB"


# ── the loop guard and a halt ───────────────────────────────────────────


async def test_the_loop_guard_escalates_a_repeating_error_with_retries_left(tmp_path):
    body = """\
emit(type="failure", category="code_error", message=f"NameError: name 'x' is not defined (line {attempt * 10})")
"""
    recovery = {"max_retries": 5, "max_replans": 1, "loop_guard": 3, "backoff": {"initial": 0}}
    run = await run_agent(tmp_path, body, recovery=recovery)
    decided = run.of(ev.RecoveryDecided)
    assert [e.action for e in decided] == ["retry", "retry", "escalate"]
    assert "loop guard" in decided[-1].reason
    assert decided[-1].retries_used == 2  # retries were left: the guard, not the limit, escalated
    assert len(run.of(ev.AgentStarted)) == 3
    assert run.state.status == "aborted"


def test_a_critical_failure_halts_and_runs_no_further_step(tmp_path):
    body = """\
if handoff["role"] == "planner":
    emit(type="progress", step=1, total=3, description="read the schema")
    emit(type="progress", step=1, total=3, done=True)
    emit(type="progress", step=2, total=3, description="drop the production database?")
    emit(type="failure", category="critical", step=2, message="refusing: this would destroy data")
    sys.exit(1)
else:
    with open("builder-ran", "w") as handle:
        handle.write("yes")
    emit(type="result", output={})
"""
    ws = agent_workspace(tmp_path / "project", body)
    code, _, out = run_cli_measured(ws, "build", "Add a users table", "--headless")
    assert code == 1, out[-2000:]
    assert "HALTED" in out
    events = read_log(ws.events_path(ws.latest())).events
    failed_at = next(i for i, e in enumerate(events) if isinstance(e, ev.AgentFailed))
    assert events[failed_at].category == "critical"
    later = events[failed_at + 1 :]
    assert not [e for e in later if isinstance(e, (ev.AgentStarted, ev.AgentStep, ev.AgentCompleted))]
    assert [e.action for e in later if isinstance(e, ev.RecoveryDecided)] == ["halt"]
    state = fold(events)
    assert state.status == "halted"
    assert state.agent("builder").status == "pending"
    assert not (ws.project_root / "builder-ran").exists()


async def test_a_critical_failure_from_an_agent_that_does_not_exit_still_halts(tmp_path):
    body = """\
with open(f"attempt-{attempt}", "w") as handle:
    handle.write("ran")
emit(type="progress", step=1, total=1, description="drop the production database?")
emit(type="failure", category="critical", step=1, message="refusing: this would destroy data")
time.sleep(600)
"""
    run = await run_agent(tmp_path, body, timeout=1.0)
    assert [(f.category, f.message) for f in run.state.failures] == [("critical", "refusing: this would destroy data")]
    assert run.state.status == "halted"
    assert not (run.ws.project_root / "attempt-2").exists()
