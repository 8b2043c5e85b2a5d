"""Shared fixtures for the core suite: example workspace, orchestrator runner, fake clock, CLI runner.

Helpers are handed out as fixtures (the rules allow only conftest.py and test_*.py in tests/).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from studio_tui.core import events as ev
from studio_tui.core.agents.base import AgentTask, Outcome, Reporter
from studio_tui.core.agents.scripted import Scenario, ScriptedAgent, load_scenario
from studio_tui.core.config import StudioConfig
from studio_tui.core.decider import Answer, DecisionRequest, PolicyDecider
from studio_tui.core.example import example_source
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import Workspace, read_log

REPO_ROOT = Path(__file__).resolve().parent.parent
CLI_TIMEOUT = 60


# ── small test doubles ──────────────────────────────────────────────────


async def nosleep(delay: float) -> None:
    """Backoff sleep that returns at once."""


class FakeClock:
    """A deterministic clock: each call returns the current time, then moves it on by `step`."""

    def __init__(self, start: float = 1_800_000_000.0, step: float = 0.25) -> None:
        self.now = start
        self.step = step
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        value = self.now
        self.now += self.step
        return value


class SleepRecorder:
    """An injected sleep that records the delays it was asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class RecordingAgent:
    """Wraps an agent and records every AgentTask it is given, per role."""

    def __init__(self, inner: Any, log: list[AgentTask]) -> None:
        self.inner = inner
        self.log = log

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        self.log.append(task)
        return await self.inner.run(task, reporter)


class ScriptedDecider:
    """Answers each decision kind from a queue (falls back to a policy); records every request."""

    def __init__(self, answers: dict[str, list[str]] | None = None, fallback: str = "abort") -> None:
        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.policy = PolicyDecider(fallback)  # type: ignore[arg-type]
        self.requests: list[DecisionRequest] = []
        self.hook: Callable[[DecisionRequest], Any] | None = None

    async def decide(self, request: DecisionRequest) -> Answer:
        self.requests.append(request)
        if self.hook is not None:
            self.hook(request)
        queue = self.answers.get(request.kind)
        if queue:
            return Answer(queue.pop(0), "person")
        return await self.policy.decide(request)


class BlockingDecider:
    """Answers everything by policy, except escalations: those wait until the test cancels the run."""

    def __init__(self) -> None:
        self.policy = PolicyDecider("abort")
        self.escalated = asyncio.Event()
        self.requests: list[DecisionRequest] = []

    async def decide(self, request: DecisionRequest) -> Answer:
        self.requests.append(request)
        if request.kind == "escalation":
            self.escalated.set()
            await asyncio.Future()  # never resolves: only cancellation ends this
        return await self.policy.decide(request)


@dataclass
class Run:
    """The result of one orchestrator run, with every event it emitted (and the state after each)."""

    orchestrator: Orchestrator
    workspace: Workspace
    state: OrchestrationState
    events: list[ev.Event] = field(default_factory=list)
    tasks: list[AgentTask] = field(default_factory=list)

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    @property
    def orch_dir(self) -> Path:
        return self.workspace.orch_dir(self.state.id)

    @property
    def events_path(self) -> Path:
        return self.workspace.events_path(self.state.id)

    @property
    def state_path(self) -> Path:
        return self.workspace.state_path(self.state.id)

    def started_agents(self) -> list[str]:
        """Agent keys in the order of their first agent_started event."""
        seen: list[str] = []
        for e in self.of(ev.AgentStarted):
            if e.agent not in seen:
                seen.append(e.agent)
        return seen


def make_orchestrator(
    workspace: Workspace,
    *,
    decider: Any = None,
    scenario: Scenario | None = None,
    config: StudioConfig | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    tasks: list[AgentTask] | None = None,
    events: list[ev.Event] | None = None,
) -> Orchestrator:
    """An Orchestrator over `workspace` with scripted agents at speed 0 and a no-op backoff sleep."""
    config = config or workspace.config()
    scenario = scenario or load_scenario(workspace.root / "scenario.yaml")
    agent: Any = ScriptedAgent(scenario, speed=0)
    if tasks is not None:
        agent = RecordingAgent(agent, tasks)
    orch = Orchestrator(
        workspace,
        config,
        decider or PolicyDecider("retry"),
        lambda role: agent,
        clock=clock or FakeClock(),
        sleep=sleep or nosleep,
    )
    if events is not None:
        orch.subscribe(lambda e, s: events.append(e))
    return orch


