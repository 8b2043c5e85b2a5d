"""The ACP client's capabilities (issue 10) against a real agent process (tests/acp_agents/client_agent.py):
permissions a person can judge and path-aware policies, cancel meaning cancelled, terminal/*, tool call
content kept as events and blobs, modes/commands/MCP, sign-in, Claude's root refusal, stderr in its
own bounded stream."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from agent_helpers import RecordingReporter, make_task, process_gone
from rich.console import Console

from studio_tui.core import events as ev
from studio_tui.core.agents import agent_factory
from studio_tui.core.agents.acp import AcpAgent
from studio_tui.core.agents.acp.records import STDERR_FILE_MAX_BYTES, read_blob
from studio_tui.core.agents.base import PermissionOption
from studio_tui.core.config import AcpAgentConfig
from studio_tui.core.decider import Answer, DecisionRequest, PolicyDecider, option_keys
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.store import Workspace, read_log
from studio_tui.headless import render_request

AGENTS = Path(__file__).resolve().parent / "acp_agents"
WAIT = 30.0


class ClientReporter(RecordingReporter):
    """Records events (`record`) and keeps files in `folder`, like the orchestrator's reporter; answers
    permission requests with `answer` (None: cancelled), or never when `block`."""

    def __init__(
        self, folder: Path | None, answer: Callable[[list[PermissionOption]], str | None] | None = None, *, block: bool = False
    ) -> None:
        super().__init__()
        self.folder = folder
        self.answer = answer
        self.block = block
        self.recorded: list[ev.Event] = []
        self.permissions: list[tuple[str, list[PermissionOption], dict[str, Any]]] = []
        self.asked = asyncio.Event()

    async def record(self, event: type[ev._Event], **fields: Any) -> None:
        self.recorded.append(event(agent="builder:T1", **fields))

    def files_dir(self) -> Path | None:
        return self.folder

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        self.permissions.append((title, list(options), details or {}))
        self.asked.set()
        if self.block:
            await asyncio.Future()
        return self.answer(options) if self.answer else None

    def of(self, kind: type[ev._Event]) -> list[Any]:
        return [e for e in self.recorded if isinstance(e, kind)]


def config(scenario: str, *args: str, timeout: float = 60.0, **fields: Any) -> AcpAgentConfig:
    return AcpAgentConfig(
        kind="acp",
        command=[sys.executable, str(AGENTS / "client_agent.py"), "--scenario", scenario],
        args=list(args),
        timeout=timeout,
        **fields,
    )


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('old')\n")
    return root


def result_of(outcome: Any) -> dict[str, Any]:
    assert outcome.ok, outcome.failure
    return json.loads(outcome.output["summary"])


def pick(kind: str) -> Callable[[list[PermissionOption]], str | None]:
    return lambda options: next(o.id for o in options if o.kind == kind)


def request_from(title: str, options: list[PermissionOption], details: dict[str, Any]) -> DecisionRequest:
    """The DecisionRequest the orchestrator's reporter makes of a permission call."""
    offered = {"options": [{"id": o.id, "name": o.name, "kind": o.kind} for o in options], **details}
    return DecisionRequest("d1", "permission", title, "builder:T1", (*tuple(o.id for o in options), "cancelled"), offered)


# ── 1. permissions a person can judge ─────────────────────────────────────


