"""Huge runs in the dashboard: the agent, checkpoint and failure tables draw only the rows on screen,
scroll and keep their cursor like a DataTable, and a pane whose slice of state did not change draws nothing."""

from __future__ import annotations

from studio_tui.core import events as ev
from studio_tui.core.state import AgentState, Checkpoint, Failure, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.agents.agent_table import AgentTable
from studio_tui.ui.widgets.checkpoints.checkpoint_table import CheckpointTable
from studio_tui.ui.widgets.failures.failure_table import FailureTable

T0 = 1_780_000_000.0
AGENTS, CHECKPOINTS, FAILURES = 3_000, 19_000, 4_000
ORCH = "orch_20260601_100000_huge"


def huge_state() -> OrchestrationState:
    """The shape of a very large run (bench/_gen_wide.py's): thousands of agents, checkpoints and failures."""
    agents = [
        AgentState(
            agent=f"builder:T{i:04d}",
            role="builder",
            status="completed" if i < AGENTS - 1 else "active",
            total_steps=8,
            steps_completed=list(range(1, 9)) if i < AGENTS - 1 else [1, 2],
            current_step=8 if i < AGENTS - 1 else 3,
            step_description=f"task {i} step",
            attempts=1,
            started_ts=T0 + i,
            finished_ts=T0 + i + 30 if i < AGENTS - 1 else None,
        )
        for i in range(AGENTS)
    ]
    checkpoints = [
        Checkpoint(id=f"cp_{i}", name=f"step_{i:05d}", after_agent=f"builder:T{i % AGENTS:04d}", seq=10 + i, ts=T0 + i)
        for i in range(CHECKPOINTS)
    ]
    failures = [
        Failure(
            ts=T0 + i,
            seq=100_000 + i,
            agent=f"builder:T{i % AGENTS:04d}",
            step=1 + i % 8,
            category="transient",
            action="retry",
            message=f"e{i:04d}",
        )
        for i in range(FAILURES)
    ]
    return OrchestrationState(
        id=ORCH,
        status="executing",
        goal="A very large run",
        agent_states=agents,
        checkpoints=checkpoints,
        failures=failures,
        seq=200_000,
        started_ts=T0,
    )


async def shown(dash, pilot, app) -> None:
    app.draw()
    await pilot.pause()


async def huge_tables(dash, pilot, app) -> tuple[AgentTable, CheckpointTable, FailureTable]:
    """The dashboard showing `huge_state()`, drawn; its agents, checkpoints and failures tables."""
    await pilot.pause()
    app.feed.reset(huge_state(), [])
    await shown(dash, pilot, app)
    return app.screen.query_one(AgentTable), app.screen.query_one(CheckpointTable), app.screen.query_one(FailureTable)


