"""The defects a new user hit (issue 13), each pinned by a pilot test that failed before its fix."""

from __future__ import annotations

from rich.console import Console
from textual.widgets import Button
from textual.widgets._toast import Toast

from studio_tui.core.agents import agent_factory
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.reducer import fold
from studio_tui.headless import state_view
from studio_tui.ui import fmt
from studio_tui.ui.app import Launch, StudioApp, print_exit_outcome
from studio_tui.ui.screens.checkpoints import CheckpointBrowser
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.screens.decisions import EscalationScreen, RoutingScreen
from studio_tui.ui.widgets.agents.agent_table import AgentTable
from studio_tui.ui.widgets.checkpoints.checkpoint_table import CheckpointTable
from studio_tui.ui.widgets.header.status_header import StatusHeader


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


async def _no_sleep(_seconds: float) -> None:
    pass


async def resume_headless(dash, workspace, checkpoint_name: str, *, start: float) -> None:
    """Resume the latest run from its first checkpoint called `checkpoint_name`, without a person, an hour later."""
    state = workspace.load_state(workspace.latest())
    record = workspace.find_checkpoint(next(cp.id for cp in state.checkpoints if cp.name == checkpoint_name))
    config = workspace.config()
    orchestrator = Orchestrator(
        workspace, config, PolicyDecider("abort"), agent_factory(workspace, config, speed=0), clock=Clock(start), sleep=_no_sleep
    )
    await orchestrator.resume(record)


async def test_browser_names_checkpoints_a_resume_went_back_past_and_shows_whole_ids(dash, copy_run):
    workspace = copy_run("abort")
    before = workspace.load_state(workspace.latest())
    await resume_headless(dash, workspace, "planner_step_3", start=dash.START + 3600)
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        await pilot.press("c")
        await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints")
        browser = app.screen
        entries = {e.cp_id: e for e in browser.found.entries}
        for cp in before.checkpoints:  # saved before the resume went back: the latest state no longer lists them
            assert entries[cp.id].name == cp.name
            assert entries[cp.id].after_agent == cp.after_agent
            assert entries[cp.id].ts == cp.ts
        text = dash.screen_text(app)
        assert " ? " not in text
        assert before.id in text, "the Orchestration column shows the whole id"


async def test_live_checkpoints_pane_keeps_the_newest_in_view(dash, copy_run):
    workspace = copy_run("retry")
    events = dash.read_events(workspace, workspace.latest())
    first_cp = next(i for i, e in enumerate(events) if e.type == "checkpoint_saved")
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.feed.reset(fold(events[: first_cp + 1]), events[: first_cp + 1])
        app.draw()
        await pilot.pause()
        for event in events[first_cp + 1 :]:
            app.feed.apply(event)
            if event.type == "checkpoint_saved":
                app.draw()
                await pilot.pause()
        app.draw()
        await pilot.pause()
        table = app.screen.query_one(CheckpointTable)
        newest = app.feed.state.checkpoints[-1]
        assert len(app.feed.state.checkpoints) > table.scrollable_content_region.height, "more rows than fit: the test means something"
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert fmt.clock_time(newest.ts) in dash.screen_text(app)


async def test_a_skipped_step_reads_the_same_in_the_dashboard_and_headless(dash, copy_run):
    workspace = copy_run("skip")
    state = workspace.load_state(workspace.latest())
    builder = state.agent("builder")
    assert builder is not None and builder.steps_skipped == [5] and builder.total_steps == 6
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.pause()
        table = app.screen.query_one(AgentTable)
        shown = str(table.get_row("builder")[2])
    console = Console(record=True, width=200)
    console.print(state_view(state))
    assert shown == "5/6 (1 skipped)"
    assert "builder 5/6 (1 skipped)" in console.export_text()


async def test_the_waiting_toast_never_covers_a_dialogs_buttons(dash, demo_ws):
    for size, dialog, mode in (((60, 20), EscalationScreen, "implicit"), ((80, 24), RoutingScreen, "explicit")):
        app = dash.make_app(demo_ws, "build", mode=mode)
        async with app.run_test(size=size) as pilot:
            await dash.reach(pilot, app, dialog)
            await pilot.pause()
            toasts = [t.region for t in app.screen.query(Toast)]
            for button in app.screen.query(Button):
                covered = [t for t in toasts if t.overlaps(button.region)]
                assert not covered, f"{size}: a toast covers {button.label}"
            await pilot.press("a" if dialog is EscalationScreen else "c")
            await dash.finish_run(pilot, app)


async def test_watch_mode_disables_resume_up_front_with_the_reason(dash, copy_run):
    workspace = copy_run("abort")
    app = dash.make_app(workspace, "watch")
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(
            pilot, lambda: bool(app.feed.state.id) and app.watch_note is not None and "finished" in app.watch_note, "the watched run"
        )
        await pilot.press("c")
        await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints")
        browser = app.screen
        assert browser.check_action("resume", ()) is None, "Resume is disabled, not refused after confirming"
        assert "Watch mode is read-only" in dash.screen_text(app)
        await pilot.press("r")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert app.active_run is None


async def test_the_dashboard_prints_the_outcome_and_the_resume_command_on_exit(dash, demo_ws):
    app = dash.make_app(demo_ws, "build")
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.reach(pilot, app, EscalationScreen)
        await pilot.press("a")
        state = await dash.finish_run(pilot, app)
    console = Console(record=True, width=200)
    print_exit_outcome(app, console)
    printed = console.export_text()
    assert f"{state.id}: aborted" in printed
    assert f"resume {state.checkpoints[-1].id}" in printed
    assert str(demo_ws.events_path(state.id)) in printed


async def test_the_elapsed_clock_counts_from_the_resume(dash, copy_run):
    workspace = copy_run("abort")
    latest = workspace.load_state(workspace.latest()).checkpoints[-1]
    later = dash.START + 7200
    app = StudioApp(
        Launch(workspace, "resume", checkpoint_id=latest.id, speed=0),
        clock=lambda: later + 100,
        orchestrator_clock=Clock(later),
        orchestrator_sleep=_no_sleep,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: app.feed.state.resumed_ts is not None, "the resume")
        state = app.feed.state
        assert state.started_ts is not None and state.resumed_ts > state.started_ts + 3600

        def ended() -> bool:  # answer whatever the resumed run asks, to its end
            if isinstance(app.screen, EscalationScreen):
                app.screen.dismiss("abort")
            return app.active_run is None

        await dash.until(pilot, ended, "the resumed run to end", timeout=30)
        final = app.last_run
        assert final is not None and final.finished_ts is not None
        header = app.dashboard.query_one(StatusHeader).build(final, later + 100)
        assert fmt.elapsed_clock(final.finished_ts - final.resumed_ts) in header.plain
        assert fmt.elapsed_clock(final.finished_ts - final.started_ts) not in header.plain, "not from the original start"
