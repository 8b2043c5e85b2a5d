"""The checkpoint browser and the handoff inspector: every checkpoint, a preview, resume inside the dashboard."""

from __future__ import annotations

import shutil

from textual.widgets import DataTable

from studio_tui.core import events as ev
from studio_tui.ui.screens.checkpoints import CheckpointBrowser
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.screens.handoffs import HandoffScreen
from studio_tui.ui.widgets.handoffs.handoff_view import HandoffView


async def open_browser(dash, pilot, app) -> CheckpointBrowser:
    await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
    await pilot.press("c")
    await dash.until(pilot, lambda: isinstance(app.screen, CheckpointBrowser) and app.screen.previewed is not None, "the checkpoints")
    return app.screen  # type: ignore[return-value]


async def test_browser_lists_every_checkpoint_of_every_orchestration_newest_first(dash, copy_run):
    workspace = copy_run("abort")
    retried = copy_run("retry")
    first = workspace.load_state(workspace.latest())
    second = retried.load_state(retried.latest())
    shutil.copytree(retried.orch_dir(second.id), workspace.orch_dir(second.id))
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(dash, pilot, app)
        entries = browser.found.entries
        assert {e.orch_id for e in entries} == {first.id, second.id}
        assert {e.cp_id for e in entries} == {cp.id for cp in first.checkpoints + second.checkpoints}
        # a tree of runs (newest run first, its forks under it), each run's checkpoints newest first
        for orch_id in {e.orch_id for e in entries}:
            mine = [e.ts for e in entries if e.orch_id == orch_id]
            assert mine == sorted(mine, reverse=True)
        runs = list(dict.fromkeys(e.orch_id for e in entries))
        assert runs == sorted(runs, key=lambda o: max(e.ts for e in entries if e.orch_id == o), reverse=True)
        assert browser.query_one(DataTable).row_count == len(entries)
        text = dash.screen_text(app)
        newest = browser.previewed
        assert newest.meta.id == entries[0].cp_id
        assert newest.meta.name in text and newest.meta.id in text
        assert "Agents" in text and "Budget" in text and f"Failures ({len(newest.state.failures)})" in text


async def test_preview_says_what_changed_since(dash, copy_run):
    workspace = copy_run("retry")
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(dash, pilot, app)
        older = next(i for i, e in enumerate(browser.found.entries) if e.name == "builder_step_3")
        browser.query_one(DataTable).move_cursor(row=older)
        await dash.until(pilot, lambda: browser.previewed is not None and browser.previewed.meta.name == "builder_step_3", "the preview")
        await pilot.pause()
        text = dash.screen_text(app)
        assert "Since then" in text
        assert "builder: active → completed" in text
        assert "failure builder step 5: blocker → escalate" in text


async def test_resume_from_the_browser_continues_the_run_here(dash, copy_run):
    workspace = copy_run("abort")
    aborted = workspace.load_state(workspace.latest())
    latest = aborted.checkpoints[-1]
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = await open_browser(dash, pilot, app)
        assert browser.highlighted is not None and browser.highlighted.cp_id == latest.id
        await pilot.press("r")
        await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "Resume" in dash.screen_text(app) and latest.id in dash.screen_text(app)
        await pilot.press("n")  # no: nothing starts
        await dash.until(pilot, lambda: app.screen is browser, "back in the browser")
        assert app.active_run is None
        await pilot.press("r")
        await dash.until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        # the run continues from its log, where the step's failure is already recorded: its next try
        # (the scripted second one succeeds) completes without asking again
        state = await dash.finish_run(pilot, app)
    assert state.id == aborted.id
    assert state.status == "completed"
    assert state.resumed_from == [latest.id]
    resumed = [e for e in dash.read_events(workspace, state.id) if isinstance(e, ev.Resumed)]
    assert [e.checkpoint_id for e in resumed] == [latest.id]


async def test_handoff_inspector_shows_context_received_and_passed_on(dash, copy_run):
    app = dash.make_app(copy_run("retry"))
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        app.draw()
        await pilot.press("down", "h")
        await dash.until(pilot, lambda: isinstance(app.screen, HandoffScreen), "the handoff inspector")
        assert "Received: 2 handoffs" in dash.screen_text(app)
        view = app.screen.query_one(HandoffView)
        text = view.build(app.feed.state, "builder").plain
        assert "planner → builder  121 tokens" in text
        assert "plan_id: bp_oauth" in text
        assert "Passed on: 1 handoff, 74 tokens" in text
        assert "builder → planner  74 tokens" in text
        assert "failure_reason: 'Step 3 failed: Provider SDK needs a synchronous request" in text
        await pilot.press("escape")
        await dash.until(pilot, lambda: app.screen is app.dashboard, "back on the dashboard")


async def test_damaged_checkpoint_is_shown_and_not_resumed(dash, copy_run):
    workspace = copy_run("abort")
    state = workspace.load_state(workspace.latest())
    damaged = workspace.checkpoints_dir(state.id) / f"{state.checkpoints[-1].id}.yaml"
    damaged.write_text("checkpoint: [\n", encoding="utf-8")
    app = dash.make_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        await pilot.press("c")
        await dash.until(
            pilot, lambda: isinstance(app.screen, CheckpointBrowser) and damaged in app.screen.problems, "the damaged file to be read"
        )
        browser = app.screen
        assert browser.highlighted is not None and browser.highlighted.path == damaged
        assert "damaged checkpoint" in browser.problems[damaged]
        await pilot.pause()
        assert "The file is kept as it is" in dash.screen_text(app)
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is browser and app.active_run is None
        await pilot.press("down")
        await dash.until(pilot, lambda: browser.previewed is not None, "the next checkpoint's preview")
