"""Parallel Builders on the dashboard: agents side by side, each with its own progress; a merge conflict's files."""

from __future__ import annotations

from studio_tui.core import events as ev
from studio_tui.core.decider import DecisionRequest
from studio_tui.ui.screens.decisions import EscalationScreen

ORCH = "orch_20260101_120000_abcd"


def _parallel_events() -> list[ev.Event]:
    base = {"orch_id": ORCH, "ts": 1_800_000_000.0}
    made = [
        ev.OrchestrationStarted(goal="Run backlog: T1, T2, T3", **base),
        ev.RoutingDecided(
            workflow="multi_task",
            complexity="medium",
            confidence=0.9,
            sequence=[ev.SlotSpec(key=f"builder:{t}", agent="builder", task_id=t) for t in ("T1", "T2", "T3")],
            **base,
        ),
        ev.AgentStarted(agent="builder:T1", role="builder", task_id="T1", total_steps=4, **base),
        ev.TaskWorktree(agent="builder:T2", task_id="T2", branch=f"studio/{ORCH}/T2", path="w/T2", base="abc", **base),
        ev.AgentStarted(agent="builder:T2", role="builder", task_id="T2", total_steps=2, **base),
        ev.TaskDispatched(agent="builder:T2", task_id="T2", engine="dask", worker="tcp://10.0.0.7:40123", **base),
        ev.AgentStep(agent="builder:T1", step=1, total=4, description="Write the model", **base),
        ev.AgentStep(agent="builder:T1", step=1, status="completed", **base),
        ev.AgentStep(agent="builder:T1", step=2, total=4, description="Write the view", **base),
        ev.AgentStep(agent="builder:T2", step=1, total=2, description="Add the route", **base),
    ]
    return [e.model_copy(update={"seq": i + 1}) for i, e in enumerate(made)]


async def test_parallel_builders_show_side_by_side_with_their_own_progress(dash, demo_ws) -> None:
    app = dash.make_app(demo_ws, "view")
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for event in _parallel_events():
            app.feed.apply(event)
        app.feed.dirty = True
        app.draw()
        await pilot.pause()
        text = dash.screen_text(app)
    lines = {name: next(line for line in text.splitlines() if name in line) for name in ("builder:T1", "builder:T2", "builder:T3")}
    # the step column counts steps done: T1 has one of four, T2 none of two yet
    assert "1/4" in lines["builder:T1"] and "█" in lines["builder:T1"] and "Write the view" in lines["builder:T1"]
    assert (
        "0/2" in lines["builder:T2"]
        and "█" not in lines["builder:T2"]
        and "Add the route" in lines["builder:T2"]
        and "on tcp://10.0.0.7" in lines["builder:T2"]
    )
    assert "Write" not in lines["builder:T3"]
    active = [a.agent for a in app.feed.state.agent_states if a.status == "active"]
    assert active == ["builder:T1", "builder:T2"]


async def test_a_merge_conflict_escalation_lists_the_conflicting_files(dash, demo_ws) -> None:
    request = DecisionRequest(
        id="d9",
        kind="escalation",
        prompt="Merging T2 conflicts with work merged before it (app.py, shared.txt).",
        agent="builder:T2",
        options=("retry", "skip", "abort"),
        details={
            "last_error": "merge conflict in app.py, shared.txt",
            "agent": "builder:T2",
            "step": None,
            "category": "blocker",
            "conflicts": ["app.py", "shared.txt"],
            "reason": "retry rebases the task branch",
        },
    )
    app = dash.make_app(demo_ws, "view")
    async with app.run_test(size=(120, 40)) as pilot:
        answers: list[str | None] = []
        app.push_screen(EscalationScreen(request), answers.append)
        await pilot.pause()
        text = dash.screen_text(app)
        assert "Conflicts" in text and "app.py, shared.txt" in text
        await pilot.press("s")
        await pilot.pause()
    assert answers == ["skip"]