# ── fixtures ────────────────────────────────────────────────────────────


def copy_example(project: Path) -> Workspace:
    target = project / ".studio"
    shutil.copytree(example_source(), target, ignore=shutil.ignore_patterns("lock", "sessions", "orchestration"))
    return Workspace(target)


@pytest.fixture
def example_ws(tmp_path: Path) -> Workspace:
    """A fresh copy of the bundled example workspace at tmp_path/project/.studio."""
    return copy_example(tmp_path / "project")


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


async def run_orchestration(
    workspace: Workspace,
    goal: str | None = None,
    *,
    decider: Any = None,
    scenario: Scenario | None = None,
    config: StudioConfig | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    subscribers: tuple[Callable[[ev.Event, OrchestrationState], None], ...] = (),
    mode: str = "implicit",
    resume: Any = None,
) -> Run:
    """Run an orchestration (or resume one from a checkpoint record) to its end, collecting its events."""
    scenario = scenario or load_scenario(workspace.root / "scenario.yaml")
    events: list[ev.Event] = []
    tasks: list[AgentTask] = []
    orch = make_orchestrator(
        workspace, decider=decider, scenario=scenario, config=config, clock=clock, sleep=sleep, tasks=tasks, events=events
    )
    for subscriber in subscribers:
        orch.subscribe(subscriber)
    if resume is not None:
        state = await orch.resume(resume)
    else:
        state = await orch.build(goal or scenario.goal, mode=mode)
    return Run(orchestrator=orch, workspace=workspace, state=state, events=events, tasks=tasks)


@pytest.fixture
def run_build() -> Callable[..., Awaitable[Run]]:
    """`await run_build(ws, goal=None, decider=None, scenario=None, config=None, clock=None, sleep=None,
    subscribers=(), mode="implicit", resume=None)`: run an orchestration to its end and collect its events."""
    return run_orchestration


