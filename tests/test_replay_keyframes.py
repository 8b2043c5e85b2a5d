"""Keyframes that share records: equal to a fold from the start, sharing for real, bounded in bytes, and
never changed by what is done to the states built from them (copy-on-write)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import SPEC, materialise

from studio_tui.core import events as ev
from studio_tui.core.reducer import apply, fold, reduce
from studio_tui.core.replay import Player, ReplayModel, keyframes
from studio_tui.core.replay import index as index_module
from studio_tui.core.replay.keyframes import keyframe_only_bytes, own_bytes, thaw
from studio_tui.core.replay.marks import mark_for
from studio_tui.core.replay.sharing import SharedState
from studio_tui.core.state import KeyIndex, OrchestrationState, find_by_key

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def wide_log(tmp_path_factory) -> Path:
    """bench/_gen_wide.py's shape at 2,000 events: resumes with whole states, torn lines, unicode."""
    sys.path.insert(0, str(BENCH))
    try:
        import _gen_wide
    finally:
        sys.path.remove(str(BENCH))
    path = tmp_path_factory.mktemp("wide") / "events.jsonl"
    _gen_wide.generate(path, 2000, seed=7)
    return path


def expected_states(model: ReplayModel, every: int = 1) -> dict[int, OrchestrationState]:
    """The state after every `every`-th position, folded from the start one line at a time (plain states)."""
    state = OrchestrationState()
    found = {0: state.model_copy(deep=True)}
    for index in range(model.length):
        event = model.event_at(index)
        if event is not None:
            apply(state, event)
        if (index + 1) % every == 0:
            found[index + 1] = state.model_copy(deep=True)
    return found


def frozen_json(model: ReplayModel) -> list[str]:
    return [thaw(keyframe).model_dump_json() for keyframe in model._keyframes]


def test_every_position_of_a_wide_log_equals_the_fold_from_the_start(wide_log):
    model = ReplayModel(wide_log, keyframe_every=64)
    model.build_index()
    expected = expected_states(model)
    resumes = sum(1 for index in range(model.length) if isinstance(model.event_at(index), ev.Resumed))
    assert resumes >= 10 and model.index.has_tail, "the log has the wide shape"
    positions = list(range(model.length + 1))
    for position in positions:  # in order: the frontier lays keyframes as it goes
        assert model.state_at(position) == expected[position], position
    assert model.keyframes_complete
    random.Random(3).shuffle(positions)
    for position in positions:  # any order, from the keyframes
        assert model.state_at(position) == expected[position], position
    assert model.keyframe_count > model.length // 64, "a keyframe every 64 lines, and after resumes"
    # Marks: `"escalation"` is in every resumed line's state too; those are not decoded, none is missed.
    every_mark = [mark for index in range(model.length) if (mark := mark_for(index, model.event_at(index))) is not None]
    assert model.marks() == sorted(every_mark, key=lambda m: (m.position, m.kind))
    assert any(mark.kind == "escalation" for mark in every_mark)


def test_a_seek_then_playing_forward_never_changes_a_keyframe(wide_log):
    model = ReplayModel(wide_log, keyframe_every=50)
    model.build_index()
    model.build_keyframes()
    before = frozen_json(model)
    expected = expected_states(model)
    player = Player(model)
    rng = random.Random(11)
    for _ in range(40):
        player.seek(rng.randrange(model.length + 1))
        start = player.position
        player.step(rng.randrange(1, 400))  # through resumes, failures, decisions, new agents
        assert player.state == expected[player.position], (start, player.position)
        again = model.state_at(start)  # the keyframe under the seek still gives the same state
        assert again == expected[start]
        for event_index in range(start, min(model.length, start + 60)):  # reduce(), the pure path, too
            event = model.event_at(event_index)
            if event is not None:
                again = reduce(again, event)
    assert frozen_json(model) == before
    for position in range(0, model.length + 1, 37):
        assert model.state_at(position) == expected[position]