async def test_permission_for_a_path_outside_the_root_shows_command_locations_and_diff(tmp_path):
    root = project(tmp_path)
    outside = tmp_path / "elsewhere" / "victim.txt"
    reporter = ClientReporter(tmp_path / "orch", pick("reject_once"))

    outcome = await AcpAgent(config("outside", "--path", str(outside))).run(make_task(root), reporter)

    assert result_of(outcome) == {"permission": "reject"}
    title, options, details = reporter.permissions[0]
    tool = details["tool_call"]
    assert title == "Edit a file outside the project"
    assert tool["kind"] == "edit"
    assert tool["command"] == f"cat {outside} && echo '[bold]x[/]' > {outside}"
    assert tool["locations"] == [{"path": str(outside), "outside": True}, {"path": "src/app.py", "outside": False, "line": 3}]
    assert details["outside_root"] == [str(outside)]
    preview = tool["diffs"][0]["preview"].splitlines()
    assert tool["diffs"][0]["outside"] is True
    assert "-old line" in preview and "+new line" in preview
    assert any("outside the project root" in m for m in reporter.messages("warning"))

    # The headless prompt: numbered keys (Claude's allow_always/allow would share `a`), the command
    # literally, the outside path flagged.
    request = request_from(title, options, details)
    assert option_keys(request) == ["1", "2", "3", "4"]
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(render_request(request))
    shown = " ".join(console.file.getvalue().split())
    assert f"cat {outside} && echo '[bold]x[/]' > {outside}" in shown
    assert f"Location {outside} OUTSIDE the project root" in shown
    assert "[1] Always Allow (allow_always)" in shown and "[2] Allow (allow_once)" in shown
    assert "[4] withdraw the request" in shown
    assert "+new line" in shown