@pytest.fixture(scope="session")
def example_completed(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """ONE full run of the example scenario (escalations answered retry), shared read-only by many tests.

    Tests that change the workspace must make their own run."""
    workspace = copy_example(tmp_path_factory.mktemp("example_completed") / "project")
    run = asyncio.run(run_orchestration(workspace, decider=PolicyDecider("retry")))
    assert run.state.status == "completed", run.state.summary
    return run


DEFAULT_TEST_CONFIG: dict[str, Any] = {
    "recovery": {
        "max_retries": 5,
        "max_replans": 1,
        "max_tries_per_step": 5,
        "loop_guard": 3,
        "backoff": {"initial": 0.5, "factor": 2.0, "max": 10.0},
    },
    "checkpoints": {"every_steps": 0},
    "agents": {
        "planner": {"kind": "scripted", "scenario": "scenario.yaml"},
        "builder": {"kind": "scripted", "scenario": "scenario.yaml"},
        "architect": {"kind": "scripted", "scenario": "scenario.yaml"},
    },
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def write_workspace(
    project: Path,
    scenario: dict[str, Any],
    *,
    config: dict[str, Any] | None = None,
    backlog: dict[str, Any] | None = None,
    plans: dict[str, dict[str, Any]] | None = None,
    learnings: dict[str, str] | None = None,
) -> Workspace:
    """A small `.studio` under `project`: scripted agents playing `scenario`, config merged over defaults."""
    import json

    root = project / ".studio"
    root.mkdir(parents=True, exist_ok=True)
    cfg = deep_merge(DEFAULT_TEST_CONFIG, config or {})
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (root / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    if backlog is not None:
        (root / "backlog.yaml").write_text(yaml.safe_dump(backlog, sort_keys=False))
    for task_id, plan in (plans or {}).items():
        folder = root / "tasks" / task_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plan.json").write_text(json.dumps(plan, indent=2))
    for name, text in (learnings or {}).items():
        folder = root / "learnings"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return Workspace(root)


@pytest.fixture
def write_ws(tmp_path: Path) -> Callable[..., Workspace]:
    """`write_ws(scenario, config=..., backlog=..., plans=..., learnings=..., name="project")`."""

    def make(scenario: dict[str, Any], *, name: str = "project", **kw: Any) -> Workspace:
        return write_workspace(tmp_path / name, scenario, **kw)

    return make


def builder_scenario(steps: dict[int, dict[str, Any]], *, goal: str = "Fix the flaky thing") -> dict[str, Any]:
    """A builder-only scenario (goal routes to build_only): steps by id with their outcomes."""
    return {"goal": goal, "builder": {"steps": {i: {"duration": 0, **s} for i, s in steps.items()}}}


def mini_scenario(*, blocker: bool = True) -> dict[str, Any]:
    """A small plan_then_build scenario that still takes every path cheaply: a planner question, a
    transient retry at step 1, a risky step 2 (checkpoint before), and (if `blocker`) a blocker at step 3
    that escalates once."""
    plan = {
        "id": "bp_mini",
        "task_id": "task_mini",
        "summary": "mini plan",
        "learnings": ["testing"],
        "requirements": {"scope_in": ["a"], "scope_out": ["b"]},
        "steps": [
            {"id": 1, "description": "first"},
            {"id": 2, "description": "risky one", "risky": True},
            {"id": 3, "description": "third"},
            {"id": 4, "description": "last"},
        ],
    }
    step3: dict[str, Any] = {"duration": 0, "tokens": {"working": 10}}
    if blocker:
        step3["outcomes"] = [{"fail": "blocker", "message": "service unreachable"}]
    return {
        "goal": "Add a mini feature",
        "planner": {
            "questions": [{"question": "Which flavour?", "default": "vanilla"}],
            "steps": [{"duration": 0, "tokens": {"working": 20, "context7": 30}}],
            "plan": plan,
        },
        "builder": {
            "steps": {
                1: {"duration": 0, "tokens": {"working": 5}, "outcomes": [{"fail": "transient", "message": "timeout after 3s"}]},
                2: {"duration": 0},
                3: step3,
                4: {"duration": 0},
            }
        },
    }


@pytest.fixture
def builder_only() -> Callable[..., dict[str, Any]]:
    return builder_scenario


# ── the CLI as a subprocess ─────────────────────────────────────────────


_PYC_PREFIX: list[Path] = []


@pytest.fixture(scope="session")
def _subprocess_bytecode_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """CLI subprocesses share a bytecode cache outside the repository (the environment sets
    PYTHONDONTWRITEBYTECODE, so without this every subprocess would recompile studio_tui)."""
    _PYC_PREFIX.append(tmp_path_factory.mktemp("pycache"))
    # warm it once, so CLI subprocesses started side by side do not all compile the same modules
    subprocess.run([sys.executable, "-c", "import studio_tui.cli"], env=cli_env(), check=True, timeout=CLI_TIMEOUT)


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    if _PYC_PREFIX:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(_PYC_PREFIX[-1])
    env["CI"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("FORCE_COLOR", None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "160"
    return env


def run_cli(*args: str, cwd: Path, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio_tui", *args],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


CLI_PARALLEL = 4
"""CLI subprocesses run side by side at most: enough to keep two cores busy while others start up."""


def run_cli_many(commands: list[tuple[str, ...]], *, cwd: Path, timeout: float = CLI_TIMEOUT) -> list[subprocess.CompletedProcess[str]]:
    """Run several independent CLI commands side by side (they only read, or use separate workspaces)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=CLI_PARALLEL) as pool:
        return list(pool.map(lambda args: run_cli(*args, cwd=cwd, timeout=timeout), commands))


@pytest.fixture
def cli(_subprocess_bytecode_cache: None) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`cli(*args, cwd=...)`: run `python -m studio_tui ARGS` with CI=true and stdin from /dev/null."""
    return run_cli


# expose the doubles to test modules without importing conftest
@pytest.fixture(scope="session")
def doubles() -> Any:
    class _D:
        FakeClock = FakeClock
        SleepRecorder = SleepRecorder
        ScriptedDecider = ScriptedDecider
        BlockingDecider = BlockingDecider
        RecordingAgent = RecordingAgent
        nosleep = staticmethod(nosleep)
        make_orchestrator = staticmethod(make_orchestrator)
        run_orchestration = staticmethod(run_orchestration)
        Run = Run
        copy_example = staticmethod(copy_example)
        write_workspace = staticmethod(write_workspace)
        builder_scenario = staticmethod(builder_scenario)
        mini_scenario = staticmethod(mini_scenario)
        read_log = staticmethod(read_log)
        cli_env = staticmethod(cli_env)
        run_cli = staticmethod(run_cli)
        run_cli_many = staticmethod(run_cli_many)
        REPO_ROOT = REPO_ROOT

    return _D
