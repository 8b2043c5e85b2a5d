"""Failure recovery: the category table, retry/replan/escalate limits, the loop guard, and the orchestrator's handling."""

from __future__ import annotations

import pytest

from studio_tui.core import events as ev
from studio_tui.core.config import BackoffConfig, RecoveryConfig
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.recovery import CATEGORY_ACTION, RecoveryTracker, error_signature


def tracker(**kw) -> RecoveryTracker:
    return RecoveryTracker(RecoveryConfig(**kw))


# ── RecoveryTracker ─────────────────────────────────────────────────────


def test_category_table_is_the_seeds():
    assert CATEGORY_ACTION == {
        "transient": "retry",
        "code_error": "retry",
        "design_flaw": "replan",
        "blocker": "escalate",
        "critical": "halt",
    }


@pytest.mark.parametrize(
    ("category", "action"),
    [("transient", "retry"), ("code_error", "retry"), ("design_flaw", "replan"), ("blocker", "escalate"), ("critical", "halt")],
)
def test_first_failure_of_each_category(category, action):
    t = tracker()
    assert t.decide(category, "it broke", 1).action == action


def test_retry_counts_and_reason():
    t = tracker(max_retries=5)
    d = t.decide("transient", "Network timeout", 1)
    assert d.action == "retry" and t.retries_used == 1 and "1/5" in d.reason
    d = t.decide("code_error", "SyntaxError", 2)
    assert d.action == "retry" and t.retries_used == 2 and "fix" in d.reason


def test_design_flaw_replans_then_escalates_when_replans_are_exhausted():
    t = tracker(max_replans=1)
    assert t.decide("design_flaw", "wrong approach A", 3).action == "replan"
    assert t.replans_used == 1
    assert t.decide("design_flaw", "wrong approach B", 3).action == "escalate"
    assert t.replans_used == 1


def test_design_flaw_escalates_when_the_agent_cannot_replan():
    t = tracker()
    assert t.decide("design_flaw", "wrong approach", 1, can_replan=False).action == "escalate"
    assert t.replans_used == 0


def test_blocker_escalates_even_with_everything_left():
    t = tracker(max_retries=10, max_replans=3)
    assert t.decide("blocker", "missing dependency", 1).action == "escalate"
    assert (t.retries_used, t.replans_used) == (0, 0)


def test_critical_halts_even_with_everything_left():
    t = tracker(max_retries=10, max_replans=3)
    assert t.decide("critical", "security violation", 1).action == "halt"


def test_max_retries_exhausted_then_replan_then_escalate():
    t = tracker(max_retries=2, max_replans=1, loop_guard=10)
    actions = [t.decide("transient", f"flaky {msg}", step).action for msg, step in [("a", 1), ("b", 2), ("c", 3), ("d", 4)]]
    # two retries, then (retries exhausted) a replan, then nothing is left: escalate
    assert actions == ["retry", "retry", "replan", "escalate"]
    assert t.retries_used == 2 and t.replans_used == 1


def test_loop_guard_escalates_the_same_error_three_times_in_a_row_with_retries_left():
    t = tracker(max_retries=10, loop_guard=3)
    actions = [t.decide("transient", "timeout after 3s", 1).action for _ in range(3)]
    assert actions == ["retry", "retry", "escalate"]
    assert t.retries_used == 2 < 10


def test_loop_guard_masks_numbers():
    assert error_signature("transient", "timeout after 3s") == error_signature("transient", "timeout after 5s")
    assert error_signature("transient", "at 0xdeadbeef") == error_signature("transient", "at 0x1f")
    assert error_signature("transient", "timeout") != error_signature("code_error", "timeout")
    t = tracker(max_retries=10, loop_guard=3)
    actions = [t.decide("transient", f"timeout after {n}s", 1).action for n in (3, 5, 7)]
    assert actions == ["retry", "retry", "escalate"]


def test_loop_guard_needs_them_in_a_row():
    t = tracker(max_retries=10, max_tries_per_step=10, loop_guard=3)
    messages = ["timeout", "timeout", "refused", "timeout", "timeout"]
    assert [t.decide("transient", m, 1).action for m in messages] == ["retry"] * 5