def test_keyframes_share_chunks_and_records(wide_log, monkeypatch):
    monkeypatch.setattr(keyframes, "CHUNK", 8)  # a small log's lists span several chunks
    model = ReplayModel(wide_log, keyframe_every=100)
    model.build_index()
    model.build_keyframes()
    frames = model._keyframes
    late, later = frames[-3].frozen, frames[-2].frozen
    checkpoints = late.lists["checkpoints"]
    assert len(checkpoints) >= 2 and len(checkpoints[0]) == 8
    assert later.lists["checkpoints"][0] is checkpoints[0], "a full chunk unchanged since is the same chunk"
    # States built from two keyframes hold the very same records, where nothing changed in between.
    one, two = thaw(frames[-3]), thaw(frames[-2])
    assert all(a is b for a, b in zip(one.checkpoints, two.checkpoints, strict=False))
    assert sum(a is b for a, b in zip(one.agent_states, two.agent_states, strict=False)) >= len(one.agent_states) - 4
    # A resume rebuilds every record from its snapshot; the keyframes keep the earlier, equal ones.
    resumed_at = [index + 1 for index in range(model.length) if isinstance(model.event_at(index), ev.Resumed)]
    after = next(k for k in frames if k.position == resumed_at[-1])
    before = max((k for k in frames if k.position < resumed_at[-1]), key=lambda k: k.position)
    assert after.frozen.lists["checkpoints"][0] is before.frozen.lists["checkpoints"][0]
    assert thaw(after).checkpoints[0] is thaw(before).checkpoints[0]


def test_keyframe_memory_is_about_the_unique_content(wide_log):
    model = ReplayModel(wide_log, keyframe_every=20)
    model.build_index()
    model.build_keyframes()
    state_bytes = own_bytes(model.state_at(model.length))  # the records' containers, strings not counted
    assert model.keyframe_count >= 100
    exact = keyframe_only_bytes(model._keyframes, model._frontier_state)
    # Whole snapshots would cost a state per keyframe; shared ones cost under a tenth of that, for a
    # state of a few agents (the larger the state, the smaller the share: a keyframe adds chunk
    # references and the records changed since the one before).
    assert exact < model.keyframe_count * state_bytes / 10
    assert model.keyframe_bytes >= exact, "the running sum never under-counts"


def test_the_byte_budget_thins_keyframes_of_a_churning_state(tmp_path):
    """Every line changes some agent: old versions pile up in keyframes until the budget thins them."""
    path = tmp_path / "events.jsonl"
    events: list[ev.Event] = [ev.OrchestrationStarted(seq=1, ts=1.0, goal="g")]
    for seq in range(2, 1500):
        events.append(ev.TokensUsed(seq=seq, ts=float(seq), agent=f"a{seq % 300}", pool="working", tokens=1))
        if seq % 7 == 0:
            events.append(ev.AgentStep(seq=seq, ts=float(seq), agent=f"a{seq % 300}", step=seq, status="completed"))
    path.write_text("".join(ev.encode(e) + "\n" for e in events))
    budget = 500_000
    model = ReplayModel(path, keyframe_every=10, keyframe_budget=budget)
    model.build_index()
    model.build_keyframes()
    assert model.keyframe_every > 10
    assert model.keyframe_bytes <= budget
    # Counted exactly as of the newest keyframe (what the frontier changed since is counted at the next).
    assert keyframe_only_bytes(model._keyframes, thaw(model._keyframes[-1])) <= model.keyframe_bytes
    expected = expected_states(model, 29)
    for position, state in expected.items():
        assert model.state_at(position) == state, position


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SPEC, min_size=1, max_size=40), st.integers(min_value=1, max_value=6))
def test_any_events_seek_and_play_without_touching_keyframes(tmp_path_factory, specs, every):
    """Every event type, any fields (decisions answered twice, context7 cleared, agents inserted...)."""
    events = materialise(specs)
    path = tmp_path_factory.mktemp("any") / "events.jsonl"
    path.write_text("".join(ev.encode(e) + "\n" for e in events))
    model = ReplayModel(path, keyframe_every=every)
    model.build_index()
    model.build_keyframes()
    before = frozen_json(model)
    decoded = [model.event_at(index) for index in range(model.length)]
    for start in range(model.length + 1):
        state = model.state_at(start)
        assert state == fold(e for e in decoded[:start] if e is not None)
        for event in decoded[start:]:
            if event is not None:
                apply(state, event)
        assert state == fold(e for e in decoded if e is not None)
    assert frozen_json(model) == before


