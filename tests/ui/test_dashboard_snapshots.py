"""Snapshots of every screen and dialog at 120x40 and 80x24, from fixed workspaces and clocks.

Update with `pytest tests/ui --snapshot-update` only after looking at the new SVGs (or PNGs made from them).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from studio_tui.core.decider import DecisionRequest
from studio_tui.ui.screens.checkpoints import CheckpointBrowser
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.screens.decisions import ConfidenceScreen, EscalationScreen, QuestionScreen, RoutingScreen
from studio_tui.ui.screens.handoffs import HandoffScreen
from studio_tui.ui.screens.help import HelpScreen

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


def loaded(dash, app):
    """run_before: the shown orchestration is read and drawn."""

    async def before(pilot) -> None:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.pause()
        app.draw()  # a virtual table's height settles with the layout its first draw asked for
        await pilot.pause()

    return before


@pytest.mark.parametrize("size", SIZES)
class TestDashboard:
    def test_mid_run(self, dash, snap_compare, copy_run, size):
        workspace = copy_run("retry")
        dash.cut_mid_run(workspace)
        app = dash.make_app(workspace)
        assert snap_compare(app, terminal_size=size, run_before=loaded(dash, app))


@pytest.mark.parametrize("size", SIZES)
class TestDecisionDialogs:
    def test_escalation(self, dash, snap_compare, copy_run, size):
        workspace = copy_run("retry")
        dash.cut_at_escalation(workspace)
        app = dash.make_app(workspace)

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            state = app.feed.state
            asked = state.decision(state.pending_decision)
            assert asked is not None and asked.kind == "escalation"
            request = DecisionRequest(asked.id, "escalation", asked.prompt, asked.agent, tuple(asked.options), asked.details)
            await app.push_screen(EscalationScreen(request))

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_routing(self, dash, snap_compare, demo_ws, size):
        app = dash.make_app(demo_ws, "build", mode="explicit")

        async def before(pilot) -> None:
            await dash.reach(pilot, app, RoutingScreen)
            app.draw()

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_question(self, dash, snap_compare, demo_ws, size):
        app = dash.make_app(demo_ws, "build")

        async def before(pilot) -> None:
            await dash.reach(pilot, app, QuestionScreen)
            app.screen.query_one(Input).cursor_blink = False
            app.draw()

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_low_confidence(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("retry"))
        request = DecisionRequest(
            id="d40",
            kind="confidence",
            prompt="The plan's confidence is 55%, below 70%. Build it anyway?",
            agent="planner",
            options=("proceed", "abort"),
            details={"plan_id": "bp_oauth", "confidence": 0.55, "threshold": 0.7},
        )

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            await app.push_screen(ConfidenceScreen(request))

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_quit_during_a_run(self, dash, snap_compare, demo_ws, size):
        app = dash.make_app(demo_ws, "build")

        async def before(pilot) -> None:
            await dash.reach(pilot, app, QuestionScreen)
            app.screen.query_one(Input).cursor_blink = False
            await pilot.press("ctrl+c")
            await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the quit confirmation")
            app.draw()

        assert snap_compare(app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES)
class TestScreens:
    def test_checkpoint_browser(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("abort"))

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            await pilot.press("c")
            await dash.until(
                pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints"
            )

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_resume_confirmation(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("abort"))

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            await pilot.press("c")
            await dash.until(
                pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints"
            )
            await pilot.press("r")
            await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_help(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("retry"))

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            await pilot.press("question_mark")
            await dash.until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")

        assert snap_compare(app, terminal_size=size, run_before=before)

    def test_handoff_inspector(self, dash, snap_compare, copy_run, size):
        app = dash.make_app(copy_run("retry"))

        async def before(pilot) -> None:
            await loaded(dash, app)(pilot)
            await pilot.press("down", "h")
            await dash.until(pilot, lambda: isinstance(app.screen, HandoffScreen), "the handoffs")

        assert snap_compare(app, terminal_size=size, run_before=before)