def test_loop_guard_is_configurable():
    t = tracker(max_retries=10, loop_guard=2)
    assert [t.decide("transient", "same", 1).action for _ in range(2)] == ["retry", "escalate"]


def test_max_tries_per_step_limits_retries_of_one_step():
    t = tracker(max_retries=10, max_tries_per_step=2, max_replans=1, loop_guard=10)
    assert t.decide("transient", "a", 4).action == "retry"
    # the second failure of the same step is its second try: no more retries for it, so replan
    assert t.decide("transient", "b", 4).action == "replan"
    # a different step starts its own count
    assert t.decide("transient", "c", 5).action == "retry"


def test_replan_resets_the_step_count_and_loop_memory():
    t = tracker(max_retries=10, max_tries_per_step=2, max_replans=2, loop_guard=3)
    assert t.decide("transient", "x", 1).action == "retry"
    assert t.decide("transient", "x", 1).action == "replan"
    # after the replan the step may be tried again and the earlier identical errors are forgotten
    assert t.decide("transient", "x", 1).action == "retry"


# ── backoff ─────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("initial", "factor", "cap", "expected"),
    [(0.5, 2.0, 10.0, [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]), (1.0, 3.0, 5.0, [1.0, 3.0, 5.0, 5.0, 5.0, 5.0, 5.0])],
)
def test_backoff_delay_formula(initial, factor, cap, expected):
    b = BackoffConfig(initial=initial, factor=factor, max=cap)
    assert [b.delay(n) for n in range(1, 8)] == pytest.approx(expected)


# ── orchestrator level ──────────────────────────────────────────────────


def _plan(steps: list[dict], task_id: str = "task_r") -> dict:
    return {"id": f"bp_{task_id}", "task_id": task_id, "status": "pending", "steps": steps}


def _fail(category: str, message: str) -> dict:
    return {"fail": category, "message": message}


async def test_transient_failure_is_retried_with_backoff_from_config(write_ws, run_build, doubles):
    msgs = [_fail("transient", f"timeout {c}") for c in "abcdefg"]
    ws = write_ws(
        doubles.builder_scenario({1: {"outcomes": msgs[:4]}, 2: {}}),
        config={
            "recovery": {
                "max_retries": 10,
                "max_tries_per_step": 10,
                "loop_guard": 10,
                "backoff": {"initial": 0.5, "factor": 3.0, "max": 5.0},
            }
        },
    )
    sleep = doubles.SleepRecorder()
    run = await run_build(ws, sleep=sleep)
    assert run.state.status == "completed"
    assert [d.action for d in run.of(ev.RecoveryDecided)] == ["retry"] * 4
    # initial * factor^(n-1), capped at max
    assert sleep.delays == pytest.approx([0.5, 1.5, 4.5, 5.0])
    starts = [e.attempt for e in run.of(ev.AgentStarted)]
    assert starts == [1, 2, 3, 4, 5]
    assert run.state.agent("builder").retries == 4


async def test_zero_backoff_does_not_sleep(write_ws, run_build, doubles):
    ws = write_ws(
        doubles.builder_scenario({1: {"outcomes": [_fail("code_error", "SyntaxError")]}}),
        config={"recovery": {"backoff": {"initial": 0, "factor": 2.0, "max": 1.0}}},
    )
    sleep = doubles.SleepRecorder()
    run = await run_build(ws, sleep=sleep)
    assert run.state.status == "completed"
    assert sleep.delays == []
    assert [(d.category, d.action) for d in run.of(ev.RecoveryDecided)] == [("code_error", "retry")]


async def test_critical_failure_halts_and_runs_nothing_further(write_ws, run_build, doubles):
    ws = write_ws(
        doubles.builder_scenario({1: {}, 2: {"outcomes": [_fail("critical", "security violation: secret in log")]}, 3: {}, 4: {}})
    )
    run = await run_build(ws)
    assert run.state.status == "halted"
    assert "security violation" in run.state.summary
    failed = run.of(ev.AgentFailed)
    assert [(f.step, f.category) for f in failed] == [(2, "critical")]
    assert [d.action for d in run.of(ev.RecoveryDecided)] == ["halt"]
    after = [e for e in run.events if e.seq > failed[0].seq]
    assert not [e for e in after if isinstance(e, (ev.AgentStep, ev.AgentStarted, ev.DecisionRequested))]
    assert isinstance(run.events[-1], ev.OrchestrationFinished) and run.events[-1].status == "halted"
    assert run.state.failures[-1].action == "halt"
    # nothing asked a person, no retry sleeps
    assert not run.of(ev.DecisionRequested)


