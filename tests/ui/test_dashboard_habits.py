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


async def test_enter_on_an_agent_shows_its_diffs_terminal_output_and_tokens(dash, copy_run):
    from studio_tui.ui.screens.agent_detail import AgentScreen

    app = dash.make_app(copy_run("retry"))
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.press("down", "enter")
        await dash.until(pilot, lambda: isinstance(app.screen, AgentScreen), "the agent detail")
        assert app.screen.agent_key == "builder"
        await pilot.pause()
        from rich.console import Console

        from studio_tui.core.agent_story import agent_story
        from studio_tui.ui.screens.agent_detail import render_story

        console = Console(record=True, width=160)  # what the screen draws, all of it (the screen scrolls)
        console.print(render_story(app.feed.state, agent_story(list(app.feed.history), "builder"), dash.NOW))
        shown = console.export_text()
        assert "Create the oauth_accounts migration" in dash.screen_text(app) or "Attempts (4)" in dash.screen_text(app)
        for expected in (
            "Attempts (4)",
            "+MODELS = [User, OAuthAccount]",
            "-MODELS = [User]",
            "$ pytest -q  exit 0",
            "42 passed in 3.91s",
            "in ←",
            "Reported",
            "context7",
        ):
            assert expected in shown, expected
        await pilot.press("escape")
        assert app.screen is app.dashboard


def test_agent_story_counts_estimated_tokens_apart():
    from studio_tui.core import events as ev
    from studio_tui.core.agent_story import agent_story

    events = [
        ev.AgentStarted(seq=1, ts=10.0, agent="b", role="builder"),
        ev.AgentStep(seq=2, ts=11.0, agent="b", step=1, description="one"),
        ev.TokensUsed(seq=3, ts=12.0, agent="b", pool="working", tokens=100),
        ev.TokensUsed(seq=4, ts=12.5, agent="b", pool="working", tokens=40, estimated=True),
        ev.AgentStep(seq=5, ts=14.0, agent="b", step=1, status="completed"),
        ev.TokensUsed(seq=6, ts=15.0, agent="other", pool="working", tokens=999),
        ev.AgentCompleted(seq=7, ts=16.0, agent="b"),
    ]
    story = agent_story(events, "b")
    assert story.reported == {"working": 100} and story.estimated == {"working": 40}
    assert [(s.number, s.status, s.seconds) for s in story.steps] == [(1, "completed", 3.0)]
    assert story.attempts[0].outcome == "completed" and story.attempts[0].ended_ts == 16.0


@pytest.mark.parametrize("size", SIZES)
def test_agent_detail_snapshot(dash, snap_compare, copy_run, size):
    from studio_tui.ui.screens.agent_detail import AgentScreen

    app = dash.make_app(copy_run("retry"))

    async def before(pilot) -> None:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.press("down", "enter")
        await dash.until(pilot, lambda: isinstance(app.screen, AgentScreen), "the agent detail")
        await pilot.pause()
        app.screen.query_one("#agent-detail-scroll").scroll_to(y=28, animate=False)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=before)


async def _open_compare(dash, pilot, app):
    from studio_tui.ui.screens.compare import CompareScreen

    await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
    await pilot.press("c")
    await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints")
    await pilot.press("m", "down", "down", "down", "m", "d")
    await dash.until(pilot, lambda: isinstance(app.screen, CompareScreen), "the compare screen")
    await pilot.pause()
    return app.screen


async def test_d_compares_two_marked_checkpoints_side_by_side(dash, copy_run):
    app = dash.make_app(copy_run("retry"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _open_compare(dash, pilot, app)
        assert screen.left.meta.ts < screen.right.meta.ts, "older on the left"
        sections = {section.title: section for section in screen.sections}
        assert set(sections) == {"Checkpoint", "Agents", "Failures", "Budget", "Files"}
        builder = next(row for row in sections["Agents"].rows if row.label == "builder")
        assert builder.differs and "failed" in builder.left and "completed" in builder.right
        blocker = next(row for row in sections["Failures"].rows if "blocker" in row.label)
        assert blocker.left == "-" and blocker.right.startswith("escalate")
        text = dash.screen_text(app)
        assert any(line.strip("│ ").split()[:3] == ["●", "builder", "failed"] for line in text.splitlines() if "builder" in line), (
            "the builder row is marked as differing"
        )
        assert screen.left.meta.id in text and screen.right.meta.id in text


@pytest.mark.parametrize("size", SIZES)
def test_compare_snapshot(dash, snap_compare, copy_run, size):
    app = dash.make_app(copy_run("retry"))

    async def before(pilot) -> None:
        await _open_compare(dash, pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=before)


async def test_agent_detail_in_a_replay(dash, copy_run):
    from studio_tui.ui.screens.agent_detail import AgentScreen
    from studio_tui.ui.screens.replay import ReplayScreen

    workspace = copy_run("retry")
    app = dash.make_app(workspace, "replay", log_path=workspace.events_path(workspace.latest()))
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.player is not None, "the replay to index")
        await pilot.press("G")  # to the end: every agent routed
        await dash.until(pilot, lambda: bool(app.screen.feed.state.agent_states), "the replay's agents")
        app.screen.query_one("AgentTable").focus()
        await pilot.press("enter")
        await dash.until(pilot, lambda: isinstance(app.screen, AgentScreen), "the agent detail over the replay")
        state, _events = app.screen.source()
        assert state is app.screen_stack[-2].feed.state, "it reads the replay's own state, not the dashboard's"


def test_stderr_tail_stays_inside_the_orchestration_folder(tmp_path):
    from studio_tui.ui.screens.agent_detail import stderr_tail

    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "builder.stderr").write_text("".join(f"line {i}\x1b[31m\n" for i in range(50)))
    tail = stderr_tail(tmp_path, "streams/builder.stderr")
    assert len(tail) == 20 and tail[-1] == "line 49^[[31m", "the last lines, escapes made visible"
    (tmp_path.parent / "secret").write_text("no")
    assert "outside" in stderr_tail(tmp_path, "../secret")[0]
