"""Make docs/screenshots/dashboard.png: the dashboard at 120x40, mid-run, with the context budget under pressure;
and one PNG per screen added since: inbox.png, agent.png (agent detail with a diff and terminal output),
command.png (the `:` line), export.png (export preview), compare.png (two checkpoints side by side).

Runs the bundled example headless with a fixed clock, cuts its log where context7 is CRITICAL and the
optimisation steps are running, opens the dashboard on it and saves an SVG, then a PNG (needs rsvg-convert:
apt-get install librsvg2-bin).

    python docs/screenshots/make_dashboard.py
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path

from studio_tui.core import orchestrator as orchestrator_module
from studio_tui.core.agents import agent_factory
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.example import make_demo_workspace
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.store import Workspace, read_log
from studio_tui.ui.app import Launch, StudioApp

HERE = Path(__file__).resolve().parent
START = 1_780_308_000.0
OPTIMISATIONS_SHOWN = 2
"""Cut the log after this many optimisation steps: context7 CRITICAL, learnings summarised and archived."""
SIZE = (120, 40)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


async def no_sleep(_seconds: float) -> None:
    pass


def finished_workspace(folder: Path, cut_at_escalation: bool = False) -> tuple[Workspace, str]:
    """The example run to its end (or cut where the builder's escalation waits for a person)."""
    workspace = Workspace(make_demo_workspace(folder))
    config = workspace.config()
    orchestrator_module.new_orch_id = lambda now: "orch_20260601_100000_a1b2"
    orchestrator = Orchestrator(
        workspace, config, PolicyDecider("retry"), agent_factory(workspace, config, speed=0), clock=Clock(), sleep=no_sleep
    )
    state = asyncio.run(orchestrator.build("Add user authentication with OAuth"))
    if cut_at_escalation:
        path = workspace.events_path(state.id)
        asked = next(e.seq for e in read_log(path).events if e.type == "decision_requested" and getattr(e, "kind", "") == "escalation")
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text("".join(lines[:asked]), encoding="utf-8")
    return workspace, state.id


def shoot(app: StudioApp, name: str, before) -> None:  # type: ignore[no-untyped-def]
    """Run `before` on the app at SIZE, save docs/screenshots/NAME.png."""
    svg = HERE / f"{name}.svg"

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            while not app.feed.state.id:
                await pilot.pause()
            app.draw()
            await before(pilot)
            for _ in range(3):
                await pilot.pause()
            app.save_screenshot(str(svg))

    asyncio.run(run())
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    svg.write_text(text, encoding="utf-8")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(HERE / f"{name}.png")], check=True)
    svg.unlink()
    print(HERE / f"{name}.png")


async def _until(pilot, condition) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2000):
        if condition():
            return
        await pilot.pause()
    raise RuntimeError("the screen did not arrive")


def new_screens(folder: Path) -> None:
    from studio_tui.ui.screens.agent_detail import AgentScreen
    from studio_tui.ui.screens.checkpoints import CheckpointBrowser
    from studio_tui.ui.screens.compare import CompareScreen
    from studio_tui.ui.screens.export import ExportScreen
    from studio_tui.ui.screens.inbox import InboxScreen

    waiting, orch_id = finished_workspace(folder / "waiting", cut_at_escalation=True)
    last_ts = read_log(waiting.events_path(orch_id)).events[-1].ts
    app = StudioApp(Launch(waiting, "view"), clock=lambda: last_ts + 95)

    async def inbox(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("i")
        await _until(pilot, lambda: isinstance(app.screen, InboxScreen) and bool(app.screen.items))

    shoot(app, "inbox", inbox)
    done, orch_id = finished_workspace(folder / "done")
    last_ts = read_log(done.events_path(orch_id)).events[-1].ts

    def fresh() -> StudioApp:
        return StudioApp(Launch(done, "view"), clock=lambda: last_ts + 2)

    app = fresh()

    async def agent(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("down", "enter")
        await _until(pilot, lambda: isinstance(app.screen, AgentScreen))
        await pilot.pause()
        app.screen.query_one("#agent-detail-scroll").scroll_to(y=24, animate=False)

    shoot(app, "agent", agent)
    app = fresh()

    async def command(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("colon", "r", "e")

    shoot(app, "command", command)
    app = fresh()

    async def export(pilot) -> None:  # type: ignore[no-untyped-def]
        app.action_export("md")
        await _until(pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen.path is not None)

    shoot(app, "export", export)
    app = fresh()

    async def compare(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("c")
        await _until(pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None)
        await pilot.press("m", "down", "down", "down", "m", "d")
        await _until(pilot, lambda: isinstance(app.screen, CompareScreen))

    shoot(app, "compare", compare)


def build_workspace(folder: Path) -> tuple[Workspace, str]:
    workspace = Workspace(make_demo_workspace(folder))
    config = workspace.config()
    orchestrator_module.new_orch_id = lambda now: "orch_20260601_100000_a1b2"  # a readable, fixed id
    orchestrator = Orchestrator(
        workspace, config, PolicyDecider("retry"), agent_factory(workspace, config, speed=0), clock=Clock(), sleep=no_sleep
    )
    state = asyncio.run(orchestrator.build("Add user authentication with OAuth"))
    path = workspace.events_path(state.id)
    optimised = [e.seq for e in read_log(path).events if e.type == "optimization_applied"]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: optimised[OPTIMISATIONS_SHOWN - 1]]), encoding="utf-8")
    return workspace, state.id


def main() -> None:
    os.environ["TZ"] = "UTC"
    time.tzset()
    with tempfile.TemporaryDirectory() as folder:
        workspace, orch_id = build_workspace(Path(folder) / "project")
        last_ts = read_log(workspace.events_path(orch_id)).events[-1].ts
        app = StudioApp(Launch(workspace, "view", orch_id=orch_id), clock=lambda: last_ts + 2)
        svg = HERE / "dashboard.svg"

        async def shoot() -> None:
            async with app.run_test(size=SIZE) as pilot:
                while not app.feed.state.id:
                    await pilot.pause()
                app.draw()
                await pilot.pause()
                app.save_screenshot(str(svg))

        asyncio.run(shoot())
    # librsvg drops leading no-break spaces unless told to keep whitespace.
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    svg.write_text(text, encoding="utf-8")
    subprocess.run(["rsvg-convert", str(svg), "-o", str(HERE / "dashboard.png")], check=True)
    svg.unlink()
    print(HERE / "dashboard.png")
    with tempfile.TemporaryDirectory() as folder:
        new_screens(Path(folder))


if __name__ == "__main__":
    main()