async def test_allow_policy_refuses_outside_paths_unless_allow_outside_lists_them(tmp_path):
    root = project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = elsewhere / "victim.txt"

    async def run(allow_outside: list[str]) -> tuple[str, Answer]:
        reporter = ClientReporter(None)
        answers: list[Any] = []

        async def decide(title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
            answer = await PolicyDecider(permissions="allow").decide(request_from(title, options, details or {}))
            answers.append(answer)
            return None if answer.value == "cancelled" else answer.value

        reporter.permission = decide  # type: ignore[method-assign]
        outcome = await AcpAgent(config("outside", "--path", str(outside)), allow_outside=allow_outside).run(make_task(root), reporter)
        return result_of(outcome)["permission"], answers[0]

    (refused, refused_answer), (allowed, allowed_answer) = await asyncio.gather(run([]), run([str(elsewhere)]))

    assert refused == "reject" and refused_answer.by == "policy"
    assert "outside the project root" in refused_answer.reason and str(outside) in refused_answer.reason
    assert allowed == "allow" and allowed_answer.reason == ""


# ── 2. cancel means cancelled ─────────────────────────────────────────────


async def test_permission_cancelled_stays_cancelled_when_the_agent_says_end_turn(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    reporter = ClientReporter(None, lambda options: None)

    outcome = await AcpAgent(config("ignore-cancel", "--trace", str(trace))).run(make_task(root), reporter)

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "answered cancelled" in outcome.failure.message and "end_turn" in outcome.failure.message
    lines = trace.read_text().splitlines()
    assert lines.index("cancel received") < lines.index("permission cancelled")


async def test_aborting_an_agent_that_ignores_cancel_answers_the_pending_request_cancelled(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    reporter = ClientReporter(None, block=True)
    run = asyncio.ensure_future(AcpAgent(config("ignore-cancel", "--trace", str(trace))).run(make_task(root), reporter))

    await asyncio.wait_for(reporter.asked.wait(), WAIT)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    lines = trace.read_text().splitlines()
    assert "permission cancelled" in lines
    assert lines.index("cancel received") < lines.index("permission cancelled")


# ── 3. terminals, tool call content ───────────────────────────────────────


async def test_terminal_requests_run_real_commands_bounded_streamed_and_killed_at_the_end(tmp_path):
    root = project(tmp_path)
    reporter = ClientReporter(tmp_path / "orch")

    outcome = await AcpAgent(config("terminal")).run(make_task(root), reporter)

    result = result_of(outcome)
    limited = result["limited"]
    assert (limited["exit_code"], limited["signal"], limited["exit_status"]) == (3, None, 3)
    assert limited["truncated"] is True
    # 41 bytes kept from the end, cut at a character boundary: 20 two-byte "é".
    assert limited["output"] == "é" * 20
    assert result["shell"] == f"hello from {root.resolve()}\n"
    assert result["running_exit_status"] is None
    assert result["killed"] == {"exit_code": None, "signal": "SIGTERM"}
    assert result["released"] == -32602
    assert result["outside_cwd"] == -32602
    assert process_gone(result["left_pid"]), "a terminal left running must be killed when the run ends"

    streamed = [e for e in reporter.of(ev.TerminalOutput) if e.terminal_id == "term-1"]
    text = "".join(e.output for e in streamed)
    assert text.startswith("line one\nto stderr\n") and text.endswith("é" * 50)
    assert streamed[-1].done and streamed[-1].exit_code == 3
    assert {e.command for e in streamed} == {
        "/bin/sh -c " + "printf 'line one\\n'; printf 'to stderr\\n' >&2; printf 'é%.0s' $(seq 1 50); exit 3"
    }
    recorded = [e for e in reporter.of(ev.ToolCallRecorded) if e.tool_call_id == "run1"]
    assert recorded[0].content[0].kind == "terminal" and recorded[0].content[0].terminal_id == "term-1"
    assert recorded[-1].status == "completed"


async def test_aborting_the_run_kills_a_running_terminal(tmp_path):
    reporter = ClientReporter(None)
    left = reporter.wait_for_log(lambda m: m.startswith("left pid "))
    run = asyncio.ensure_future(AcpAgent(config("terminal", "--hang-after")).run(make_task(project(tmp_path)), reporter))

    pid = int((await asyncio.wait_for(left, WAIT)).split()[-1])
    os.kill(pid, 0)  # running (raises if not)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert process_gone(pid), "abort must kill the terminals the agent started"


async def test_tool_call_diffs_are_recorded_inline_or_as_blobs_and_v2_fields_are_kept(tmp_path):
    root = project(tmp_path)
    folder = tmp_path / "orch"
    reporter = ClientReporter(folder)

    outcome = await AcpAgent(config("diff")).run(make_task(root), reporter)

    assert result_of(outcome) == {"sent": 3}
    calls = {e.tool_call_id: e for e in reporter.of(ev.ToolCallRecorded)}
    small = calls["e1"].content[0]
    assert (small.kind, small.path, small.old_text, small.new_text, small.blob) == (
        "diff",
        "src/app.py",
        "print('old')\n",
        "print('new')\n",
        None,
    )
    assert calls["e1"].locations == ["src/app.py"]
    big = calls["e2"].content[0]
    assert big.kind == "diff" and big.new_text is None and big.blob is not None
    assert read_blob(folder, big.blob)["new_text"] == "".join(f"line {i}\n" for i in range(2000))
    assert (folder / "blobs" / big.blob).exists()
    patched, v2_only = calls["e3"].content
    assert patched.git_patch is not None and patched.git_patch.startswith("--- a/README.md") and patched.new_text == "b\n"
    assert v2_only.kind == "diff" and v2_only.path == "x.py" and v2_only.git_patch == "--- a/x.py\n+++ b/x.py\n"
    # Each recorded event survives the log's codec (replay reads them back).
    for event in calls.values():
        assert ev.decode(ev.encode(event)) == event


async def test_a_v2_permission_subject_is_shown_and_a_v1_answer_goes_back(tmp_path):
    reporter = ClientReporter(None, pick("allow_once"))

    outcome = await AcpAgent(config("subject")).run(make_task(project(tmp_path)), reporter)

    assert result_of(outcome) == {"answer": {"outcome": "selected", "optionId": "ok"}}
    title, _, details = reporter.permissions[0]
    assert title == "Push to origin"
    assert details["subject"] == "the remote repository origin (github.com/example/app)"
    assert details["tool_call"]["command"] == "git push origin main"


# ── 4. modes, commands, MCP ───────────────────────────────────────────────


async def test_mode_is_set_commands_recorded_and_mcp_servers_passed_through(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    servers = [
        {"name": "files", "command": "/usr/bin/mcp-files", "args": ["--root", "."], "env": {"TOKEN": "t"}},
        {"name": "docs", "type": "http", "url": "https://mcp.example/docs", "headers": {"Authorization": "Bearer x"}},
    ]
    reporter = ClientReporter(None)

    outcome = await AcpAgent(config("modes", "--trace", str(trace), mode="acceptEdits", mcp_servers=servers)).run(make_task(root), reporter)

    result = result_of(outcome)
    assert result["mode"] == "acceptEdits"
    assert result["mcp_servers"] == [
        {"name": "files", "command": "/usr/bin/mcp-files", "args": ["--root", "."], "env": [{"name": "TOKEN", "value": "t"}]},
        {"type": "http", "name": "docs", "url": "https://mcp.example/docs", "headers": [{"name": "Authorization", "value": "Bearer x"}]},
    ]
    assert "set_mode acceptEdits" in trace.read_text()
    last = reporter.sessions[-1]
    assert last["modes"] == ["default", "acceptEdits", "plan"]
    assert last["current_mode"] == "acceptEdits"
    assert last["commands"] == ["review", "init"]
    assert last["session_id"] == "test-session-1"


async def test_unknown_mode_is_refused_with_the_modes_offered(tmp_path):
    outcome = await AcpAgent(config("modes", mode="yolo")).run(make_task(project(tmp_path)), ClientReporter(None))

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert outcome.failure.message == "mode 'yolo' is not a session mode the agent offers; it offers: default, acceptEdits, plan"


# ── 5. sign-in ────────────────────────────────────────────────────────────


async def test_auth_required_headline_is_the_agents_message_and_methods_and_auth_method_authenticates(tmp_path):
    root = project(tmp_path)
    trace = tmp_path / "trace.txt"
    unsigned, signed, wrong = ClientReporter(None), ClientReporter(None), ClientReporter(None)

    needs, works, refused = await asyncio.gather(
        AcpAgent(config("auth")).run(make_task(root), unsigned),
        AcpAgent(config("auth", "--trace", str(trace), auth_method="api-key")).run(make_task(root), signed),
        AcpAgent(config("auth", auth_method="sso")).run(make_task(root), wrong),
    )

    assert needs.failure is not None and needs.failure.category == "blocker"
    message = needs.failure.message
    assert "Please run /login: no Claude credentials were found on this machine" in message
    assert "Log in with Claude Code (claude-login), Use ANTHROPIC_API_KEY (api-key)" in message
    assert "agents.builder.auth_method" in message
    assert result_of(works) == {"authenticated": "api-key"}
    assert signed.sessions[0]["auth_methods"] == ["claude-login", "api-key"]
    assert "authenticate api-key" in trace.read_text()
    assert refused.failure is not None and refused.failure.category == "blocker"
    assert "'sso' is not one the agent offers" in refused.failure.message


async def test_claude_code_refusing_to_run_as_root_is_a_blocker_naming_is_sandbox(tmp_path):
    outcome = await AcpAgent(config("root")).run(make_task(project(tmp_path)), ClientReporter(None))

    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "refuses to run as root" in outcome.failure.message and "IS_SANDBOX=1" in outcome.failure.message


# ── 6. stderr in its place ────────────────────────────────────────────────


async def test_ten_thousand_stderr_lines_go_to_the_stream_file_not_the_log(tmp_path):
    folder = tmp_path / "orch"
    reporter = ClientReporter(folder)

    outcome = await AcpAgent(config("stderr", "--lines", "10000")).run(make_task(project(tmp_path)), reporter)

    assert result_of(outcome) == {"wrote": 10000}
    stream = folder / "stderr" / "builder_T1.log"
    lines = stream.read_text().splitlines()
    assert lines[0].startswith("--- builder:T1 attempt 1, pid ")
    assert lines[1:] == [f"debug line {n} of 10000" for n in range(1, 10001)]
    assert not any("debug line" in m for m, _ in reporter.logs)
    stderr_events = reporter.of(ev.AgentStderr)
    assert stderr_events[0].path == "stderr/builder_T1.log"
    assert (stderr_events[-1].lines, stderr_events[-1].dropped) == (10000, 0)


async def test_stderr_stream_is_bounded_by_rotation(tmp_path, monkeypatch):
    from studio_tui.core.agents.acp import records

    monkeypatch.setattr(records, "STDERR_FILE_MAX_BYTES", 20_000)
    folder = tmp_path / "orch"
    reporter = ClientReporter(folder)

    outcome = await AcpAgent(config("stderr", "--lines", "10000")).run(make_task(project(tmp_path)), reporter)

    assert outcome.ok
    stream = folder / "stderr" / "builder_T1.log"
    assert stream.stat().st_size <= 20_000 and (folder / "stderr" / "builder_T1.log.1").stat().st_size <= 20_000
    last = reporter.of(ev.AgentStderr)[-1]
    assert last.lines == 10000 and last.dropped > 0
    kept = len(stream.read_text().splitlines()) + len((folder / "stderr" / "builder_T1.log.1").read_text().splitlines())
    assert kept + last.dropped >= 10000
    assert stream.read_text().splitlines()[-1] == "debug line 10000 of 10000"
    assert STDERR_FILE_MAX_BYTES > 20_000


# ── through the orchestrator: the events land in the log ──────────────────


async def test_orchestrator_logs_who_answered_and_why_with_the_tool_call_and_session(tmp_path):
    root = project(tmp_path)
    studio = root / ".studio"
    studio.mkdir()
    outside = tmp_path / "elsewhere" / "victim.txt"
    agent = {
        "kind": "acp",
        "command": [sys.executable, str(AGENTS / "client_agent.py"), "--scenario", "outside", "--path", str(outside)],
        "timeout": 60,
    }
    (studio / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "checkpoints": {"every_steps": 0},
                "recovery": {"max_retries": 0},
                "agents": {"planner": agent, "builder": agent, "architect": agent},
            }
        )
    )
    workspace = Workspace(studio)
    cfg = workspace.config()
    orchestrator = Orchestrator(workspace, cfg, PolicyDecider(permissions="allow"), agent_factory(workspace, cfg))

    state = await asyncio.wait_for(orchestrator.build("Fix the typo in the README"), WAIT * 2)

    events = read_log(workspace.events_path(state.id)).events
    answered = [e for e in events if isinstance(e, ev.DecisionAnswered) and e.kind == "permission"]
    assert answered, "the agent's permission request must be answered in the log"
    for answer in answered:
        assert (answer.answer, answer.by) == ("reject", "policy")
        assert "outside the project root" in answer.reason and str(outside) in answer.reason
    requested = [e for e in events if isinstance(e, ev.DecisionRequested) and e.kind == "permission"]
    assert requested[0].details["outside_root"] == [str(outside)]
    assert requested[0].details["tool_call"]["command"].startswith(f"cat {outside}")
    sessions = [e for e in events if isinstance(e, ev.AgentSession)]
    assert sessions and sessions[0].session_id == "test-session-1"
    tool_calls = [e for e in events if isinstance(e, ev.ToolCallRecorded)]
    assert tool_calls and tool_calls[0].title == "Edit a file outside the project"


def test_headless_lines_for_sessions_terminals_and_policy_reasons():
    from studio_tui.core.state import OrchestrationState
    from studio_tui.headless import HeadlessPrinter

    console = Console(file=io.StringIO(), width=200, color_system=None)
    printer = HeadlessPrinter(console)
    state = OrchestrationState()
    printer(
        ev.AgentSession(
            agent="builder",
            session_id="s1",
            modes=["default", "plan"],
            current_mode="plan",
            commands=["review", "init"],
            auth_methods=["api-key"],
        ),
        state,
    )
    printer(ev.TerminalOutput(agent="builder", terminal_id="term-1", command="pytest -q", exit_code=1, done=True), state)
    printer(
        ev.DecisionAnswered(
            decision_id="d1", kind="permission", answer="reject", by="policy", reason="outside the project root: /etc/hosts"
        ),
        state,
    )
    printer(ev.AgentStderr(agent="builder", path="stderr/builder.log", lines=20000, dropped=5000), state)
    printer(
        ev.DecisionRequested(
            decision_id="d2",
            kind="permission",
            agent="builder",
            prompt="Run it",
            details={"tool_call": {"command": "rm -rf /tmp/x [red]y[/]"}, "outside_root": ["/tmp/x"]},
        ),
        state,
    )

    shown = console.file.getvalue()
    assert "session s1; mode plan (offers default, plan); 2 commands: /review /init; auth methods: api-key" in shown
    assert "terminal term-1 `pytest -q` ended: exit 1" in shown
    assert "permission → reject (by policy: outside the project root: /etc/hosts)" in shown
    assert "stderr: 20000 lines in stderr/builder.log, 5000 rotated away" in shown
    assert "permission: Run it — rm -rf /tmp/x [red]y[/]  (outside the project root)" in shown
