"""reduce/fold: purity, what each event does, and THE ROUND TRIP (log folded == state.yaml)."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio_tui.core import events as ev
from studio_tui.core.decider import PolicyDecider
from studio_tui.core.reducer import apply, fold, reduce
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import read_log

ORCH = "orch_20270115_080000_abcd"


def E(cls, seq, **kw):
    return cls(seq=seq, ts=1000.0 + seq, orch_id=ORCH, **kw)


def _basic_events():
    return [
        E(ev.OrchestrationStarted, 1, goal="Add OAuth", workspace="/w"),
        E(
            ev.RoutingDecided,
            2,
            workflow="plan_then_build",
            complexity="complex",
            confidence=0.75,
            signals=["s"],
            sequence=[ev.SlotSpec(key="planner", agent="planner"), ev.SlotSpec(key="builder", agent="builder")],
        ),
        E(ev.BudgetAllocated, 3, pools={"working": ev.PoolSpec(used=0, soft=100), "context7": ev.PoolSpec(used=5, soft=50)}),
        E(ev.AgentStarted, 4, agent="planner", role="planner", total_steps=2),
        E(ev.AgentStep, 5, agent="planner", step=1, total=2, description="load"),
        E(ev.TokensUsed, 6, agent="planner", pool="working", tokens=40),
        E(ev.AgentStep, 7, agent="planner", step=1, status="completed"),
        E(ev.AgentCompleted, 8, agent="planner", output={"plan_id": "bp"}),
        E(ev.HandoffRecorded, 9, **{"from": "planner", "to": "builder"}, context={"plan_id": "bp"}, tokens=5),
        E(ev.AgentStarted, 10, agent="builder", role="builder", total_steps=3),
        E(ev.AgentFailed, 11, agent="builder", step=1, category="blocker", message="no redis"),
        E(ev.RecoveryDecided, 12, agent="builder", step=1, category="blocker", action="escalate", retries_used=0, replans_used=0),
        E(ev.DecisionRequested, 13, decision_id="d13", kind="escalation", agent="builder", prompt="p", options=["retry", "abort"]),
        E(ev.StatusChanged, 14, status="executing"),
        E(ev.DecisionAnswered, 15, decision_id="d13", kind="escalation", answer="retry"),
        E(ev.CheckpointSaved, 16, checkpoint_id="cp_1", name="x", after_agent="builder", reason="manual"),
        E(ev.OrchestrationFinished, 17, status="completed", summary="ok"),
    ]


def test_reduce_does_not_mutate_its_input():
    state = fold(_basic_events()[:10])
    before = state.model_dump()
    for event in _basic_events()[10:]:
        new = reduce(state, event)
        assert new is not state
        assert state.model_dump() == before
        assert new.seq == event.seq


def test_fold_equals_stepwise_reduce_and_does_not_mutate_a_start_state():
    events = _basic_events()
    stepwise = OrchestrationState()
    for e in events:
        stepwise = reduce(stepwise, e)
    assert fold(events) == stepwise
    start = fold(events[:5])
    snapshot = start.model_dump()
    assert fold(events[5:], start) == stepwise
    assert start.model_dump() == snapshot


def test_what_the_basic_events_do():
    s = fold(_basic_events())
    assert (s.id, s.goal, s.status, s.summary, s.seq) == (ORCH, "Add OAuth", "completed", "ok", 17)
    assert [(a.agent, a.status) for a in s.agent_states] == [("planner", "completed"), ("builder", "active")]
    assert [(e.key, e.status) for e in s.routing.agent_sequence] == [("planner", "completed"), ("builder", "active")]
    planner = s.agent("planner")
    assert planner.steps_completed == [1] and planner.output == {"plan_id": "bp"}
    assert s.budget.pools["working"].used == 40
    assert s.failures[0].action == "escalate" and s.failures[0].message == "no redis"
    assert s.handoffs[0].from_agent == "planner" and s.handoffs[0].to_agent == "builder"
    assert s.checkpoints[0].id == "cp_1" and s.checkpoints[0].seq == 16
    assert s.decisions[0].answer == "retry"
    assert s.pending_decision is None


def test_a_status_change_while_waiting_is_applied_when_the_decision_is_answered():
    events = _basic_events()[:14]
    s = fold(events)
    assert s.status == "waiting" and s.pending_decision == "d13"
    assert s.agent("builder").status == "waiting"
    s = reduce(s, _basic_events()[14])
    assert s.status == "executing" and s.pending_decision is None
    assert s.agent("builder").status == "active"


def test_resumed_resets_to_the_snapshot():
    events = _basic_events()
    snapshot = fold(events[:12])
    later = fold(events)
    resumed = reduce(later, E(ev.Resumed, 18, checkpoint_id="cp_1", snapshot=snapshot.to_dict()))
    assert resumed.status == "resuming"
    assert resumed.resumed_from == ["cp_1"]
    assert resumed.seq == 18
    assert resumed.checkpoints == [] and resumed.decisions == []
    assert resumed.finished_ts is None
    assert resumed.agent_states == snapshot.agent_states


def test_reducer_counts_tokens_without_going_negative():
    s = fold([E(ev.TokensUsed, 1, agent="b", pool="working", tokens=10), E(ev.BudgetReleased, 2, pool="working", tokens=50)])
    assert s.budget.pools["working"].used == 0
    assert s.budget.history == [10, 0]


# ── THE ROUND TRIP ──────────────────────────────────────────────────────


def assert_round_trip(workspace, orch_id):
    read = read_log(workspace.events_path(orch_id))
    assert read.bad_lines == []
    folded = fold(read.events)
    text = workspace.state_path(orch_id).read_text(encoding="utf-8")
    assert folded.to_yaml() == text
    # and state.yaml parses back to the same state
    assert OrchestrationState.from_dict(yaml.safe_load(text)) == folded
    return folded


def test_round_trip_after_a_full_example_run(example_completed):
    run = example_completed
    folded = assert_round_trip(run.workspace, run.state.id)
    assert folded == run.state
    assert folded.seq == run.events[-1].seq == len(run.events)


async def test_round_trip_after_an_aborted_run(example_ws, run_build):
    run = await run_build(example_ws, decider=PolicyDecider("abort"))
    assert run.state.status == "aborted"
    folded = assert_round_trip(example_ws, run.state.id)
    assert folded.status == "aborted"


async def test_round_trip_after_a_resumed_run(write_ws, run_build, doubles):
    ws = write_ws(doubles.mini_scenario())
    first = await run_build(ws, decider=PolicyDecider("abort"))
    assert first.state.status == "aborted"
    record = ws.find_checkpoint(first.state.checkpoints[-1].id)
    second = await run_build(ws, decider=PolicyDecider("retry"), resume=record)
    assert second.state.id == first.state.id
    assert second.state.status == "completed"
    folded = assert_round_trip(ws, first.state.id)
    assert folded.resumed_from == [record.meta.id]


async def test_round_trip_with_the_real_clock(write_ws, run_build, doubles):
    import time

    ws = write_ws(doubles.mini_scenario())
    run = await run_build(ws, decider=PolicyDecider("skip"), clock=time.time)
    assert run.state.status == "completed"
    assert run.state.agent("builder").steps_skipped == [3]
    assert_round_trip(ws, run.state.id)


# ── property: fold is deterministic and total ───────────────────────────

KEYS = st.sampled_from(["planner", "builder", "builder:T1", "architect"])
SMALL = st.integers(min_value=-5, max_value=50)
TEXT = st.text(alphabet="abc xyz-_:\n", max_size=8)
STATUSES = st.sampled_from(["pending", "active", "completed", "failed", "skipped", "waiting", "executing"])
CATEGORIES = st.sampled_from(["transient", "code_error", "design_flaw", "blocker", "critical"])
DECISION_IDS = st.sampled_from(["d1", "d2", "d3"])


def _slot():
    return st.builds(lambda k: ev.SlotSpec(key=k, agent=k.split(":")[0], task_id=k.partition(":")[2] or None), KEYS)


EVENT_FIELDS = st.one_of(
    st.builds(lambda g: (ev.OrchestrationStarted, {"goal": g}), TEXT),
    st.builds(lambda s: (ev.StatusChanged, {"status": s}), STATUSES),
    st.builds(
        lambda seq, c: (ev.RoutingDecided, {"workflow": "plan_then_build", "complexity": "complex", "confidence": c, "sequence": seq}),
        st.lists(_slot(), max_size=3, unique_by=lambda s: s.key),
        st.floats(min_value=0, max_value=1, allow_nan=False),
    ),
    st.builds(
        lambda seq, before: (ev.SequenceExtended, {"sequence": seq, "insert_before": before}),
        st.lists(_slot(), max_size=3),
        st.none() | KEYS,
    ),
    st.builds(
        lambda k, a, r: (ev.AgentStarted, {"agent": k, "role": k.split(":")[0], "attempt": a, "restart_steps": r}),
        KEYS,
        SMALL,
        st.booleans(),
    ),
    st.builds(
        lambda k, n, s: (ev.AgentStep, {"agent": k, "step": n, "status": s}),
        KEYS,
        SMALL,
        st.sampled_from(["started", "completed", "skipped"]),
    ),
    st.builds(lambda k: (ev.AgentCompleted, {"agent": k, "output": {"x": 1}}), KEYS),
    st.builds(
        lambda k, n, c, m: (ev.AgentFailed, {"agent": k, "step": n, "category": c, "message": m}), KEYS, st.none() | SMALL, CATEGORIES, TEXT
    ),
    st.builds(lambda k, s: (ev.AgentStatus, {"agent": k, "status": s}), KEYS, STATUSES),
    st.builds(
        lambda k, c, a, r: (ev.RecoveryDecided, {"agent": k, "category": c, "action": a, "retries_used": r}),
        KEYS,
        CATEGORIES,
        st.sampled_from(["retry", "replan", "escalate", "halt"]),
        SMALL,
    ),
    st.builds(
        lambda p, t: (ev.TokensUsed, {"agent": "builder", "pool": p, "tokens": t}), st.sampled_from(["working", "context7", "new"]), SMALL
    ),
    st.builds(lambda p, t: (ev.BudgetReleased, {"pool": p, "tokens": t}), st.sampled_from(["working", "context7"]), SMALL),
    st.builds(
        lambda p, b, a: (ev.OptimizationApplied, {"step": "clear_context7", "pool": p, "before": b, "after": a}),
        st.sampled_from(["context7", "x"]),
        SMALL,
        SMALL,
    ),
    st.builds(
        lambda d, k: (ev.DecisionRequested, {"decision_id": d, "kind": "escalation", "agent": k, "prompt": "p", "options": ["retry"]}),
        DECISION_IDS,
        st.none() | KEYS,
    ),
    st.builds(lambda d: (ev.DecisionAnswered, {"decision_id": d, "kind": "escalation", "answer": "retry"}), DECISION_IDS),
    st.builds(lambda a, b: (ev.HandoffRecorded, {"from": a, "to": b, "context": {"k": a}, "tokens": 3}), KEYS, KEYS),
    st.builds(lambda n: (ev.CheckpointSaved, {"checkpoint_id": f"cp_{n}", "name": "n"}), SMALL),
    st.builds(lambda s: (ev.OrchestrationFinished, {"status": s}), st.sampled_from(["completed", "aborted", "halted", "interrupted"])),
    st.builds(lambda t: (ev.UnknownEvent, {"type": t}), st.sampled_from(["future_a", "future_b"])),
)


def _materialise(specs):
    return [cls(seq=i, ts=float(i), orch_id=ORCH, **fields) for i, (cls, fields) in enumerate(specs, start=1)]


@settings(max_examples=75, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(EVENT_FIELDS, max_size=40))
def test_fold_is_deterministic_total_and_survives_state_yaml(specs):
    events = _materialise(specs)
    first = fold(events)
    second = fold(list(events))
    assert first == second
    assert first.model_dump() == second.model_dump()
    if events:
        assert first.seq == events[-1].seq
    assert first.unknown_events == sum(isinstance(e, ev.UnknownEvent) for e in events)
    # the sequence and the agent states describe the same agents
    assert sorted(e.key for e in first.routing.agent_sequence) == sorted(a.agent for a in first.agent_states)
    # state.yaml / checkpoint snapshots parse back to the same state
    assert OrchestrationState.from_dict(yaml.safe_load(first.to_yaml())) == first


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(EVENT_FIELDS, min_size=1, max_size=30), st.integers(min_value=0, max_value=30))
def test_fold_from_a_keyframe_equals_fold_from_the_start(specs, cut):
    events = _materialise(specs)
    cut = min(cut, len(events))
    keyframe = fold(events[:cut])
    assert fold(events[cut:], keyframe) == fold(events)
    # apply in place gives the same as the pure reduce
    inplace = OrchestrationState()
    for e in events:
        apply(inplace, e)
    assert inplace == fold(events)


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(EVENT_FIELDS, min_size=1, max_size=20), st.lists(EVENT_FIELDS, max_size=10))
def test_resumed_snapshot_then_more_events_matches_folding_from_the_snapshot(before, after):
    prefix = _materialise(before)
    snapshot = fold(prefix)
    resumed = ev.Resumed(seq=len(prefix) + 1, ts=0.0, orch_id=ORCH, checkpoint_id="cp_9", snapshot=snapshot.to_dict())
    rest = [cls(seq=len(prefix) + 1 + i, ts=float(i), orch_id=ORCH, **f) for i, (cls, f) in enumerate(after, start=1)]
    whole = fold([*prefix, resumed, *rest])
    # the same as a fresh state that only saw the Resumed event and what followed
    fresh = fold([resumed, *rest], OrchestrationState(id=ORCH))
    assert whole == fresh


async def test_same_scenario_and_clock_give_the_same_log(tmp_path, doubles, run_build, fake_clock):
    """With a fake clock and scripted agents at speed 0 a run is deterministic: two runs write the same log
    (apart from the random part of the orchestration id and the workspace path)."""
    texts = []
    for name, clock in (("one", fake_clock), ("two", doubles.FakeClock())):
        ws = doubles.write_workspace(tmp_path / name, doubles.mini_scenario())
        run = await run_build(ws, decider=PolicyDecider("retry"), clock=clock)
        assert run.state.status == "completed"
        text = run.events_path.read_text()
        texts.append(text.replace(run.state.id, "ORCH").replace(str(ws.root), "WS"))
    assert texts[0] == texts[1]
    assert fake_clock.calls > 0