def test_exit_codes_map_from_final_status():
    from studio_tui.cli import _exit_for
    from studio_tui.core.state import OrchestrationState

    assert _exit_for(OrchestrationState(status="completed")) == 0
    for status in ("halted", "aborted", "failed", "cancelled"):
        assert _exit_for(OrchestrationState(status=status)) == 1, status
    assert _exit_for(OrchestrationState(status="interrupted")) == 130


async def test_blocker_escalation_retry_reruns_the_step(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {"outcomes": [_fail("blocker", "redis unreachable")]}, 3: {}}))
    decider = doubles.ScriptedDecider({"escalation": ["retry"]})
    run = await run_build(ws, decider=decider)
    assert run.state.status == "completed"
    assert [r.kind for r in decider.requests] == ["escalation"]
    req = decider.requests[0]
    assert req.options == ("retry", "skip", "abort")
    assert req.details["last_error"] == "redis unreachable"
    assert req.details["step"] == 2 and req.details["category"] == "blocker"
    started = [(e.step) for e in run.of(ev.AgentStep) if e.status == "started"]
    assert started == [1, 2, 2, 3]
    answered = run.of(ev.DecisionAnswered)
    assert [(a.kind, a.answer) for a in answered] == [("escalation", "retry")]
    assert run.state.decisions[-1].answer == "retry"
    assert run.state.pending_decision is None


async def test_escalation_skip_records_the_step_and_continues(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {}, 2: {"outcomes": [_fail("blocker", "no redis")]}, 3: {}, 4: {}}))
    run = await run_build(ws, decider=PolicyDecider("skip"))
    assert run.state.status == "completed"
    builder = run.state.agent("builder")
    assert builder.steps_skipped == [2]
    assert sorted(builder.steps_completed) == [1, 3, 4]
    skipped = [e for e in run.of(ev.AgentStep) if e.status == "skipped"]
    assert [e.step for e in skipped] == [2]
    # the later steps ran after the skip
    completed_after_skip = [e.step for e in run.of(ev.AgentStep) if e.status == "completed" and e.seq > skipped[0].seq]
    assert completed_after_skip == [3, 4]
    assert "skipped" in run.state.summary


async def test_skip_is_not_offered_for_a_critical_step(write_ws, run_build, doubles):
    plan = _plan([{"id": 1, "description": "a"}, {"id": 2, "description": "b", "critical": True}, {"id": 3, "description": "c"}])
    scenario = {"goal": "Fix task_r", "tasks": {"task_r": {"steps": {2: {"duration": 0, "outcomes": [_fail("blocker", "no db")]}}}}}
    ws = write_ws(scenario, plans={"task_r": plan})
    decider = doubles.ScriptedDecider(fallback="skip")
    run = await run_build(ws, decider=decider)
    requested = run.of(ev.DecisionRequested)
    assert len(requested) == 1
    assert requested[0].options == ["retry", "abort"]
    assert requested[0].details["critical_step"] is True
    # a "skip" policy falls back to abort when skip is not allowed
    assert run.state.status == "aborted"
    assert run.state.agent("builder").steps_skipped == []


async def test_skip_is_offered_for_a_non_critical_plan_step(write_ws, run_build, doubles):
    plan = _plan([{"id": 1, "description": "a"}, {"id": 2, "description": "b"}])
    scenario = {"goal": "Fix task_r", "tasks": {"task_r": {"steps": {1: {"duration": 0, "outcomes": [_fail("blocker", "no db")]}}}}}
    ws = write_ws(scenario, plans={"task_r": plan})
    run = await run_build(ws, decider=PolicyDecider("skip"))
    assert run.of(ev.DecisionRequested)[0].options == ["retry", "skip", "abort"]
    assert run.state.status == "completed"
    assert run.state.agent("builder").steps_skipped == [1]


