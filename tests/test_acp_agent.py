"""AcpAgent against real ACP agent processes (tests/acp_agents/, written with the agent side of the
same `agent-client-protocol` package): events mapped, permissions, cancellation, crash, hang,
file confinement, and one run through the Orchestrator.

Each agent process needs about a second to import the package, so scenarios share processes where
that keeps a test readable, and independent runs go concurrently.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import RecordingReporter, make_task, process_gone

from studio_tui.core import events as ev
from studio_tui.core.agents import agent_factory
from studio_tui.core.agents.acp import AcpAgent, agent_argv, agent_cwd, confine, render_prompt
from studio_tui.core.agents.acp import process as acp_process
from studio_tui.core.agents.base import PermissionOption
from studio_tui.core.agents.process import RunClock
from studio_tui.core.config import AcpAgentConfig
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.store import Workspace, read_log

AGENTS = Path(__file__).resolve().parent / "acp_agents"
WAIT = 20.0
"""Deadline for anything a test awaits from an agent process (a loaded machine starts them slowly)."""

OFFERED = [
    PermissionOption(id="allow-once", name="Allow once", kind="allow_once"),
    PermissionOption(id="allow-always", name="Always allow writes", kind="allow_always"),
    PermissionOption(id="reject-once", name="Reject", kind="reject_once"),
    PermissionOption(id="reject-always", name="Never allow writes", kind="reject_always"),
]


class AcpReporter(RecordingReporter):
    """A RecordingReporter that also answers permission requests (by `answer`, or never when `block`)."""

    def __init__(self, answer: Callable[[list[PermissionOption]], str | None] | None = None, *, block: bool = False) -> None:
        super().__init__()
        self.answer = answer
        self.block = block
        self.permissions: list[tuple[str, list[PermissionOption], dict[str, Any] | None]] = []
        self.asked = asyncio.Event()
        self.withdrawn = False

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        self.permissions.append((title, list(options), details))
        self.events.append(("permission", title))
        self.asked.set()
        if self.block:
            try:
                await asyncio.Future()
            except asyncio.CancelledError:
                self.withdrawn = True
                raise
        return self.answer(options) if self.answer else None


def choose(kind: str) -> Callable[[list[PermissionOption]], str | None]:
    return lambda options: next(o.id for o in options if o.kind == kind)


def config(agent: str, *args: str, timeout: float = 30.0, **fields: Any) -> AcpAgentConfig:
    return AcpAgentConfig(kind="acp", command=[sys.executable, str(AGENTS / agent)], args=list(args), timeout=timeout, **fields)


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("# demo\nthe readme\n")
    return root


def pid_of(reporter: RecordingReporter) -> int:
    started = next(m for m in reporter.messages("debug") if m.startswith("started ACP agent"))
    return int(started.rsplit("(pid ", 1)[1].rstrip(")"))


def summary(outcome: Any) -> dict[str, Any]:
    return json.loads(outcome.output["summary"])


def trace_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# ── the good agent: everything mapped ──────────────────────────────────────


async def test_good_agent_streams_plan_tools_usage_and_permission_into_the_reporter(tmp_path):
    root = project(tmp_path)
    template = "Goal: {goal}\nRole: {role} ({mode}, attempt {attempt}) task {task_id}\nContext: {context}\n{{literal}}"
    task = make_task(root, context={"plan_id": "bp_1"}, attempt=2)
    reporter = AcpReporter(choose("allow_once"))

    outcome = await AcpAgent(config("good_agent.py", prompt=template)).run(task, reporter)

    assert outcome.ok, outcome.failure
    assert outcome.output["stop_reason"] == "end_turn"
    assert outcome.output["tool_calls"] == 2
    assert outcome.output["usage"] == {"context_used": 1500, "context_size": 200000}
    result = summary(outcome)
    assert result["permission"] == "allow-once" and result["wrote"] is True
    assert result["read"] == "# demo\nthe readme\n"
    assert result["cwd"] == str(root)
    assert result["prompt"] == render_prompt(template, task)
    assert result["prompt"].startswith("Goal: build the thing\nRole: builder (build, attempt 2) task T1\nContext: {\n")
    assert result["prompt"].endswith("{literal}")
    assert result["terminal"] is True  # the terminal capability is advertised
    assert (root / "notes.txt").read_text() == "notes by the good agent\n"

    # Plan entries are the steps; usage is charged as deltas; the permission comes in stream order.
    assert reporter.events == [
        ("step", 1, 3, "Inspect the project", False),
        ("tokens", "working", 1000),
        ("step_done", 1),
        ("step", 2, 3, "Write the notes", False),
        ("permission", "Write notes.txt"),
        ("tokens", "working", 500),
        ("step_done", 2),
        ("step_done", 3),
    ]
    _title, options, details = reporter.permissions[0]
    assert options == OFFERED
    assert details == {"tool_call": {"id": "t2", "title": "Write notes.txt", "kind": "edit", "input": '{\n  "path": "notes.txt"\n}'}}

    # Chunks are coalesced into lines; thoughts are debug lines; tool calls are log lines under a plan.
    logs = [(m, level) for m, level in reporter.logs if not m.startswith(("started ACP agent", "connected to"))]
    assert logs == [
        ("thinking: Considering the goal carefully", "debug"),
        ("Hello from the good agent.", "info"),
        ("Second line.", "info"),
        ("tool call: Read README.md (read)", "info"),
        ("tool call: Write notes.txt (edit)", "info"),
        ("permission for 'Write notes.txt': Allow once (allow_once)", "info"),
        ("agent wrote notes.txt (24 characters)", "info"),
        (outcome.output["summary"], "info"),
    ]
    assert "connected to good-agent 1.0" in reporter.messages("debug")
    assert process_gone(pid_of(reporter))


async def test_rejected_permission_without_a_plan_tool_calls_are_the_steps(tmp_path, monkeypatch):
    clocks: list[RunClock] = []

    class SpyClock(RunClock):
        def __init__(self, limit: float) -> None:
            super().__init__(limit)
            clocks.append(self)

    monkeypatch.setattr(acp_process, "RunClock", SpyClock)
    clock_paused: list[bool] = []

    def reject(options: list[PermissionOption]) -> str | None:
        clock_paused.append(clocks[0].remaining() is None)
        return choose("reject_once")(options)

    root = project(tmp_path)
    reporter = AcpReporter(reject)

    outcome = await AcpAgent(config("good_agent.py", "--no-plan")).run(make_task(root), reporter)

    assert outcome.ok, outcome.failure
    assert clock_paused == [True], "time waiting for a person must not count against the timeout"
    assert summary(outcome)["permission"] == "reject-once"
    assert summary(outcome)["wrote"] is False
    assert not (root / "notes.txt").exists()
    assert reporter.events == [
        ("tokens", "working", 1000),
        ("step", 1, 1, "Read README.md", False),
        ("step_done", 1),
        ("step", 2, 2, "Write notes.txt", False),
        ("permission", "Write notes.txt"),
        ("tokens", "working", 500),
    ]
    assert "tool call failed: Write notes.txt" in reporter.messages("warning")


async def test_stop_reasons_map_to_failure_categories(tmp_path):
    root = project(tmp_path)
    reasons = {"refusal": "blocker", "max_tokens": "design_flaw", "max_turn_requests": "design_flaw"}

    async def run(reason: str) -> Any:
        return await AcpAgent(config("good_agent.py", "--stop-reason", reason)).run(make_task(root), AcpReporter(choose("reject_once")))

    outcomes = await asyncio.gather(*(run(reason) for reason in reasons))

    for (reason, category), outcome in zip(reasons.items(), outcomes, strict=False):
        assert outcome.failure is not None, reason
        assert outcome.failure.category == category, reason
        assert f"stop reason: {reason}" in outcome.failure.message
        assert outcome.failure.details.startswith("last message: {")


# ── cancellation and permissions answered cancelled ─────────────────────────


async def test_cancelling_the_run_mid_permission_cancels_the_session_and_ends_the_process(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    reporter = AcpReporter(block=True)
    run = asyncio.ensure_future(AcpAgent(config("good_agent.py", "--trace", str(trace))).run(make_task(root), reporter))

    await asyncio.wait_for(reporter.asked.wait(), WAIT)
    pid = pid_of(reporter)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert reporter.withdrawn, "the pending permission question must be withdrawn"
    assert process_gone(pid)
    lines = trace_lines(trace)
    # session/cancel first, then the pending request answered with ACP's cancelled outcome.
    assert lines.index("cancel received") < lines.index("permission cancelled")
    assert not (root / "notes.txt").exists()


async def test_permission_answered_cancelled_cancels_the_turn_and_escalates(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    reporter = AcpReporter(lambda options: None)

    outcome = await AcpAgent(config("good_agent.py", "--trace", str(trace))).run(make_task(root), reporter)

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "answered cancelled" in outcome.failure.message
    lines = trace_lines(trace)
    assert lines.index("cancel received") < lines.index("permission cancelled")
    assert any("cancelling the agent's turn" in m for m in reporter.messages("warning"))


# ── processes that crash or hang ──────────────────────────────────────────


async def test_agent_that_crashes_mid_prompt_is_a_code_error_with_the_stderr_tail(tmp_path):
    root = project(tmp_path)
    reporter = AcpReporter()

    outcome = await AcpAgent(config("crash_agent.py")).run(make_task(root), reporter)

    assert outcome.failure is not None and outcome.failure.category == "code_error"
    assert outcome.failure.message == "the agent process ended during session/prompt: exit 3"
    assert "boom: the agent fell over" in outcome.failure.details
    assert "about to crash" in reporter.messages("info")
    assert process_gone(pid_of(reporter))


async def test_hang_that_ignores_cancel_times_out_as_transient_and_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(acp_process, "CANCEL_GRACE_SECONDS", 0.2)
    root = project(tmp_path)
    reporter = AcpReporter()
    started = time.monotonic()

    outcome = await AcpAgent(config("hang_agent.py", timeout=2.5)).run(make_task(root), reporter)

    assert outcome.failure is not None and outcome.failure.category == "transient"
    assert outcome.failure.message == "timed out after 2.5s"
    assert time.monotonic() - started < 2.5 + 6
    assert process_gone(pid_of(reporter))


async def test_hang_that_honours_cancel_ends_its_turn_when_the_run_is_cancelled(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    reporter = AcpReporter()
    hanging = reporter.wait_for_log(lambda m: m.startswith("hanging in pid"))
    run = asyncio.ensure_future(AcpAgent(config("hang_agent.py", "--honour-cancel", "--trace", str(trace))).run(make_task(root), reporter))

    pid = int((await asyncio.wait_for(hanging, WAIT)).rsplit(" ", 1)[1])
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert process_gone(pid)
    assert trace_lines(trace)[-2:] == ["cancel received", "ending the turn as cancelled"]


async def test_missing_program_is_a_blocker(tmp_path):
    cfg = AcpAgentConfig(kind="acp", command=["/nonexistent/acp-agent"], args=["--acp"])

    outcome = await AcpAgent(cfg).run(make_task(tmp_path), AcpReporter())

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "cannot start ACP agent '/nonexistent/acp-agent --acp'" in outcome.failure.message


# ── file requests are confined to the project root ────────────────────────


async def test_file_requests_outside_the_project_root_are_refused(tmp_path):
    root = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (root / "link").symlink_to(outside, target_is_directory=True)
    refused = [
        "read:../../etc/passwd",
        "read:/etc/passwd",
        "read:link/secret.txt",
        f"read:{root}/link/secret.txt",
        f"read:{root}/../outside/secret.txt",
        "write:../outside/new.txt",
        f"write:{outside}/new.txt",
        "write:link/new.txt",
    ]
    allowed = ["read:README.md", f"write:{root}/sub/ok.txt"]
    reporter = AcpReporter()

    outcome = await AcpAgent(config("escape_agent.py", *refused, *allowed)).run(make_task(root), reporter)

    assert outcome.ok, outcome.failure
    results = summary(outcome)
    for attempt in refused:
        assert results[attempt]["code"] == -32602, attempt
        assert "outside the project root" in results[attempt]["message"], attempt
    assert results["read:README.md"] == {"ok": "# demo\nthe readme\n"}
    assert results[f"write:{root}/sub/ok.txt"] == {"ok": True}
    assert (root / "sub" / "ok.txt").read_text() == "escaped\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert len([m for m in reporter.messages("warning") if "outside the project root" in m]) == len(refused)


def test_confine_resolves_symlinks_and_dot_dots(tmp_path):
    root = tmp_path / "root"
    (root / "src").mkdir(parents=True)
    (root / "escape").symlink_to(tmp_path)
    (root / "inner").symlink_to(root / "src")

    assert confine(root, "src/../README.md") == (root / "README.md").resolve()
    assert confine(root, str(root / "inner" / "new.py")) == (root / "src" / "new.py").resolve()
    assert confine(root, ".") == root.resolve()
    assert confine(root, "escape/secret") is None
    assert confine(root, "../root2/x") is None
    assert confine(root, "/") is None


# ── configuration ─────────────────────────────────────────────────────────


def test_config_command_args_cwd_and_prompt_placeholders(tmp_path):
    cfg = AcpAgentConfig(kind="acp", command="npx -y '@zed-industries/claude-code-acp'", args=["--verbose"], cwd="sub")
    assert agent_argv(cfg) == ["npx", "-y", "@zed-industries/claude-code-acp", "--verbose"]
    assert agent_cwd(cfg, tmp_path) == tmp_path / "sub"
    assert agent_cwd(AcpAgentConfig(kind="acp", command=["x"]), tmp_path) == tmp_path
    default = render_prompt(cfg.prompt, make_task(tmp_path, context={"k": 1}))
    assert "Goal: build the thing" in default and '"k": 1' in default

    with pytest.raises(ValueError, match=r"unknown placeholder \{goals\}"):
        AcpAgentConfig(kind="acp", command=["x"], prompt="{goals}")
    with pytest.raises(ValueError, match="command is empty"):
        AcpAgentConfig(kind="acp", command=[])


# ── through the orchestrator ──────────────────────────────────────────────


async def test_orchestrator_runs_an_acp_builder_and_logs_the_offered_permission(tmp_path):
    root = project(tmp_path)
    studio = root / ".studio"
    studio.mkdir()
    agent = {"kind": "acp", "command": [sys.executable, str(AGENTS / "good_agent.py")], "timeout": 60}
    (studio / "config.yaml").write_text(
        yaml.safe_dump({"checkpoints": {"every_steps": 0}, "agents": {"planner": agent, "builder": agent, "architect": agent}})
    )
    workspace = Workspace(studio)
    cfg = workspace.config()
    orchestrator = Orchestrator(workspace, cfg, PolicyDecider(permissions="allow"), agent_factory(workspace, cfg))

    state = await asyncio.wait_for(orchestrator.build("Fix the typo in the README"), WAIT * 2)

    assert state.status == "completed", state.summary
    events = read_log(workspace.events_path(state.id)).events
    requested = [e for e in events if isinstance(e, ev.DecisionRequested) and e.kind == "permission"]
    assert len(requested) == 1
    assert requested[0].prompt == "Write notes.txt"
    assert requested[0].details["options"] == [{"id": o.id, "name": o.name, "kind": o.kind} for o in OFFERED]
    answered = [e for e in events if isinstance(e, ev.DecisionAnswered) and e.decision_id == requested[0].decision_id]
    assert [(a.answer, a.by) for a in answered] == [("allow-once", "policy")]
    completed = [e for e in events if isinstance(e, ev.AgentCompleted) and e.agent == "builder"]
    assert completed and completed[0].output["stop_reason"] == "end_turn"
    assert (root / "notes.txt").exists()
