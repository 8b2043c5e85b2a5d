"""Decisions from the keyboard: the example scenario driven to its escalation, routing and question modals."""

from __future__ import annotations

from studio_tui.core import events as ev
from studio_tui.core.decider import DecisionRequest
from studio_tui.ui.screens.decisions import EscalationScreen, QuestionScreen, RoutingScreen


class TestEscalation:
    """The example fails step 5 of the builder with a blocker after a retry and a replan; the person answers."""

    async def test_abort_after_the_modal_cannot_be_dismissed(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, EscalationScreen)
            app.draw()
            text = dash.screen_text(app)
            assert "Build failed after 1 retry and 1 replan attempt" in text
            assert "Missing dependency: the session store (redis) is not reachable" in text
            assert "[r] Retry with different approach" in text
            assert "[s] Skip this step" in text
            assert "[a] Abort and review plan" in text
            assert "WAITING FOR YOU" in text
            assert app.feed.state.waiting_for_person
            await pilot.press("escape", "q", "x")
            assert isinstance(app.screen, EscalationScreen), "the escalation cannot be dismissed without a choice"
            await pilot.press("a")
            state = await dash.finish_run(pilot, app)
        assert state.status == "aborted"
        assert demo_ws.load_state(state.id).status == "aborted"
        assert app.exit_status == 1
        assert not demo_ws.lock().holder(), "the run released the workspace lock"

    async def test_retry_runs_the_step_again_and_completes(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, EscalationScreen)
            await pilot.press("r")
            state = await dash.finish_run(pilot, app)
        assert state.status == "completed"
        builder = state.agent("builder")
        assert builder is not None and 5 in builder.steps_completed and builder.steps_skipped == []
        answers = [e for e in dash.read_events(demo_ws, state.id) if isinstance(e, ev.DecisionAnswered)]
        assert [(a.kind, a.answer, a.by) for a in answers] == [
            ("question", "GitHub and Google", "person"),  # Enter on an empty answer takes the default
            ("escalation", "retry", "person"),
        ]
        assert app.exit_status == 0

    async def test_skip_skips_step_5_and_completes_even_at_40x12(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build")
        async with app.run_test(size=(40, 12)) as pilot:
            await dash.reach(pilot, app, EscalationScreen)
            app.draw()
            await pilot.press("s")
            state = await dash.finish_run(pilot, app)
            app.draw()
        assert state.status == "completed"
        builder = state.agent("builder")
        assert builder is not None and builder.steps_skipped == [5]
        assert demo_ws.load_state(state.id).agent("builder").steps_skipped == [5]

    async def test_critical_step_offers_no_skip(self, dash, demo_ws):
        request = DecisionRequest(
            id="d1",
            kind="escalation",
            prompt="Build failed after 5 retries and 1 replan attempt.",
            agent="builder",
            options=("retry", "abort"),
            details={"last_error": "boom", "agent": "builder", "step": 3, "category": "blocker", "critical_step": True},
        )
        answers: list[str | None] = []
        app = dash.make_app(demo_ws)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(EscalationScreen(request), answers.append)
            await pilot.pause()
            text = dash.screen_text(app)
            assert "[s] Skip this step" not in text
            assert "critical: cannot be skipped" in text
            await pilot.press("s")
            assert isinstance(app.screen, EscalationScreen) and answers == []
            await pilot.press("r")
            await pilot.pause()
        assert answers == ["retry"]


class TestRouting:
    async def test_proceed_runs_the_routed_workflow(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build", mode="explicit")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, RoutingScreen)
            text = dash.screen_text(app)
            assert "plan_then_build (complex)" in text
            assert "planner → builder" in text
            assert "75%" in text
            assert '"add" -> plan_then_build' in text
            await pilot.press("p")
            await dash.reach(pilot, app, QuestionScreen)  # the Planner runs: the route was taken
            routing = [d for d in app.feed.state.decisions if d.kind == "routing"]
            assert [(d.answer, d.by) for d in routing] == [("proceed", "person")]
            assert app.feed.state.agent("planner").status == "waiting"

    async def test_cancel_stops_before_any_agent_runs(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build", mode="explicit")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, RoutingScreen)
            await pilot.press("c")
            state = await dash.finish_run(pilot, app)
        assert state.status == "cancelled"
        assert all(agent.attempts == 0 for agent in state.agent_states)
        assert app.exit_status == 1


class TestQuestion:
    async def test_typed_answer_is_the_decision_answered(self, dash, demo_ws):
        app = dash.make_app(demo_ws, "build")
        async with app.run_test(size=(120, 40)) as pilot:
            await dash.reach(pilot, app, QuestionScreen)
            text = dash.screen_text(app)
            assert "Which OAuth providers should sign-in support?" in text
            assert "round 1 of 5" in text
            await pilot.press(*"Only GitHub", "enter")
            await dash.until(
                pilot,
                lambda: any(isinstance(e, ev.AgentLog) and e.message == "answer noted: Only GitHub" for e in app.feed.history),
                "the planner to take the answer",
            )
            orch_id = app.feed.state.id
        answered = [e for e in dash.read_events(demo_ws, orch_id) if isinstance(e, ev.DecisionAnswered) and e.kind == "question"]
        assert [(a.answer, a.by) for a in answered] == [("Only GitHub", "person")]
