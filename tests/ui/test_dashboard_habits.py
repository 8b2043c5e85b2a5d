"""k9s / lazygit habits: the `:` command line, `y` yank, ctrl+c copy vs ctrl+q quit; the inbox and export screens."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from studio_tui.core.inbox import waiting_decisions
from studio_tui.ui.screens.checkpoints import CheckpointBrowser
from studio_tui.ui.screens.command_line import CommandLine, parse_command
from studio_tui.ui.screens.export import ExportScreen
from studio_tui.ui.screens.inbox import InboxScreen
from studio_tui.ui.widgets.checkpoints.checkpoint_table import CheckpointTable

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


def test_parse_command():
    assert parse_command(":replay orch_1") == parse_command("replay  orch_1 ")
    assert parse_command("quit").verb == "q"
    assert parse_command("  ") is None


async def test_colon_opens_a_command_line_that_completes_and_runs(dash, copy_run):
    app = dash.make_app(copy_run("retry"))
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        await pilot.press("colon")
        await dash.until(pilot, lambda: isinstance(app.screen, CommandLine), "the command line")
        await pilot.press("t", "h", "e", "m", "e", "space", "s", "t", "u", "d", "i", "o", "-", "l")
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "theme studio-light"
        await pilot.press("enter")
        await dash.until(pilot, lambda: app.theme == "studio-light", "the theme to switch")
        await pilot.press("colon", "c", "h", "e", "c", "k", "p", "o", "i", "n", "t", "s", "enter")
        await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser), "the checkpoint browser")
        await pilot.press("escape")
        await pilot.press("colon", "n", "o", "p", "e", "enter")
        await dash.until(pilot, lambda: any("unknown command :nope" in n.message for n in app._notifications), "the unknown-command note")


async def test_y_yanks_the_highlighted_checkpoint_id_and_ctrl_c_copies_a_selection(dash, copy_run):
    app = dash.make_app(copy_run("retry"))
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.focused, CheckpointTable)
        await pilot.press("y")
        assert app.yanked == app.feed.state.checkpoints[-1].id
        assert app.clipboard == app.yanked, "copied with copy_to_clipboard (OSC 52)"
        app.copy_to_clipboard("")
        await pilot.press("ctrl+c")  # nothing selected: the old interrupt, i.e. quit when no run is active
        await pilot.pause()
    assert app.return_code == 0


async def test_inbox_lists_a_waiting_run_and_answers_it(dash, copy_run):
    waiting = copy_run("retry")
    dash.cut_at_escalation(waiting)
    app = dash.make_app(waiting)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: app.inbox_count == 1, "the header's inbox count")
        app.draw()
        await dash.until(pilot, lambda: "✉ 1 waiting" in dash.screen_text(app), "the count in the header")
        await pilot.press("i")
        await dash.until(pilot, lambda: isinstance(app.screen, InboxScreen) and app.screen.items, "the inbox")
        item = app.screen.items[0]
        assert item.kind == "escalation"
        await dash.until(pilot, lambda: "redis" in dash.screen_text(app), "the question shown")
        await pilot.press("enter")
        await pilot.press("s", "k", "i", "p", "enter")
        path = waiting.orch_dir(item.orch_id) / "answers" / f"{item.decision_id}.json"
        await dash.until(pilot, path.exists, "the answer file")
        assert '"answer": "skip"' in path.read_text()
    assert waiting_decisions(waiting).items, "still waiting: only the run's own process takes the answer"


async def test_export_writes_the_report_beside_the_log_and_previews_it(dash, copy_run):
    workspace = copy_run("retry")
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.action_export("html")
        await dash.until(pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen.path is not None, "the export")
        path = app.screen.path
        assert path == workspace.orch_dir(app.feed.state.id) / "report.html"
        assert "<script" not in path.read_text().lower()
        await dash.until(pilot, lambda: "Timeline" in dash.screen_text(app) and "report.html" in dash.screen_text(app), "the preview")


@pytest.mark.parametrize("size", SIZES)
class TestNewScreens:
    def test_inbox(self, dash, snap_compare, copy_run, size):
        workspace = copy_run("retry")
        dash.cut_at_escalation(workspace)
        app = dash.make_app(workspace)

        async def before(pilot) -> None:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            await app.push_screen(InboxScreen(workspace, clock=lambda: dash.NOW))
            await dash.until(pilot, lambda: bool(app.screen.items), "the inbox")
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_command_line(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("retry"))

        async def before(pilot) -> None:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            app.draw()
            await pilot.press("colon", "r", "e")
            app.screen.query_one(Input).cursor_blink = False
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_export_preview(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("retry"))

        async def before(pilot) -> None:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            app.action_export("md")
            await dash.until(pilot, lambda: isinstance(app.screen, ExportScreen) and app.screen.path is not None, "the export")
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=before)