async def test_a_huge_run_draws_only_the_rows_on_screen_and_scrolls_like_a_table(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        agents, checkpoints, failures = await huge_tables(dash, pilot, app)
        assert (agents.row_count, checkpoints.row_count, failures.row_count) == (AGENTS, CHECKPOINTS, FAILURES)
        visible = failures.scrollable_content_region.height - 1
        assert 0 < visible < 20
        for table in (agents, checkpoints, failures):
            assert table.renders < 3 * (table.scrollable_content_region.height + 1), f"{type(table).__name__} drew rows off screen"
        text = dash.screen_text(app)
        assert "e0000" in text and "step_18999" in text, "failures oldest first, checkpoints newest first"

        failures.focus()
        await pilot.press("pagedown")
        await pilot.pause()
        assert failures.cursor_row == visible
        assert failures.highlighted_key == str(100_000 + visible)
        assert failures.scroll_y == visible
        assert f"e{visible:04d}" in dash.screen_text(app)
        assert "e0000" not in dash.screen_text(app)

        await pilot.press("end")
        await pilot.pause()
        assert failures.cursor_row == FAILURES - 1
        assert failures.highlighted_key == str(100_000 + FAILURES - 1)
        text = dash.screen_text(app)
        assert f"e{FAILURES - 1:04d}" in text and f"e{FAILURES - 1 - visible:04d}" not in text
        await pilot.press("up", "up")
        await pilot.pause()
        assert failures.cursor_row == FAILURES - 3
        await pilot.press("home")
        await pilot.pause()
        assert failures.cursor_row == 0 and failures.scroll_y == 0
        assert "e0000" in dash.screen_text(app)

        checkpoints.focus()
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert checkpoints.yank_text() == f"cp_{CHECKPOINTS - 4}"
        agents.focus()
        await pilot.press("end")
        await pilot.pause()
        assert agents.highlighted_key == f"builder:T{AGENTS - 1:04d}"
        assert f"builder:T{AGENTS - 1:04d}" in dash.screen_text(app)
        for table in (agents, checkpoints, failures):
            assert table.renders < 12 * (table.scrollable_content_region.height + 1), f"{type(table).__name__} drew rows off screen"


async def test_a_new_checkpoint_keeps_the_cursor_on_its_row_unless_it_follows_the_newest(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.feed.reset(huge_state(), [])
        await shown(dash, pilot, app)
        table = app.screen.query_one(CheckpointTable)
        table.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        chosen = table.highlighted_key
        app.feed.apply(
            ev.CheckpointSaved(seq=200_001, ts=T0 + 99_999, orch_id=ORCH, checkpoint_id="cp_new", name="brand_new", reason="progress")
        )
        await shown(dash, pilot, app)
        assert table.row_count == CHECKPOINTS + 1
        assert table.highlighted_key == chosen and table.cursor_row == 3, "the cursor stays on the checkpoint it was on"
        await pilot.press("home")
        app.feed.apply(
            ev.CheckpointSaved(seq=200_002, ts=T0 + 100_000, orch_id=ORCH, checkpoint_id="cp_newer", name="newer", reason="progress")
        )
        await shown(dash, pilot, app)
        assert table.cursor_row == 0 and table.highlighted_key == "cp_newer@200002", "a cursor on the newest follows the newest"
        assert fmt.clock_time(T0 + 100_000) in dash.screen_text(app)


async def test_a_pane_whose_slice_of_state_did_not_change_draws_nothing(dash, demo_ws):
    app = dash.make_app(demo_ws)
    async with app.run_test(size=(120, 40)) as pilot:
        agents, checkpoints, failures = await huge_tables(dash, pilot, app)
        before = {table: (table.renders, table.builds) for table in (checkpoints, failures)}
        agents_before = agents.renders

        # log lines only: no checkpoint, failure or agent row reads differently
        for seq in range(200_001, 200_301):
            app.feed.apply(ev.AgentLog(seq=seq, ts=T0 + seq, orch_id=ORCH, agent="builder:T0001", message=f"line {seq}"))
            if seq % 50 == 0:
                await shown(dash, pilot, app)
        await shown(dash, pilot, app)
        assert app.feed.state.seq == 200_300
        for table, counts in before.items():
            assert (table.renders, table.builds) == counts, f"{type(table).__name__} drew again with nothing new to show"
        assert agents.renders == agents_before, "no agent row changed: none drawn again"

        # one new failure, below the rows on screen: counted, built only for the rows on screen, not drawn
        app.feed.apply(
            ev.AgentFailed(seq=200_301, ts=T0 + 200_301, orch_id=ORCH, agent="builder:T2999", step=3, category="transient", message="fresh")
        )
        await shown(dash, pilot, app)
        assert failures.row_count == FAILURES + 1
        assert failures.renders == before[failures][0]
        assert failures.builds - before[failures][1] <= failures.scrollable_content_region.height
        # one new checkpoint, on top (newest first): every row on screen moves down and is drawn, no more
        app.feed.apply(
            ev.CheckpointSaved(seq=200_302, ts=T0 + 200_302, orch_id=ORCH, checkpoint_id="cp_new", name="brand_new", reason="progress")
        )
        await shown(dash, pilot, app)
        assert "brand_new" in dash.screen_text(app)
        assert 0 < checkpoints.renders - before[checkpoints][0] <= checkpoints.scrollable_content_region.height + 1
        assert failures.renders == before[failures][0]
