"""`studio-tui init`: a real git repository with a failing pytest test, the config it writes, the
built-in planner/architect, and a build that ends as honestly as the tests say."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CLI_TIMEOUT, cli_env

from studio_tui.core.agents import check_agents
from studio_tui.core.agents.builtin import detect_test_command, task_slug
from studio_tui.core.agents.builtin import run as run_builtin
from studio_tui.core.config import StudioConfig, load_config
from studio_tui.core.errors import InputError
from studio_tui.core.init import AGENT_CHOICES, ignore_lines, init_workspace, render_config
from studio_tui.core.store import Workspace, read_log

FAILING_TEST = "def test_addition():\n    assert 1 + 1 == 3\n"
PASSING_TEST = "def test_addition():\n    assert 1 + 1 == 2\n"


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


def studio(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI, with this interpreter's scripts (pytest) first on PATH, as an activated venv has."""
    env = cli_env()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return subprocess.run(
        [sys.executable, "-m", "studio_tui", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def events_of(workspace: Workspace) -> list[Any]:
    orch = workspace.latest()
    assert orch is not None
    return read_log(workspace.events_path(orch)).events


# ── the quick start, end to end ──────────────────────────────────────────


def test_init_command_then_build_runs_and_the_gate_decides(tmp_path, _subprocess_bytecode_cache):
    project = git_repo(tmp_path / "repo")
    (project / "test_math.py").write_text(FAILING_TEST)

    init = studio("init", "--agents", "command", cwd=project)
    assert init.returncode == 0, init.stderr
    workspace = Workspace(project / ".studio")
    assert "pytest -q" in init.stdout
    assert not (workspace.root / "scenario.yaml").exists()
    assert (workspace.tasks_dir.is_dir(), workspace.learnings_dir.is_dir()) == (True, True)
    # No waiting between retries in a test (a user's edit of the written config).
    text = workspace.config_path.read_text()
    workspace.config_path.write_text(text.replace("initial: 0.5", "initial: 0.0").replace("loop_guard: 3", "loop_guard: 2"))

    failed = studio("build", "Fix the failing test", "--headless", cwd=project)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "quality gate tests failed" in failed.stdout
    assert "1 failed" in failed.stdout  # pytest's own verdict, streamed from the gate
    events = events_of(workspace)
    failures = [e for e in events if e.type == "agent_failed"]
    assert len(failures) >= 2 and {f.category for f in failures} == {"code_error"}
    assert any(e.type == "decision_requested" and e.kind == "escalation" for e in events)
    assert events[-1].type == "orchestration_finished" and events[-1].status == "aborted"

    # The code fixed (by a person here, by an ACP agent normally): the same gate now passes.
    (project / "test_math.py").write_text(PASSING_TEST)
    done = studio("build", "Fix the failing test", "--headless", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "quality gate tests: passed" in done.stdout


def test_init_scripted_then_build_completes(tmp_path, _subprocess_bytecode_cache):
    project = git_repo(tmp_path / "repo")
    init = studio("init", "--agents", "scripted", cwd=project)
    assert init.returncode == 0, init.stderr
    assert (project / ".studio" / "scenario.yaml").is_file()
    built = studio("build", "Add a search box", "--headless", "--speed", "0", cwd=project)
    assert built.returncode == 0, built.stdout + built.stderr
    kinds = [e.type for e in events_of(Workspace(project / ".studio"))]
    assert kinds.count("agent_completed") == 2  # planner, then builder
    assert kinds[-1] == "orchestration_finished"


def test_builtin_planner_and_architect_drive_plan_then_build_and_decompose_first(tmp_path, monkeypatch):
    project = git_repo(tmp_path / "repo")
    (project / "test_ok.py").write_text(PASSING_TEST)
    workspace = Workspace(project / ".studio")
    init_workspace(workspace, "command")
    config = workspace.config()

    import asyncio

    from studio_tui.core.agents import agent_factory
    from studio_tui.core.decider import PolicyDecider
    from studio_tui.core.orchestrator import Orchestrator

    # `pytest` must be on PATH for the gate, as in an activated venv.
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    orch = Orchestrator(workspace, config, PolicyDecider("abort"), agent_factory(workspace, config), sleep=lambda s: asyncio.sleep(0))
    state = asyncio.run(orch.build("Add a greeting"))
    assert state.status == "completed", state.summary
    plan = json.loads((workspace.task_dir(task_slug("Add a greeting")) / "plan.json").read_text())
    assert plan["quality_gates"] == [{"name": "tests", "command": "pytest -q", "timeout": None}]

    orch = Orchestrator(workspace, config, PolicyDecider("abort"), agent_factory(workspace, config), sleep=lambda s: asyncio.sleep(0))
    state = asyncio.run(orch.build("Build the billing platform"))
    assert state.status == "completed", state.summary
    backlog = yaml.safe_load(workspace.backlog_path.read_text())
    assert [t["id"] for f in backlog["epics"][0]["features"] for t in f["tasks"]] == ["T1"]
    assert (workspace.task_dir("T1") / "plan.json").is_file()


# ── what init writes ─────────────────────────────────────────────────────


def _paths(model: Any, prefix: str = "") -> set[str]:
    """Every key path of a config model, as dotted names."""
    found: set[str] = set()
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        found.add(path)
        if hasattr(type(value), "model_fields"):
            found |= _paths(value, path + ".")
        elif isinstance(value, dict) and value and all(hasattr(type(v), "model_fields") for v in value.values()):
            for key, item in value.items():
                found.add(f"{path}.{key}")
                found |= _paths(item, f"{path}.{key}.")
    return found


def _yaml_paths(data: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            found.add(path)
            if isinstance(value, dict) and key not in ("pools", "env"):
                found |= _yaml_paths(value, path + ".")
    return found


@pytest.mark.parametrize("choice", AGENT_CHOICES)
def test_config_written_by_init_loads_round_trips_and_has_every_key(tmp_path, choice):
    text = render_config(choice, "pytest -q")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    loaded = load_config(path)
    assert loaded.budget == StudioConfig().budget and loaded.recovery == StudioConfig().recovery
    assert loaded.planner == StudioConfig().planner and loaded.theme == StudioConfig().theme
    # every key of the model is written, except long text defaults left to the code (shown as comments)
    written = _yaml_paths(yaml.safe_load(text))
    expected = _paths(loaded)
    commented = {p for p in expected - written if f"# {p.rsplit('.', 1)[-1]}:" in text}
    assert expected - written == commented
    assert all(p.endswith(".prompt") for p in commented)
    # round trip: what it loads to, dumped and loaded again, is the same config
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(loaded.model_dump(mode="json")))
    assert load_config(again) == loaded
    assert text.startswith("# studio-tui workspace configuration")


def test_acp_presets_name_their_launch_command_for_every_role(tmp_path):
    for choice, argv in (
        ("claude-code", ["npx", "-y", "@agentclientprotocol/claude-agent-acp"]),
        ("gemini", ["gemini", "--acp"]),
        ("goose", ["goose", "acp"]),
        ("opencode", ["opencode", "acp"]),
        ("codex", ["npx", "-y", "@agentclientprotocol/codex-acp"]),
    ):
        path = tmp_path / f"{choice}.yaml"
        path.write_text(render_config(choice))
        config = load_config(path)
        assert {
            role: (config.agent(role).kind, config.agent(role).command) for role in ("planner", "builder", "architect")
        } == dict.fromkeys(("planner", "builder", "architect"), ("acp", argv))
        # real agents only: no scenario needed
        assert check_agents(Workspace(tmp_path / "ws"), config) == {}


def test_init_refuses_to_overwrite_without_force_and_force_rewrites(tmp_path, main_run_here):
    project = git_repo(tmp_path / "repo")
    first = main_run_here(project, "init", "--agents", "command")
    assert first.returncode == 0, first.err
    config = project / ".studio" / "config.yaml"
    before = config.read_text()
    (project / ".studio" / "backlog.yaml").write_text("epics: [{id: E1, title: mine}]\n")

    refused = main_run_here(project, "init", "--agents", "gemini")
    assert refused.returncode == 2
    assert str(config) in refused.err and "--force" in refused.err
    assert config.read_text() == before

    forced = main_run_here(project, "init", "--agents", "gemini", "--force")
    assert forced.returncode == 0, forced.err
    assert "command: [gemini, --acp]" in config.read_text()
    assert "mine" in (project / ".studio" / "backlog.yaml").read_text()  # the backlog is the person's: kept


def test_init_respects_the_global_workspace_option(tmp_path, main_run_here):
    project = tmp_path / "plain"  # not a git repository: no .gitignore
    project.mkdir()
    result = main_run_here(tmp_path, "--workspace", str(project / ".st"), "init", "--agents", "scripted")
    assert result.returncode == 0, result.err
    assert (project / ".st" / "config.yaml").is_file() and (project / ".st" / "scenario.yaml").is_file()
    assert not (project / ".gitignore").exists()
    assert not (tmp_path / ".studio").exists()


def test_gitignore_gets_the_per_machine_paths_once(tmp_path):
    project = git_repo(tmp_path / "repo")
    (project / ".gitignore").write_text("node_modules/\n/.studio/lock")  # one already there, no final newline
    workspace = Workspace(project / ".studio")
    first = init_workspace(workspace, "command")
    assert first.gitignore_added == ["/.studio/orchestration/", "/.studio/sessions/"]
    init_workspace(workspace, "command", force=True)
    lines = (project / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "/.studio/lock"]
    for line in ignore_lines(workspace):
        assert lines.count(line) == 1
    # git agrees: a run's files are ignored, the config is not
    (workspace.orchestration_dir / "orch_x").mkdir(parents=True)
    (workspace.orchestration_dir / "orch_x" / "events.jsonl").write_text("{}\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=project, capture_output=True, text=True, check=True
    )
    assert ".studio/config.yaml" in status.stdout and "orchestration" not in status.stdout


def test_a_missing_scenario_names_the_role_that_needs_it(tmp_path, main_run_here):
    project = tmp_path / "p"
    (project / ".studio").mkdir(parents=True)
    (project / ".studio" / "config.yaml").write_text("agents:\n  planner: {kind: scripted}\n")
    result = main_run_here(project, "build", "Add a page", "--headless")
    assert result.returncode == 2
    assert "scenario.yaml: file not found" in result.err and "agents.planner" in result.err
    assert "agents.architect" not in result.err  # the defaults are not scripted
    # no config at all: nothing needs a scenario
    assert check_agents(Workspace(tmp_path / "q" / ".studio"), StudioConfig()) == {}


# ── the built-in agent and test command detection ────────────────────────


@pytest.mark.parametrize(
    "files, expected",
    [
        ({"test_a.py": ""}, "pytest -q"),
        ({"tests/test_a.py": ""}, "pytest -q"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\n"}, "pytest -q"),
        ({"package.json": json.dumps({"scripts": {"test": "jest"}})}, "npm test"),
        ({"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})}, None),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"go.mod": "module x\n"}, "go test ./..."),
        ({"Makefile": "build:\n\ttrue\ntest: build\n\ttrue\n"}, "make test"),
        ({"Makefile": "build:\n\ttrue\n", "README.md": "x"}, None),
    ],
)
def test_detect_test_command(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert detect_test_command(tmp_path) == expected


def test_builtin_agent_refuses_the_builder_role_and_bad_input():
    out = io.StringIO()
    run_builtin(io.StringIO(json.dumps({"role": "builder", "goal": "x", "project_root": "/tmp"}) + "\n"), out)
    last = json.loads(out.getvalue().splitlines()[-1])
    assert last["type"] == "failure" and last["category"] == "blocker" and "plan_builder" in last["details"]
    out = io.StringIO()
    run_builtin(io.StringIO("not json\n"), out)
    assert json.loads(out.getvalue())["type"] == "failure"


def test_builder_without_a_plan_or_gates_is_a_blocker_that_says_what_to_do(tmp_path):
    import asyncio

    from agent_helpers import RecordingReporter

    from studio_tui.core.agents.base import AgentTask
    from studio_tui.core.agents.plan_builder import PlanBuilderAgent
    from studio_tui.core.config import PlanBuilderConfig

    task = AgentTask(key="builder", role="builder", mode="build", goal="Fix it", project_root=tmp_path, workspace_root=tmp_path / ".studio")
    outcome = asyncio.run(PlanBuilderAgent(PlanBuilderConfig(kind="plan_builder")).run(task, RecordingReporter()))
    assert outcome.failure is not None and outcome.failure.category == "blocker"
    assert "quality_gates" in outcome.failure.details


def test_init_rejects_an_unknown_choice(tmp_path):
    with pytest.raises(InputError, match="--agents must be one of"):
        init_workspace(Workspace(tmp_path / ".studio"), "copilot")
    assert not (tmp_path / ".studio").exists()


@pytest.fixture
def main_run_here(capsys, monkeypatch):
    """`studio-tui ARGS` through `cli.main` in this process, in folder `cwd` (stdin not a terminal)."""
    from studio_tui.cli import main

    monkeypatch.setenv("CI", "true")

    def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        result = subprocess.CompletedProcess(args, code, out, err)
        result.err = err  # type: ignore[attr-defined]
        return result

    return run


def test_the_readme_gives_exactly_the_commands_tested_here():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Your own project", 1)[1].split("\n## ", 1)[0]
    assert 'cd your-repo && studio-tui init --agents command && studio-tui build "Fix the failing test"' in section
    assert 'cd your-repo && studio-tui init --agents claude-code && studio-tui doctor && studio-tui build "Fix the failing test"' in section
    for choice in AGENT_CHOICES:
        assert f"`{choice}`" in section or f"--agents {choice}" in section


def test_an_acp_preset_needs_nothing_but_the_agent_installed(tmp_path, _subprocess_bytecode_cache):
    """`init --agents opencode` with an `opencode` on PATH (our scripted ACP agent behind a shim):
    doctor passes, and the build runs with no other file written by hand."""
    project = git_repo(tmp_path / "repo")
    (project / "test_math.py").write_text(FAILING_TEST)
    script = tmp_path / "turns.json"
    script.write_text(json.dumps([[{"write": "test_math.py", "content": PASSING_TEST}, {"say": "fixed the assertion\n"}]]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    agent = Path(__file__).resolve().parent / "acp_agents" / "script_agent.py"
    shim = bin_dir / "opencode"
    shim.write_text(f'#!/bin/sh\n[ "$1" = acp ] || exit 64\nexec "{sys.executable}" "{agent}" --script "{script}"\n')
    shim.chmod(0o755)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = cli_env()
        env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", os.defpath)])
        return subprocess.run(
            [sys.executable, "-m", "studio_tui", *args],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )

    assert run("init", "--agents", "opencode").returncode == 0
    doctor = run("doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert json.loads(doctor.stdout)["checks"][0]["acp"]["agent"] == "script-agent 1.0"
    built = run("build", "Fix the failing test", "--headless")
    assert built.returncode == 0, built.stdout + built.stderr
    assert (project / "test_math.py").read_text() == PASSING_TEST
    assert not (project / ".studio" / "scenario.yaml").exists()