def test_a_shared_state_is_a_state():
    """Built from a keyframe, a state dumps, compares and copies like a plain one."""
    plain = fold(
        [
            ev.OrchestrationStarted(seq=1, goal="g"),
            ev.AgentStarted(seq=2, agent="builder:T1", role="builder", total_steps=2),
            ev.DecisionRequested(seq=3, decision_id="d1", kind="escalation", agent="builder:T1", prompt="p"),
        ]
    )
    shared = SharedState.model_validate(plain.model_dump())
    shared.lend()
    assert shared == plain and plain == shared
    assert shared.model_dump_json() == plain.model_dump_json()
    assert shared.to_yaml() == plain.to_yaml()
    record = shared.agent_states[0]
    assert shared.agent("builder:T1") is not record, "a borrowed record is copied on its lookup"
    assert shared.agent("builder:T1") is shared.agent_states[0], "once"
    copied = shared.model_copy(deep=True)
    assert copied == plain
    copied.agent("builder:T1").status = "failed"  # type: ignore[union-attr]
    assert shared.agent_states[0].status == plain.agent_states[0].status == "waiting"


def test_a_key_index_follows_appends_inserts_and_swaps():
    rng = random.Random(5)
    items: list[str] = []
    index: KeyIndex | None = None
    for step in range(3000):
        choice = rng.random()
        key = f"k{step}"
        if choice < 0.6 or not items:
            items.append(key)
        elif choice < 0.75:
            items.insert(rng.randrange(len(items)), key)
        elif choice < 0.85:
            items[rng.randrange(len(items))] = key
        elif choice < 0.9:
            del items[rng.randrange(len(items))]
        wanted = rng.choice(items) if rng.random() < 0.8 else f"missing{step}"
        index, found = find_by_key(index, items, wanted, str)
        assert found == (wanted if wanted in items else None)


