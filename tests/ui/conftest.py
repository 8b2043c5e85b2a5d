"""Fixtures for the dashboard tests: throwaway workspaces built from the bundled example, fixed clocks and ids."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from studio_tui.core import orchestrator as orchestrator_module
from studio_tui.core.agents import agent_factory
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.example import make_demo_workspace
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import Workspace
from studio_tui.ui.app import Launch, StudioApp

START = 1_780_308_000.0
"""2026-06-01 10:00:00 UTC: where every fake clock starts."""

NOW = START + 754.0
"""What the dashboard's wall clock says in tests (elapsed times are measured to it)."""

GOAL = "Add user authentication with OAuth"


class FakeClock:
    """Moves half a second per reading: deterministic timestamps and checkpoint ids."""

    def __init__(self, start: float = START, step: float = 0.5) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


async def no_sleep(_seconds: float) -> None:
    """Retry back-off without waiting."""


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    """Times on screen in UTC, whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(autouse=True)
def fixed_orch_ids(monkeypatch: pytest.MonkeyPatch):
    """Orchestration ids numbered in order instead of a timestamp and random hex."""
    counter = itertools.count(1)
    monkeypatch.setattr(orchestrator_module, "new_orch_id", lambda now: f"orch_20260601_100000_{next(counter):04x}")


@pytest.fixture
def demo_ws(tmp_path: Path) -> Workspace:
    """A fresh copy of the bundled example workspace."""
    return Workspace(make_demo_workspace(tmp_path / "project"))


@pytest.fixture(scope="session")
def finished_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Workspaces where the example ran once, headless, per escalation answer: built once, copied per test."""
    built: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as patch:
        counter = itertools.count(1)
        patch.setattr(orchestrator_module, "new_orch_id", lambda now: f"orch_20260601_100000_{next(counter):04x}")
        patch.setenv("TZ", "UTC")
        time.tzset()
        for answer in ("retry", "abort", "skip"):
            root = make_demo_workspace(tmp_path_factory.mktemp(answer) / "project")
            run_headless(Workspace(root), answer)
            built[answer] = root
    time.tzset()
    return built


@pytest.fixture
def copy_run(finished_runs: dict[str, Path], tmp_path: Path) -> Callable[[str], Workspace]:
    """`copy_run("retry")`: a private copy of a workspace whose example run ended with that answer."""

    def copy(answer: str) -> Workspace:
        target = tmp_path / answer / ".studio"
        shutil.copytree(finished_runs[answer], target)
        return Workspace(target)

    return copy


def run_headless(workspace: Workspace, on_escalation: str = "retry", goal: str = GOAL) -> OrchestrationState:
    """Run the example scenario without a person (a policy answers) and a fake clock; returns the final state."""
    return asyncio.run(build_headless(workspace, on_escalation, goal))


async def build_headless(workspace: Workspace, on_escalation: str = "retry", goal: str = GOAL) -> OrchestrationState:
    """`run_headless` for tests already inside an event loop."""
    config = workspace.config()
    orchestrator = Orchestrator(
        workspace,
        config,
        PolicyDecider(on_escalation),  # type: ignore[arg-type]
        agent_factory(workspace, config, speed=0),
        clock=FakeClock(),
        sleep=no_sleep,
    )
    return await orchestrator.build(goal)


def truncate_log(workspace: Workspace, orch_id: str, last_seq: int) -> None:
    """Cut an orchestration's log after `last_seq`, as if its writer were still running there."""
    path = workspace.events_path(orch_id)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:last_seq]), encoding="utf-8")


def seq_of(workspace: Workspace, orch_id: str, type_: str, nth: int = 1, **fields: object) -> int:
    """The seq of the `nth` event of a type (and field values) in a log: cut points that survive new event kinds."""
    matching = [
        e.seq
        for e in read_events(workspace, orch_id)
        if e.type == type_ and all(getattr(e, name, None) == value for name, value in fields.items())
    ]
    return matching[nth - 1]


def cut_mid_run(workspace: Workspace) -> None:
    """The latest run cut where context7 is CRITICAL and two optimisation steps have run (the third not yet)."""
    orch_id = workspace.latest()
    truncate_log(workspace, orch_id, seq_of(workspace, orch_id, "optimization_applied", 2))


def cut_at_escalation(workspace: Workspace) -> None:
    """The latest run cut where the builder's step 5 blocker waits for a person."""
    orch_id = workspace.latest()
    truncate_log(workspace, orch_id, seq_of(workspace, orch_id, "decision_requested", kind="escalation"))


def make_app(workspace: Workspace, action: str = "view", **launch: object) -> StudioApp:
    """The dashboard with every clock fixed; scripted agents run at speed 0."""
    launch.setdefault("speed", 0)
    if action == "build":
        launch.setdefault("goal", GOAL)
    return StudioApp(
        Launch(workspace, action, **launch),  # type: ignore[arg-type]
        clock=lambda: NOW,
        orchestrator_clock=FakeClock(),
        orchestrator_sleep=no_sleep,
    )


async def until(pilot, condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Let the app run until `condition` holds; fail saying `what` did not happen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause()


def screen_text(app: StudioApp) -> str:
    """What the terminal shows right now, as plain text lines."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def reach(pilot, app: StudioApp, screen_type: type, *, answer_questions: bool = True) -> None:
    """Drive a live run until `screen_type` is on top, sending Enter (the default) to Planner questions on the way."""
    from studio_tui.ui.screens.decisions import QuestionScreen

    def arrived() -> bool:
        return isinstance(app.screen, screen_type)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while not arrived():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {screen_type.__name__}; on top: {type(app.screen).__name__}")
        if answer_questions and isinstance(app.screen, QuestionScreen) and screen_type is not QuestionScreen:
            await pilot.press("enter")
        await pilot.pause()


async def finish_run(pilot, app: StudioApp) -> OrchestrationState:
    """Wait for the run worker to end and the dashboard to take note; the run's final state."""
    worker = app.active_run
    if worker is not None:
        await worker.wait()
    await until(pilot, lambda: app.active_run is None, "the run to end")
    assert app.last_run is not None
    return app.last_run


def read_events(workspace: Workspace, orch_id: str):
    from studio_tui.core.store import read_log

    return read_log(workspace.events_path(orch_id)).events


class Dash:
    """The helpers above, handed to tests as the `dash` fixture (tests never import conftest)."""

    START = START
    NOW = NOW
    GOAL = GOAL
    make_app = staticmethod(make_app)
    until = staticmethod(until)
    reach = staticmethod(reach)
    finish_run = staticmethod(finish_run)
    screen_text = staticmethod(screen_text)
    truncate_log = staticmethod(truncate_log)
    cut_mid_run = staticmethod(cut_mid_run)
    cut_at_escalation = staticmethod(cut_at_escalation)
    read_events = staticmethod(read_events)


@pytest.fixture
def dash() -> Dash:
    return Dash()
