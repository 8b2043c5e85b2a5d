"""`studio-tui doctor` against real ACP agent processes of our own (tests/acp_agents/probe_agent.py):
one that answers, one that wants authentication, one that never answers `initialize`, one that is not
on PATH; plus command agents, scripted scenarios and the plan builder's gates."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from acp import PROTOCOL_VERSION
from agent_helpers import process_gone

from studio_tui.core.doctor import diagnose
from studio_tui.core.store import Workspace

AGENTS = Path(__file__).resolve().parent / "acp_agents"
PROBE = [sys.executable, str(AGENTS / "probe_agent.py")]


def workspace_with(tmp_path: Path, agents: dict[str, Any], *, plans: dict[str, dict[str, Any]] | None = None) -> Workspace:
    root = tmp_path / "project" / ".studio"
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({"agents": agents}))
    for task_id, plan in (plans or {}).items():
        (root / "tasks" / task_id).mkdir(parents=True)
        (root / "tasks" / task_id / "plan.json").write_text(json.dumps(plan))
    return Workspace(root)


def by_role(report: Any) -> dict[str, Any]:
    """The first check of each role (the agent itself; gates follow it)."""
    first: dict[str, Any] = {}
    for check in report.checks:
        first.setdefault(check.role, check)
    return first


def test_an_agent_that_answers_reports_version_capabilities_auth_methods_and_modes(tmp_path):
    trace = tmp_path / "trace.txt"
    ws = workspace_with(
        tmp_path,
        {
            "planner": {"kind": "acp", "command": PROBE, "args": ["--trace", str(trace)]},
            "builder": {"kind": "plan_builder"},
            "architect": {"kind": "acp", "command": PROBE, "args": ["--trace", str(trace)]},
        },
    )
    report = asyncio.run(diagnose(ws, ws.config(), timeout=30))
    assert report.ok, report.to_dict()
    planner = by_role(report)["planner"]
    assert planner.acp["protocol_version"] == PROTOCOL_VERSION
    assert planner.acp["agent"] == "probe-agent 2.5"
    assert {"loadSession", "prompt.image", "prompt.embeddedContext", "mcp.http"} <= set(planner.acp["capabilities"])
    assert "prompt.audio" not in planner.acp["capabilities"]
    assert [m["id"] for m in planner.acp["auth_methods"]] == ["api-key", "probe-login"]
    assert planner.acp["auth_methods"][0]["env"] == ["PROBE_API_KEY"]
    assert planner.acp["modes"] == ["ask", "code"] and planner.acp["current_mode"] == "ask"
    # the same command for two roles is probed once, in the project root
    lines = trace.read_text().splitlines()
    assert lines == ["initialize client=studio-tui", f"new_session cwd={ws.project_root}"]
    assert by_role(report)["architect"].acp == planner.acp


def test_auth_required_and_not_on_path_fail_with_their_fix(tmp_path):
    ws = workspace_with(
        tmp_path,
        {
            "planner": {"kind": "acp", "command": [*PROBE, "--auth-required"]},
            "builder": {"kind": "acp", "command": ["studio-test-no-such-agent", "--acp"]},
            "architect": {"kind": "plan_builder"},
        },
    )
    report = asyncio.run(diagnose(ws, ws.config(), timeout=30))
    assert not report.ok
    checks = by_role(report)

    planner = checks["planner"]
    assert planner.status == "auth required"
    assert "Authentication required" in planner.detail
    assert planner.fix == "set PROBE_API_KEY"
    assert [m["name"] for m in planner.acp["auth_methods"]] == ["API key", "Log in"]

    builder = checks["builder"]
    assert builder.status == "not found" and "studio-test-no-such-agent" in builder.detail
    assert "install `studio-test-no-such-agent`" in builder.fix


def test_an_agent_that_never_answers_initialize_times_out_and_its_process_group_is_ended(tmp_path):
    pid_file = tmp_path / "pids"
    # no --timeout: the agent's own init_timeout bounds the probe
    ws = workspace_with(
        tmp_path, {"architect": {"kind": "acp", "command": [*PROBE, "--silent", "--pid-file", str(pid_file)], "init_timeout": 2}}
    )
    report = asyncio.run(diagnose(ws, ws.config()))
    assert not report.ok
    architect = by_role(report)["architect"]
    assert architect.status == "no answer"
    assert "did not answer initialize within 2s" in architect.detail
    assert "--timeout" in architect.fix
    # the silent agent and the child it started were ended with its process group
    agent_pid, child_pid = (int(p) for p in pid_file.read_text().split())
    assert process_gone(agent_pid) and process_gone(child_pid)


def test_a_well_known_agent_gets_its_own_install_hint(tmp_path):
    ws = workspace_with(
        tmp_path,
        {
            "planner": {"kind": "acp", "command": ["studio-test-no-npx", "-y", "@agentclientprotocol/claude-agent-acp"]},
            "builder": {"kind": "plan_builder"},
            "architect": {"kind": "acp", "command": ["studio-test-no-opencode", "acp"], "env": {"PATH": str(tmp_path)}},
        },
    )
    checks = by_role(asyncio.run(diagnose(ws, ws.config(), timeout=5)))
    assert "npm i -g @agentclientprotocol/claude-agent-acp" in checks["planner"].fix
    assert checks["architect"].fix == "install with `npm i -g opencode-ai`"


def test_command_agents_scripted_scenarios_and_gates_of_pending_plans(tmp_path):
    plan = {
        "id": "bp_1",
        "task_id": "T1",
        "steps": [{"id": 1, "description": "x"}],
        "quality_gates": [
            {"name": "lint", "command": "CI=1 studio-test-no-linter --check"},
            {"name": "tests", "command": [sys.executable, "-V"]},
        ],
    }
    done = dict(plan, id="bp_2", task_id="T2", status="completed", quality_gates=[{"name": "old", "command": "studio-test-gone"}])
    ws = workspace_with(
        tmp_path,
        {
            "planner": {"kind": "scripted"},
            "builder": {"kind": "plan_builder", "quality_gates": [{"name": "unit", "command": "sh -c true"}]},
            "architect": {"kind": "command", "command": ["studio-test-no-architect"]},
        },
        plans={"T1": plan, "T2": done},
    )
    report = asyncio.run(diagnose(ws, ws.config(), timeout=5))
    statuses = {check.subject.split(":")[0]: check.status for check in report.checks}
    assert statuses == {
        "scripted": "invalid",
        "plan_builder": "ok",
        "agents.builder gate unit": "ok",
        "plan T1 gate lint": "not found",  # the program after the VAR=value assignment
        "plan T1 gate tests": "ok",
        "command": "not found",
    }  # the completed plan's gate is not checked
    scripted = next(c for c in report.checks if c.role == "planner")
    assert "scenario.yaml: file not found" in scripted.detail and "agents.planner" in scripted.detail


def test_the_built_in_agents_pass(tmp_path):
    ws = Workspace(tmp_path / "project" / ".studio")
    report = asyncio.run(diagnose(ws, ws.config()))
    assert report.ok and [c.status for c in report.checks] == ["ok", "ok", "ok"]


# ── the command line ─────────────────────────────────────────────────────


@pytest.fixture
def doctor_cli(capsys, monkeypatch):
    from studio_tui.cli import main

    monkeypatch.setenv("CI", "true")

    def run(ws: Workspace, *args: str, tty: bool = False) -> subprocess.CompletedProcess[str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        if tty:
            monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
        code = main(["--workspace", str(ws.root), "doctor", *args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def test_doctor_json_and_plain_output_and_exit_codes(tmp_path, doctor_cli):
    good = workspace_with(tmp_path / "good", {"planner": {"kind": "acp", "command": PROBE}, "builder": {"kind": "plan_builder"}})
    result = doctor_cli(good, "--json", "--timeout", "30")
    assert result.returncode == 0, result.stdout
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert [c["role"] for c in data["checks"]] == ["planner", "builder", "architect"]
    assert data["checks"][0]["acp"]["modes"] == ["ask", "code"]

    bad = workspace_with(tmp_path / "bad", {"planner": {"kind": "acp", "command": [*PROBE, "--auth-required"]}})
    plain = doctor_cli(bad, "--timeout", "30")
    assert plain.returncode == 1
    assert "auth required" in plain.stdout and "fix: set PROBE_API_KEY" in plain.stdout
    assert "a role cannot run" in plain.stdout
    assert json.loads(doctor_cli(bad, "--json", "--timeout", "30").stdout)["ok"] is False


def test_doctor_draws_a_table_on_a_terminal_and_refuses_a_bad_timeout(tmp_path, doctor_cli):
    ws = workspace_with(tmp_path, {"architect": {"kind": "command", "command": ["studio-test-no-such"]}})
    table = doctor_cli(ws, tty=True)
    assert table.returncode == 1
    assert "┃" in table.stdout or "│" in table.stdout
    assert "not found" in table.stdout and "install" in table.stdout
    assert doctor_cli(ws, "--timeout", "0").returncode == 2


def test_an_agent_that_exits_at_once_is_probed_once_and_each_role_gets_its_own_fix(tmp_path):
    dies = [sys.executable, "-c", "import sys; print('no such model', file=sys.stderr); sys.exit(3)"]
    ws = workspace_with(tmp_path, {"planner": {"kind": "acp", "command": dies}, "architect": {"kind": "acp", "command": dies}})
    checks = by_role(asyncio.run(diagnose(ws, ws.config(), timeout=30)))
    for role in ("planner", "architect"):
        assert checks[role].status == "exited"
        assert "exit 3" in checks[role].detail and "no such model" in checks[role].detail
        assert f"agents.{role} " in checks[role].fix