async def test_escalation_abort_stops_the_run(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"outcomes": [_fail("blocker", "no redis")]}, 2: {}}))
    run = await run_build(ws, decider=PolicyDecider("abort"))
    assert run.state.status == "aborted"
    assert "no redis" in run.state.summary
    answered = run.of(ev.DecisionAnswered)
    assert [(a.answer, a.by) for a in answered] == [("abort", "policy")]
    assert not [e for e in run.of(ev.AgentStep) if e.step == 2]
    assert run.events[-1].type == "orchestration_finished"


async def test_escalation_prompt_counts_retries_and_replans(write_ws, run_build, doubles):
    # three different transient errors use three retries; then (retries exhausted) a replan; then escalation
    outcomes = [_fail("transient", m) for m in ("net down", "dns fail", "tls reset", "proxy 502", "gone")]
    plan = {"id": "bp_q", "task_id": "task_q", "steps": [{"id": 1, "description": "only"}]}
    scenario = {
        "goal": "Fix it",
        "planner": {"steps": [{"duration": 0}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0, "outcomes": outcomes}}},
    }
    ws = write_ws(scenario, config={"recovery": {"max_retries": 3, "max_replans": 1, "loop_guard": 5, "max_tries_per_step": 10}})
    decider = doubles.ScriptedDecider({"escalation": ["abort"]})
    run = await run_build(ws, decider=decider)
    assert [d.action for d in run.of(ev.RecoveryDecided) if d.agent == "builder"] == ["retry", "retry", "retry", "replan", "escalate"]
    (request,) = [r for r in decider.requests if r.kind == "escalation"]
    assert request.prompt.startswith("Build failed after 3 retries and 1 replan attempt")
    assert request.details["last_error"] == "gone"
    assert request.details["retries"] == 3 and request.details["replans"] == 1
    assert run.state.status == "aborted"


async def test_escalation_prompt_singular_and_plural(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"outcomes": [_fail("blocker", "stuck")]}}))
    decider = doubles.ScriptedDecider({"escalation": ["abort"]})
    await run_build(ws, decider=decider)
    assert decider.requests[0].prompt.startswith("Build failed after 0 retries and 0 replan attempts")


async def test_loop_guard_escalates_in_the_orchestrator(write_ws, run_build, doubles):
    outcomes = [_fail("transient", f"timeout after {n}s") for n in (3, 5, 8)]
    ws = write_ws(doubles.builder_scenario({1: {"outcomes": outcomes}}), config={"recovery": {"max_retries": 10}})
    decider = doubles.ScriptedDecider({"escalation": ["retry"]})
    run = await run_build(ws, decider=decider)
    decisions = run.of(ev.RecoveryDecided)
    assert [d.action for d in decisions] == ["retry", "retry", "escalate"]
    assert "loop guard" in decisions[-1].reason
    assert run.state.status == "completed"


async def test_design_flaw_in_build_only_replans_with_a_new_planner_slot(write_ws, run_build, doubles):
    plan = {"id": "bp_d", "task_id": "task_d", "steps": [{"id": 1, "description": "one"}, {"id": 2, "description": "two"}]}
    scenario = {
        "goal": "Fix it",
        "planner": {"steps": [{"duration": 0}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0}, 2: {"duration": 0, "outcomes": [_fail("design_flaw", "wrong approach")]}}},
    }
    ws = write_ws(scenario)
    run = await run_build(ws)
    assert run.of(ev.RoutingDecided)[0].workflow == "build_only"
    extended = run.of(ev.SequenceExtended)
    assert [(s.key, s.agent) for s in extended[0].sequence] == [("planner", "planner")]
    assert extended[0].insert_before == "builder"
    assert [e.key for e in run.state.routing.agent_sequence] == ["planner", "builder"]
    assert [t.mode for t in run.tasks if t.role == "planner"] == ["replan"]
    assert run.state.status == "completed"