def every_change_in_place() -> list[ev.Event]:
    """Events taking each path by which the reducer changes a record it appended before, each record
    appended several lines (so keyframes) earlier."""
    slot = ev.SlotSpec
    made = [
        (ev.OrchestrationStarted, {"goal": "g"}),
        (
            ev.RoutingDecided,
            {
                "workflow": "w",
                "complexity": "c",
                "confidence": 0.5,
                "sequence": [slot(key="planner", agent="planner"), slot(key="builder", agent="builder")],
            },
        ),
        (ev.BudgetAllocated, {"pools": {"working": ev.PoolSpec(used=0, soft=100), "context7": ev.PoolSpec(used=0, soft=50)}}),
        (ev.AgentStarted, {"agent": "planner", "role": "planner", "total_steps": 2}),
        (ev.TokensUsed, {"agent": "planner", "pool": "context7", "tokens": 7}),
        (ev.TokensUsed, {"agent": "builder", "pool": "context7", "tokens": 9, "estimated": True}),
        (ev.AgentStep, {"agent": "planner", "step": 1, "status": "completed"}),
        (ev.DecisionRequested, {"decision_id": "d1", "kind": "escalation", "agent": "planner", "prompt": "p"}),
        (ev.AgentFailed, {"agent": "builder", "step": 1, "category": "transient", "message": "m"}),
        (ev.CheckpointSaved, {"checkpoint_id": "cp1", "name": "n"}),
        (ev.HandoffRecorded, {"from": "planner", "to": "builder", "context": {"k": ["v"]}}),
        (ev.LearningCaptured, {"path": "l.md"}),
        (ev.BacklogUpdated, {"task_id": "T1", "status": "done"}),
        (ev.DecisionAnswered, {"decision_id": "d1", "kind": "escalation", "answer": "retry"}),
        (ev.RecoveryDecided, {"agent": "builder", "step": 1, "category": "transient", "action": "retry", "retries_used": 1}),
        (ev.DecisionAnswered, {"decision_id": "d1", "kind": "escalation", "answer": "abort", "by": "policy"}),
        (ev.OptimizationApplied, {"step": "clear_context7", "pool": "context7", "before": 16, "after": 0, "kept_agent": None}),
        (ev.SequenceExtended, {"sequence": [slot(key="architect", agent="architect")], "insert_before": "builder"}),
        (ev.AgentStatus, {"agent": "planner", "status": "completed"}),
        (ev.AgentStatus, {"agent": "planner", "status": "pending"}),
        (ev.GatePassed, {"agent": "builder", "gate": "tests"}),
        (ev.StepRerun, {"agent": "builder", "step": 1}),
        (ev.AgentSession, {"agent": "builder", "session_id": "s1"}),
        (ev.TaskWorktree, {"agent": "builder", "task_id": "T1", "branch": "b", "path": "p", "base": "main"}),
        (ev.TaskDispatched, {"agent": "builder", "task_id": "T1", "engine": "dask", "worker": "w1"}),
        (ev.TaskMerged, {"agent": "builder", "task_id": "T1", "branch": "b", "how": "merge", "commit": "c"}),
        (ev.BudgetReleased, {"agent": "builder", "pool": "context7", "tokens": 4}),
        (ev.AgentCompleted, {"agent": "builder", "output": {"o": 1}}),
        (ev.StatusChanged, {"status": "executing"}),
        (ev.OrchestrationFinished, {"status": "completed"}),
    ]
    return [cls(seq=seq, ts=float(seq), **fields) for seq, (cls, fields) in enumerate(made, start=1)]


@pytest.mark.parametrize("every", [1, 2, 3])
def test_each_change_in_place_leaves_the_keyframes_alone(tmp_path, every):
    events = every_change_in_place()
    handled = {type(e) for e in events}
    assert handled >= set(reducer_handlers()) - {ev.AgentLog, ev.Resumed}, "a new handler: add its event here"
    path = tmp_path / "events.jsonl"
    path.write_text("".join(ev.encode(e) + "\n" for e in events))
    model = ReplayModel(path, keyframe_every=every)
    model.build_index()
    model.build_keyframes()  # the frontier changes records it lent to the keyframe before
    expected = [fold(events[:position]) for position in range(len(events) + 1)]
    before = frozen_json(model)
    for start in range(len(events) + 1):
        assert model.state_at(start) == expected[start], start
        player = Player(model)
        player.seek(start)
        player.step(len(events))
        assert player.state == expected[-1], start
    assert frozen_json(model) == before


def reducer_handlers() -> list[type]:
    from studio_tui.core import reducer

    return list(reducer._HANDLERS)


@pytest.mark.parametrize("long_line_bytes", [0, 512, 1 << 30])
def test_the_index_finds_every_line_and_candidate_whatever_the_scan(tmp_path, monkeypatch, long_line_bytes):
    """Newlines by regex (short lines) or one `find` a line (long ones), candidates by one regex pass."""
    monkeypatch.setattr(index_module, "LONG_LINE_BYTES", long_line_bytes)
    rng = random.Random(long_line_bytes)
    tokens = [b'"checkpoint_saved"', b'"agent_failed"', b'"escalation"', b"\xc3\xa9", b"x" * 700, b"y"]
    lines = [b"".join(rng.choice(tokens) for _ in range(rng.randrange(0, 6))) for _ in range(400)]
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\ntail")
    index = index_module.LogIndex(path)
    index.build(max_bytes=997)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    assert list(index.offsets) == starts and index.has_tail
    for pattern, found in index.candidates.items():
        assert found == [number for number, line in enumerate(lines) if pattern in line], pattern
    index.close()
