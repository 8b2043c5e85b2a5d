"""What must never go wrong: agent text interpreted, a crash at a small size, a lost run on quit, a bad theme."""

from __future__ import annotations

from studio_tui.core import events as ev
from studio_tui.core.decider import DecisionRequest
from studio_tui.core.store import EventLogWriter, Workspace
from studio_tui.ui.screens.checkpoints import CheckpointBrowser
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.screens.dashboard import PANES
from studio_tui.ui.screens.decisions import EscalationScreen, QuestionScreen, decision_screen
from studio_tui.ui.screens.handoffs import HandoffScreen
from studio_tui.ui.screens.help import HelpScreen
from studio_tui.ui.themes import load_themes
from studio_tui.ui.widgets.eventlog.event_log import EventLog
from studio_tui.ui.widgets.failures.failure_table import FailureTable

T0 = 1_780_308_000.0
MARKUP = "[bold red]x[/]"
OSC52 = "\x1b]52;c;cHduZWQ=\x07"
"""A clipboard-write escape sequence: a terminal that received it raw would change the clipboard."""


def write_hostile_log(workspace: Workspace) -> str:
    """An orchestration whose goal, agent output and failure carry markup and escape sequences."""
    orch_id = "orch_20260601_100000_beef"
    writer = EventLogWriter(workspace.events_path(orch_id))
    events = [
        ev.OrchestrationStarted(goal=f"Fix {MARKUP} now", mode="implicit"),
        ev.RoutingDecided(
            workflow="build_only", complexity="simple", confidence=0.9, sequence=[ev.SlotSpec(key="builder", agent="builder")]
        ),
        ev.AgentStarted(agent="builder", role="builder", total_steps=2),
        ev.AgentStep(agent="builder", step=1, total=2, description=f"step {MARKUP}"),
        ev.AgentLog(agent="builder", message=f"log {MARKUP} and {OSC52} end"),
        ev.AgentFailed(agent="builder", step=1, category="code_error", message=f"boom {MARKUP} {OSC52}"),
        ev.UnknownEvent(type="from_the_future", agent="builder", note=f"{MARKUP}"),
    ]
    for seq, event in enumerate(events, start=1):
        writer.append(event.model_copy(update={"seq": seq, "ts": T0 + seq, "orch_id": orch_id}))
    writer.close()
    return orch_id


