"""Start-up (issue 14): the dashboard's first frame imports only what it shows (no orchestrator, no ACP
client, no Dask, no textual-serve, no printer, no screen that is not on it; a real fresh interpreter each
time), and a theme chosen at start looks exactly as the same theme switched to later."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from studio_tui.core.store import Workspace

HEAVY = (
    "acp",
    "dask",
    "distributed",
    "textual_serve",
    "aiohttp",
    "pygments",
    "watchfiles",
    "studio_tui.core.orchestrator",
    "studio_tui.core.agents",
    "studio_tui.core.export",
    "studio_tui.core.parallel",
    "studio_tui.headless",
    "studio_tui.serve",
    "studio_tui.cli.runs",
    "studio_tui.cli.inspect",
    "studio_tui.ui.screens.replay",
    "studio_tui.ui.screens.checkpoints",
    "studio_tui.ui.screens.decisions",
    "studio_tui.ui.screens.agent_detail",
    "studio_tui.ui.screens.help",
    "studio_tui.ui.screens.inbox",
)
"""Modules (and their submodules) the dashboard's first frame must not import: each costs start-up time
(`import acp` alone takes seconds) and none of them draws anything on that frame."""

DASHBOARD = r"""
import asyncio, json, sys, time
from pathlib import Path
import studio_tui.cli, studio_tui.cli.logs, studio_tui.cli.dashboard  # what `studio-tui` imports on its way here
from studio_tui.core.store import Workspace
from studio_tui.ui.app import Launch, StudioApp

async def main():
    app = StudioApp(Launch(Workspace(Path(sys.argv[1])), action="view"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        deadline = time.monotonic() + 60
        while (not app.feed.state.id or app.feed.dirty) and time.monotonic() < deadline:
            await pilot.pause()
        shown = app.feed.state.id
    print(json.dumps({"shown": shown, "modules": sorted(sys.modules)}))

asyncio.run(main())
"""

HELP = r"""
import json, sys
from studio_tui.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print(json.dumps({"modules": sorted(sys.modules)}))
"""


def heavy_in(modules: list[str]) -> list[str]:
    return [name for name in modules if any(name == heavy or name.startswith(heavy + ".") for heavy in HEAVY)]


def run_child(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_first_frame_of_a_finished_run_imports_nothing_heavy(copy_run: Callable[[str], Workspace]):
    workspace = copy_run("retry")
    found = run_child(DASHBOARD, str(workspace.root))
    assert found["shown"], "the run was never on screen: the guard would check an empty dashboard"
    modules = found["modules"]
    assert "studio_tui.ui.screens.dashboard" in modules and "studio_tui.ui.widgets.agents.agent_table" in modules  # it really drew
    assert heavy_in(modules) == []


def test_cli_help_imports_no_command_module():
    modules = run_child(HELP)["modules"]
    assert "studio_tui.cli.parser" in modules
    assert heavy_in(modules) == []
    assert not any(name == "textual" or name.startswith("textual.") for name in modules)


def test_the_guard_sees_a_heavy_import():
    """The check itself can fail: a child that imports the orchestrator is caught."""
    modules = run_child("import json, sys, studio_tui.core.orchestrator; print(json.dumps({'modules': sorted(sys.modules)}))")["modules"]
    assert "studio_tui.core.orchestrator" in heavy_in(modules)


def looks(app) -> dict[str, object]:
    """What a theme decides, for comparing two apps: the app's mode classes and the colours of a few parts."""
    screen = app.screen
    parts = [screen, screen.query_one("#header"), screen.query_one("#agents"), screen.query_one("#log-pane")]
    return {
        "classes": sorted(c for c in app.classes if c.startswith("-")),
        "colours": [(str(part.styles.background), str(part.styles.color)) for part in parts],
        "border": str(screen.query_one("#log-pane").styles.border_top),
    }


@pytest.mark.parametrize("theme", ["studio-light", "studio-high-contrast"])
async def test_a_theme_chosen_at_start_looks_as_when_switched_to(dash, copy_run, theme: str):
    """The app applies its start theme without Textual's re-parse (StudioApp._start_with_theme): same result."""
    workspace = copy_run("retry")  # both apps only view it
    started = dash.make_app(workspace, theme=theme)
    async with started.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(started.feed.state.id), "the orchestration to load")
        at_start = looks(started)
    switched = dash.make_app(workspace)
    async with switched.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(switched.feed.state.id), "the orchestration to load")
        dark = looks(switched)
        switched.theme = theme
        await dash.until(pilot, lambda: looks(switched) != dark, "the theme to apply")
        await pilot.pause()
        assert looks(switched) == at_start
    assert at_start != dark