async def test_design_flaw_after_replans_exhausted_escalates(write_ws, run_build, doubles):
    plan = {"id": "bp_d", "task_id": "task_d", "steps": [{"id": 1, "description": "one"}]}
    flaws = [_fail("design_flaw", "wrong approach"), _fail("design_flaw", "still wrong")]
    scenario = {
        "goal": "Add it",
        "planner": {"steps": [{"duration": 0}], "plan": plan},
        "builder": {"steps": {1: {"duration": 0, "outcomes": flaws}}},
    }
    ws = write_ws(scenario, config={"recovery": {"max_replans": 1}})
    run = await run_build(ws, decider=PolicyDecider("abort"))
    assert [d.action for d in run.of(ev.RecoveryDecided)] == ["replan", "escalate"]
    assert run.state.status == "aborted"


def test_example_scenario_recovery_path(example_completed):
    run = example_completed
    got = [(d.agent, d.step, d.category, d.action) for d in run.of(ev.RecoveryDecided)]
    assert got == [
        ("builder", 1, "transient", "retry"),
        ("builder", 3, "design_flaw", "replan"),
        ("builder", 5, "blocker", "escalate"),
    ]
    assert [f.action for f in run.state.failures] == ["retry", "replan", "escalate"]
    assert [t.mode for t in run.tasks if t.role == "planner"] == ["plan", "replan"]
    (esc,) = [e for e in run.of(ev.DecisionRequested) if e.kind == "escalation"]
    assert esc.prompt == "Build failed after 1 retry and 1 replan attempt."
    assert esc.options == ["retry", "skip", "abort"]


async def test_low_confidence_plan_asks_before_building(write_ws, run_build, doubles):
    scenario = doubles.mini_scenario(blocker=False)
    scenario["planner"]["plan"]["confidence"] = 0.5
    ws = write_ws(scenario)
    decider = doubles.ScriptedDecider({"confidence": ["abort"]})
    run = await run_build(ws, decider=decider)
    (asked,) = [r for r in decider.requests if r.kind == "confidence"]
    assert asked.options == ("proceed", "abort")
    assert asked.details["confidence"] == 0.5 and asked.details["threshold"] == 0.7
    assert run.state.status == "aborted"
    assert not [e for e in run.of(ev.AgentStarted) if e.agent == "builder"]


async def test_halted_run_leaves_the_failed_agent_failed(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"outcomes": [_fail("critical", "leaked a secret")]}}))
    run = await run_build(ws)
    assert run.state.status == "halted"
    assert run.state.agent("builder").status == "failed"


async def test_no_agent_is_left_running_after_an_abort(write_ws, run_build, doubles):
    ws = write_ws(doubles.builder_scenario({1: {"outcomes": [_fail("blocker", "no redis")]}}))
    run = await run_build(ws, decider=PolicyDecider("abort"))
    assert run.state.status == "aborted"
    assert [a.status for a in run.state.agent_states if a.status in ("active", "waiting")] == []
    assert run.state.agent("builder").status == "failed"


def test_restore_rebuilds_loop_guard_and_step_tries_from_recorded_failures():
    """After a resume the tracker continues where the recorded failures left it, not from zero."""
    from studio_tui.core.config import RecoveryConfig
    from studio_tui.core.recovery import RecoveryTracker
    from studio_tui.core.state import Failure

    recorded = [
        Failure(ts=1, seq=1, agent="builder", step=2, category="transient", action="retry", message="timeout after 3s"),
        Failure(ts=2, seq=2, agent="builder", step=2, category="transient", action="retry", message="timeout after 4s"),
    ]
    tracker = RecoveryTracker(RecoveryConfig(max_retries=5, loop_guard=3))
    tracker.restore(2, 0, recorded)
    assert tracker.tries_this_step == 2 and tracker.last_step == 2
    # The third identical error in a row trips the loop guard even though retries remain.
    decision = tracker.decide("transient", "timeout after 5s", 2)
    assert decision.action == "escalate" and "loop guard" in decision.reason

    fresh = RecoveryTracker(RecoveryConfig(max_retries=5, loop_guard=3))
    fresh.restore(2, 0, [])
    assert fresh.decide("transient", "timeout after 5s", 2).action == "retry"