class TestLiteralText:
    async def test_markup_and_escapes_from_agents_are_shown_literally(self, dash, demo_ws):
        write_hostile_log(demo_ws)
        app = dash.make_app(demo_ws)
        async with app.run_test(size=(160, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            app.draw()
            await pilot.pause()
            text = dash.screen_text(app)
            assert f"Fix {MARKUP} now" in text, "the goal in the header"
            assert "\x1b" not in text and "\x07" not in text
            log_lines = [strip.text for strip in app.dashboard.query_one("#event-log", EventLog).lines]
            logged = "\n".join(log_lines)
            assert f"log {MARKUP} and ^[]52;c;cHduZWQ=^G end" in logged
            assert f"step {MARKUP}" in logged
            assert "from_the_future" in logged and MARKUP in logged, "an unknown event is a generic row"
            failure = app.dashboard.query_one(FailureTable).get_row_at(0)
            assert f"boom {MARKUP} ^[]52;c;cHduZWQ=^G" in failure[-1].plain

    async def test_escalation_dialog_shows_the_error_literally(self, dash, demo_ws):
        request = DecisionRequest(
            id="d9",
            kind="escalation",
            prompt=f"Build failed after 1 retry and 1 replan attempt. {MARKUP}",
            agent="builder",
            options=("retry", "skip", "abort"),
            details={"last_error": f"{MARKUP} {OSC52}", "agent": "builder", "step": 5, "category": "blocker"},
        )
        app = dash.make_app(demo_ws)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(EscalationScreen(request))
            await pilot.pause()
            text = dash.screen_text(app)
        assert f"Build failed after 1 retry and 1 replan attempt. {MARKUP}" in text
        assert f"{MARKUP} ^[]52;c;cHduZWQ=^G" in text
        assert "\x1b" not in text


SIZES = [(80, 24), (40, 12), (52, 16), (100, 30), (200, 60), (41, 13), (120, 40)]


def every_dialog(app) -> list:
    """One of each screen the dashboard can push, with content from the shown state."""
    state = app.feed.state
    ask = {
        "escalation": DecisionRequest(
            "d1",
            "escalation",
            "Build failed after 5 retries and 1 replan attempt.",
            "builder",
            ("retry", "skip", "abort"),
            {"last_error": "x" * 300, "agent": "builder", "step": 5, "category": "blocker"},
        ),
        "routing": DecisionRequest(
            "d2",
            "routing",
            "Route it?",
            None,
            ("proceed", "cancel"),
            {"workflow": "plan_then_build", "agents": ["planner", "builder"], "confidence": 0.75, "signals": ["s"] * 20},
        ),
        "question": DecisionRequest(
            "d3", "question", "Which providers? " * 20, "planner", (), {"round": 1, "max_rounds": 5}, default="GitHub"
        ),
        "confidence": DecisionRequest("d4", "confidence", "Build it anyway?", "planner", ("proceed", "abort"), {"confidence": 0.5}),
    }
    return [
        *(decision_screen(request) for request in ask.values()),
        HelpScreen(app.binding_sections()),
        HandoffScreen("builder", lambda: state),
        CheckpointBrowser(app.workspace, state),
        ConfirmScreen("Quit", "Interrupt it and quit?"),
    ]


class TestSizes:
    async def test_every_pane_and_dialog_at_40x12(self, dash, copy_run):
        workspace = copy_run("retry")
        dash.cut_mid_run(workspace)
        app = dash.make_app(workspace)
        async with app.run_test(size=(40, 12)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            for pane in PANES:
                app.dashboard.action_pane(pane)
                await pilot.pause()
                app.draw()
                assert dash.screen_text(app)
            app.dashboard.action_filter_log()
            for screen in every_dialog(app):
                await app.push_screen(screen)
                await pilot.pause()
                assert dash.screen_text(app)
                app.pop_screen()
            await pilot.pause()
            assert app.screen is app.dashboard

    async def test_resizing_down_to_40x12_and_back(self, dash, copy_run):
        workspace = copy_run("retry")
        dash.cut_mid_run(workspace)
        app = dash.make_app(workspace)
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            for size in SIZES:
                await pilot.resize_terminal(*size)
                app.draw()
                # the compositor takes the new size on a later frame: wait for it, then every line is drawn
                await dash.until(pilot, lambda size=size: len(dash.screen_text(app).splitlines()) == size[1], f"{size} to be drawn")
                assert all(len(line) == size[0] for line in dash.screen_text(app).splitlines())

    async def test_keys_at_the_smallest_size(self, dash, copy_run):
        app = dash.make_app(copy_run("retry"))
        async with app.run_test(size=(40, 12)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            await pilot.press("5", "slash", "escape", "1", "h")
            await dash.until(pilot, lambda: isinstance(app.screen, HandoffScreen), "the handoffs")
            await pilot.press("escape", "c")
            await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser), "the browser")


class TestEventLog:
    async def test_filter_by_kind_then_clear(self, dash, copy_run):
        app = dash.make_app(copy_run("retry"))
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            log = app.dashboard.query_one("#event-log", EventLog)

            def rows() -> list[str]:
                """The log's lines (one per event)."""
                return [strip.text for strip in log.lines]

            await pilot.press("slash", *"kind:failed")
            await dash.until(pilot, lambda: len(rows()) == 3, "the three failures alone in the log")
            assert all(" failed " in row for row in rows())
            assert "search: kind:failed · 3 matches" in dash.screen_text(app)
            await pilot.press("escape")
            await dash.until(pilot, lambda: len(log.lines) >= len(app.feed.history), "every event back")

    async def test_full_text_search_counts_matches_jumps_and_says_when_none(self, dash, copy_run):
        app = dash.make_app(copy_run("retry"))
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            log = app.dashboard.query_one("#event-log", EventLog)
            everything = [strip.text for strip in log.lines]
            word = "attempt"  # in the message of agent_started rows only, not an agent or kind word
            expected = [line for line in everything if word in line.lower()]
            assert expected and len(expected) < len(everything)
            await pilot.press("slash", *word, "enter")
            await dash.until(pilot, lambda: len(log.rows) == len(expected), "only the matching rows")
            assert [strip.text for strip in log.lines] == expected
            assert f"{len(expected)} matches · n/N" in dash.screen_text(app)
            await pilot.press("n")
            await dash.until(pilot, lambda: log.cursor == 0, "the first match highlighted")
            await pilot.press("n", "n")
            assert log.cursor == 2 % len(expected)
            await pilot.press("N")
            assert log.cursor == 1 % len(expected)
            await dash.until(pilot, lambda: f"{log.cursor + 1}/{len(expected)}" in dash.screen_text(app), "which match it is")
            await pilot.press("slash", *"zzqxj")  # select-on-focus: the new word replaces the old
            await dash.until(pilot, lambda: not log.rows, "no rows")
            await dash.until(pilot, lambda: "no matches for" in dash.screen_text(app), "the no-matches note")
            assert "· no matches" in dash.screen_text(app)


class TestQuit:
    async def test_quit_during_a_run_asks_then_interrupts_with_a_checkpoint(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, QuestionScreen)
            await pilot.press("ctrl+c")
            await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit confirmation")
            assert "Interrupt it and quit?" in dash.screen_text(app)
            await pilot.press("n")
            await dash.until(pilot, lambda: isinstance(app.screen, QuestionScreen), "the question again")
            await pilot.press("ctrl+c")
            await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit confirmation")
            await pilot.press("y")
            await dash.until(pilot, lambda: app.return_value is not None, "the app to exit")
        assert app.return_value == 130
        state = demo_ws.load_state(demo_ws.latest())
        assert state.status == "interrupted"
        assert state.checkpoints[-1].name == "interrupted"
        assert not demo_ws.lock().holder(), "the lock is released"

    async def test_quit_in_view_mode_exits_at_once(self, dash, copy_run):
        app = dash.make_app(copy_run("retry"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("q")
            await dash.until(pilot, lambda: app.return_value is not None, "the app to exit")
        assert app.return_value == 0


class TestLaunch:
    async def test_busy_workspace_shows_why_and_stays_in_view_mode(self, dash, copy_run):
        workspace = copy_run("retry")
        app = dash.make_app(workspace, "build")
        with workspace.lock():
            async with app.run_test(size=(120, 40), notifications=True) as pilot:
                await dash.until(pilot, lambda: bool(app.feed.state.id), "the latest orchestration to show")
                assert app.active_run is None
                assert any("in use by" in n.message for n in app._notifications)
        assert app.exit_status == 2

    async def test_empty_workspace_says_how_to_start(self, dash, demo_ws):
        app = dash.make_app(demo_ws)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.draw()
            assert 'studio-tui build "GOAL"' in dash.screen_text(app)

    async def test_view_follows_a_log_another_process_is_writing(self, dash, copy_run):
        workspace = copy_run("retry")
        orch_id = workspace.latest()
        path = workspace.events_path(orch_id)
        full = path.read_bytes()
        dash.truncate_log(workspace, orch_id, 40)
        app = dash.make_app(workspace)
        writer = workspace.lock().acquire()  # the other process holds the workspace while it writes
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: app.feed.state.seq == 40, "the first 40 events")
            assert app._note() == "◌ following the log"
            writer.release()  # its writer gone, the unfinished run says so instead of "following"
            assert app._note().startswith("STOPPED (no writer since ")
            writer.acquire()
            with open(path, "ab") as handle:
                rest = full[len(path.read_bytes()) :]
                handle.write(rest[: len(rest) // 2])  # stops mid-line: that line waits for its newline
                handle.flush()
                handle.write(rest[len(rest) // 2 :])
            await dash.until(pilot, lambda: app.feed.state.status == "completed", "the rest of the log", timeout=5)
        writer.release()
        assert app.feed.state.seq == workspace.load_state(orch_id).seq


class TestThemes:
    def test_shipped_themes_are_valid(self, dash):
        found = load_themes()
        assert found.problems == []
        assert {"studio-dark", "studio-light", "studio-high-contrast"} <= set(found.themes)

    def test_broken_theme_files_are_reported_not_raised(self, dash, tmp_path):
        (tmp_path / "good.yaml").write_text("primary: '#112233'\n")
        (tmp_path / "bad-colour.yaml").write_text("primary: not-a-colour\n")
        (tmp_path / "bad-yaml.yaml").write_text("primary: [\n")
        (tmp_path / "extra.yaml").write_text("primary: '#112233'\nsparkles: true\n")
        (tmp_path / "control.yaml").write_text("primary: '#112233\x00'\n")
        (tmp_path / "nested.yaml").write_text("variables: " + "[" * 5000 + "]" * 5000 + "\n")
        found = load_themes([tmp_path])
        assert set(found.themes) == {"good"}
        assert len(found.problems) == 5
        assert any("bad-colour.yaml" in p and "primary" in p for p in found.problems)

    async def test_unknown_theme_falls_back_with_a_notification(self, dash, demo_ws):
        app = dash.make_app(demo_ws, theme="no-such-theme")
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            await pilot.pause()
            assert app.theme == "studio-dark"
            assert any("no-such-theme" in n.message for n in app._notifications)

    async def test_switching_theme_redraws(self, dash, copy_run):
        app = dash.make_app(copy_run("retry"), theme="studio-light")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
            assert app.theme == "studio-light"
            for name in ("studio-high-contrast", "studio-dark"):
                app.theme = name
                await pilot.pause()
                app.draw()
                assert "COMPLETED" in dash.screen_text(app)
