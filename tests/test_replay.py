"""Replay: the newline index over an mmap, keyframes and seeks, bad lines, marks, timing, the player."""

from __future__ import annotations

import json
import math
import random
import threading
from pathlib import Path

import pytest

from studio_tui.core import events as ev
from studio_tui.core import replay
from studio_tui.core.reducer import fold
from studio_tui.core.replay import LogIndex, Player, ReplayModel, decode_line, state_at_seq
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import EventLogWriter, read_log

ORCH = "orch_20270115_080000_abcd"


def event(seq: int, cls: type = ev.AgentLog, ts: float | None = None, **fields) -> ev.Event:
    defaults = {"agent": "builder", "message": f"line {seq}"} if cls is ev.AgentLog else {}
    return cls(seq=seq, ts=1_800_000_000.0 + seq if ts is None else ts, orch_id=ORCH, **{**defaults, **fields})


def story() -> list[ev.Event]:
    """A small run touching every kind of mark, with a nested `"agent_failed"` that is not one."""
    return [
        event(1, ev.OrchestrationStarted, goal="g"),
        event(
            2,
            ev.RoutingDecided,
            workflow="build_only",
            complexity="simple",
            confidence=0.9,
            sequence=[ev.SlotSpec(key="builder", agent="builder")],
        ),
        event(3, ev.BudgetAllocated, pools={"working": ev.PoolSpec(used=0, soft=1000)}),
        event(4, ev.AgentStarted, agent="builder", role="builder", total_steps=3),
        event(5, ev.TokensUsed, agent="builder", pool="working", tokens=100),
        event(6, ev.AgentLog, agent="builder", message='a quoted "agent_failed" inside a string'),
        event(7, ev.AgentFailed, agent="builder", step=1, category="transient", message="timeout"),
        event(8, ev.RecoveryDecided, agent="builder", step=1, category="transient", action="retry", retries_used=1),
        event(9, ev.CheckpointSaved, checkpoint_id="cp_1", name="builder_step_1", after_agent="builder"),
        event(10, ev.AgentFailed, agent="builder", step=2, category="blocker", message="no db"),
        event(
            11,
            ev.DecisionRequested,
            decision_id="d11",
            kind="escalation",
            agent="builder",
            prompt="what now?",
            details={"type": "agent_failed", "kind": "escalation"},
        ),
        event(12, ev.DecisionAnswered, decision_id="d11", kind="escalation", answer="retry", ts=1_800_000_600.0),
        event(13, ev.DecisionRequested, decision_id="d13", kind="question", prompt="flavour?", ts=1_800_000_601.0),
        event(14, ev.DecisionAnswered, decision_id="d13", kind="question", answer="vanilla", ts=1_800_000_602.0),
        event(15, ev.AgentCompleted, agent="builder", ts=1_800_000_603.0),
        event(16, ev.OrchestrationFinished, status="completed", ts=1_800_000_604.0),
    ]


def write_lines(path: Path, lines: list[str | bytes], *, end: bytes = b"\n") -> Path:
    body = b"\n".join(line.encode() if isinstance(line, str) else line for line in lines)
    path.write_bytes(body + end)
    return path


def write_events(path: Path, events: list[ev.Event]) -> Path:
    return write_lines(path, [ev.encode(e) for e in events])


def built(path: Path, **kw) -> ReplayModel:
    model = ReplayModel(path, **kw)
    model.build_index()
    return model


# ── the index ────────────────────────────────────────────────────────────


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_offsets_equal_a_naive_split_at_any_chunk_size(tmp_path, chunk):
    rng = random.Random(chunk)
    lines = [b"x" * rng.randrange(0, 90) for _ in range(300)]
    path = write_lines(tmp_path / "log.jsonl", lines)
    data = path.read_bytes()
    expected = [0]
    for raw in data.split(b"\n")[:-1]:
        expected.append(expected[-1] + len(raw) + 1)

    with LogIndex(path) as index:
        index.build(max_bytes=chunk)
        assert list(index.offsets) == expected
        assert index.lines_indexed == 300 and index.complete and not index.has_tail
        assert [index.line(i) for i in range(300)] == lines
        assert [raw for _, raw in index.iter_lines(0, 300)] == lines


def test_iter_lines_matches_line_across_block_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(replay.index, "FIRST_BLOCK_BYTES", 10)
    monkeypatch.setattr(replay.index, "READ_BLOCK_BYTES", 50)
    lines = [b"y" * n for n in (0, 3, 120, 9, 49, 50, 51, 1, 0, 200, 7)]
    path = write_lines(tmp_path / "log.jsonl", lines, end=b"\ntail-without-newline")
    with LogIndex(path) as index:
        index.build()
        assert index.has_tail and index.line_count == len(lines) + 1
        assert index.tail() == b"tail-without-newline"
        for start in range(len(lines) + 1):
            got = list(index.iter_lines(start, index.line_count))
            assert got == [(i, index.line(i)) for i in range(start, index.line_count)]


def test_the_index_is_usable_while_partly_built(tmp_path):
    path = write_events(tmp_path / "log.jsonl", [event(i) for i in range(1, 501)])
    model = ReplayModel(path)
    model.index_chunk(4096)
    assert 0 < model.length < 500 and not model.index.complete
    assert model.state_at(model.length).seq == model.length
    assert 0 < model.index.progress < 1
    model.build_index()
    assert model.length == 500 and model.index.complete and model.index.progress == 1.0
    assert model.state_at(500).seq == 500


def test_an_empty_file(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    model = built(path)
    assert model.length == 0
    assert model.state_at(5) == OrchestrationState()
    assert model.marks() == [] and model.bad_lines == [] and model.last_seq() == 0
    state, report = state_at_seq(path, 3)
    assert state == OrchestrationState() and report.events == 0


# ── decoding, bad lines, unknown types ─────────────────────────────────────


@pytest.mark.parametrize(
    "line",
    [
        ev.encode(event(3, ev.TokensUsed, agent="a", pool="p", tokens=5)),
        ev.encode(event(4)) + "\r",
        '{"seq":1,"type":"agent_log","agent":"a","message":"m","surprise":1}',
        '{"seq":1,"type":"from_the_future","x":[1,2]}',
        '{"seq":1,"type":"agent_log","agent":"a"}',
        '{"seq":"one","type":"agent_log","agent":"a","message":"m"}',
        '{"seq":1,"type":"agent_failed","agent":"a","category":"whoops","message":"m"}',
        "[1, 2]",
        '{"seq": 1}',
        "{not json",
        '{"seq":1,"type":"agent_log","agent":"a","message":"m"} trailing',
    ],
)
def test_decode_line_agrees_with_events_decode(line):
    try:
        expected: object = ev.decode(line)
    except ev.EventDecodeError as exc:
        expected = ("error", str(exc))
    try:
        got: object = decode_line(line.encode())
    except ev.EventDecodeError as exc:
        got = ("error", str(exc))
    assert got == expected
    assert type(got) is type(expected)


def test_bad_lines_are_skipped_counted_and_listed_like_read_log(tmp_path):
    good = [event(i) for i in range(1, 7)]
    lines: list[str | bytes] = [
        ev.encode(good[0]),
        "{broken json",
        ev.encode(good[1]),
        '{"seq":3,"type":"tokens_used","agent":"a"}',  # wrong fields
        "",  # blank: neither an event nor a bad line
        ev.encode(good[2]),
        b"\xff\xfe not utf-8",
        "[1, 2, 3]",
        ev.encode(good[3]),
        ev.encode(good[4]),
    ]
    path = write_lines(tmp_path / "log.jsonl", lines, end=b'\n{"seq":6,"ts":1')  # torn last line
    model = built(path)
    model.build_keyframes()
    expected = read_log(path)
    assert [(b.line, b.reason) for b in model.bad_lines] == [(b.line, b.reason) for b in expected.bad_lines]
    assert [b.line for b in model.bad_lines] == [2, 4, 7, 8, 11]
    assert model.bad_lines[-1].reason.startswith("torn last line")
    assert model.events_decoded == 5 == len(expected.events)
    assert model.length == 11
    assert model.state_at(model.length) == fold(expected.events)
    assert model.report().torn_tail

    state, report = state_at_seq(path)
    assert state == fold(expected.events)
    assert [b.line for b in report.bad_lines] == [2, 4, 7, 8, 11] and report.torn_tail
    assert report.to_dict()["bad_lines"][0] == {"line": 2, "reason": expected.bad_lines[0].reason}


def test_a_valid_last_line_without_newline_is_an_event_like_read_log(tmp_path):
    events = [event(i) for i in range(1, 5)]
    path = write_lines(tmp_path / "log.jsonl", [ev.encode(e) for e in events], end=b"")
    model = built(path)
    assert model.length == 4 and model.index.lines_indexed == 3
    assert model.state_at(4) == fold(events) == fold(read_log(path).events)
    assert model.bad_lines == []
    assert model.last_seq() == 4


def test_unknown_event_types_are_kept_and_counted(tmp_path):
    lines = [
        ev.encode(event(1)),
        '{"seq":2,"ts":1.0,"type":"telemetry_sampled","cpu":0.5}',
        ev.encode(event(3)),
        '{"seq":4,"type":"hologram","frames":[1]}',
    ]
    path = write_lines(tmp_path / "log.jsonl", lines)
    model = built(path)
    unknown = model.event_at(1)
    assert isinstance(unknown, ev.UnknownEvent) and unknown.type == "telemetry_sampled"
    state = model.state_at(4)
    assert state.unknown_events == 2
    model.build_keyframes()
    assert model.unknown_events == 2 and model.bad_lines == []
    _, report = state_at_seq(path)
    assert report.unknown_events == 2 and report.events == 4


# ── keyframes and seeks ───────────────────────────────────────────────────


def test_state_at_every_position_equals_the_fold_on_the_example_log(example_completed):
    path = example_completed.events_path
    events = read_log(path).events
    assert len(events) > 50
    for every in (replay.KEYFRAME_EVERY, 7):
        model = built(path, keyframe_every=every)
        positions = list(range(len(events) + 1))
        random.Random(every).shuffle(positions)  # backwards, forwards, across keyframes
        for position in positions:
            assert model.state_at(position) == fold(events[:position]), position
        model.close()


async def test_state_at_every_position_on_a_resumed_run(write_ws, run_build, doubles):
    from studio_tui.core.decider import PolicyDecider

    ws = write_ws(doubles.mini_scenario())
    first = await run_build(ws, decider=PolicyDecider("abort"))
    record = ws.find_checkpoint(first.state.checkpoints[-1].id)
    await run_build(ws, decider=PolicyDecider("retry"), resume=record)
    path = ws.events_path(first.state.id)
    events = read_log(path).events
    assert any(isinstance(e, ev.Resumed) for e in events)
    model = built(path, keyframe_every=5)
    for position in reversed(range(len(events) + 1)):
        assert model.state_at(position) == fold(events[:position]), position


def test_seeks_across_keyframe_boundaries_and_thinning(tmp_path):
    events = [event(i, ev.TokensUsed, agent="builder", pool="working", tokens=i) if i % 3 else event(i) for i in range(1, 301)]
    path = write_events(tmp_path / "log.jsonl", events)
    model = built(path, keyframe_every=10, keyframe_budget=4_000)
    for position in (0, 1, 9, 10, 11, 19, 20, 21, 99, 100, 101, 150, 299, 300):
        assert model.state_at(position) == fold(events[:position]), position
    model.build_keyframes()
    assert model.keyframe_every > 10, "the byte budget thins keyframes out"
    assert model.keyframe_bytes <= 4_000 or model.keyframe_count <= 2
    for position in range(0, 301, 7):
        assert model.state_at(position) == fold(events[:position]), position
    assert model.state_at(10_000) == fold(events)


def test_a_seek_reduces_at_most_k_lines(tmp_path, monkeypatch):
    events = [event(i) for i in range(1, 101)]
    path = write_events(tmp_path / "log.jsonl", events)
    model = built(path, keyframe_every=8)
    model.build_keyframes()
    decoded: list[int] = []
    original = model.index.iter_lines

    def counting(start: int, stop: int):
        for index, raw in original(start, stop):
            decoded.append(index)
            yield index, raw

    monkeypatch.setattr(model.index, "iter_lines", counting)
    for position in range(101):
        decoded.clear()
        assert model.state_at(position).seq == position
        assert len(decoded) < 8


def test_seeks_while_a_worker_builds_keyframes(tmp_path):
    events = [event(i, ev.TokensUsed, agent="builder", pool="working", tokens=1) for i in range(1, 2001)]
    path = write_events(tmp_path / "log.jsonl", events)
    model = ReplayModel(path, keyframe_every=50)

    def worker() -> None:
        model.build_index()
        model.build_keyframes()

    thread = threading.Thread(target=worker)
    thread.start()
    rng = random.Random(3)
    try:
        for _ in range(40):
            position = rng.randrange(model.length + 1)
            assert model.state_at(position) == fold(events[:position])
    finally:
        thread.join(timeout=30)
    assert model.keyframes_complete
    assert model.state_at(2000) == fold(events)


def test_a_growing_file_is_followed_by_refresh(tmp_path):
    events = story()
    path = tmp_path / "log.jsonl"
    writer = EventLogWriter(path)
    for e in events[:6]:
        writer.append(e)
    with open(path, "ab") as handle:
        handle.write(ev.encode(events[6]).encode()[:20])  # the writer is mid-line
    model = built(path)
    assert model.index.lines_indexed == 6 and model.index.has_tail
    assert model.state_at(6) == fold(events[:6])
    with open(path, "ab") as handle:
        handle.write(ev.encode(events[6]).encode()[20:] + b"\n")
    for e in events[7:]:
        writer.append(e)
    writer.close()
    assert model.refresh() == len(events) - 6
    assert model.length == len(events) and not model.index.has_tail
    assert model.state_at(model.length) == fold(events)
    model.build_keyframes()
    assert model.bad_lines == []
    assert [m.seq for m in model.marks(("failure",))] == [7, 10]


def test_a_file_that_shrank_or_was_replaced_is_indexed_again(tmp_path):
    path = write_events(tmp_path / "log.jsonl", [event(i) for i in range(1, 21)])
    model = built(path)
    assert model.state_at(20).seq == 20
    write_events(tmp_path / "other.jsonl", [event(i) for i in range(1, 6)]).replace(path)
    model.refresh()
    assert model.length == 5 and model.index.resets == 1
    assert model.state_at(99).seq == 5
    path.write_bytes(b"")
    path.write_bytes(ev.encode(event(1)).encode() + b"\n")
    model.refresh()
    assert model.length == 1 and model.state_at(1).seq == 1


# ── marks, seqs, timing ───────────────────────────────────────────────────


def test_marks_are_checkpoints_failures_and_escalations_only(tmp_path):
    path = write_events(tmp_path / "log.jsonl", story())
    model = built(path)
    marks = model.marks()
    assert [(m.kind, m.position, m.seq) for m in marks] == [
        ("failure", 7, 7),
        ("checkpoint", 9, 9),
        ("failure", 10, 10),
        ("escalation", 11, 11),
    ]
    assert marks[1].label == "builder_step_1" and marks[3].label == "what now?"
    assert "timeout" in marks[0].label and marks[0].line == 7
    assert model.next_mark(0).seq == 7
    assert model.next_mark(7).seq == 10
    assert model.next_mark(11) is None
    assert model.previous_mark(11).seq == 10
    assert model.previous_mark(7) is None
    assert model.next_mark(0, ("checkpoint",)).seq == 9


def test_marks_on_the_example_log(example_completed):
    path = example_completed.events_path
    events = read_log(path).events
    expected = [
        (kind, i + 1)
        for i, e in enumerate(events)
        for kind in [
            "checkpoint"
            if isinstance(e, ev.CheckpointSaved)
            else "failure"
            if isinstance(e, ev.AgentFailed)
            else "escalation"
            if isinstance(e, ev.DecisionRequested) and e.kind == "escalation"
            else None
        ]
        if kind
    ]
    model = built(path)
    assert [(m.kind, m.position) for m in model.marks()] == expected
    assert {"checkpoint", "failure", "escalation"} <= {kind for kind, _ in expected}


def test_position_of_seq_and_headless_state_at_seq(tmp_path):
    events = story()
    lines = [ev.encode(e) for e in events]
    lines.insert(5, "{bad")
    path = write_lines(tmp_path / "log.jsonl", lines)
    model = built(path)
    assert model.position_of_seq(0) == 0
    assert model.position_of_seq(5) == 5
    assert model.position_of_seq(6) == 7  # the bad line sits before seq 6
    assert model.position_of_seq(999) == len(lines)
    for seq in range(18):
        state, report = state_at_seq(path, seq)
        assert state == fold([e for e in events if e.seq <= seq]), seq
        assert state == model.state_at(model.position_of_seq(seq))
        assert report.reached_seq == min(seq, 16) and report.last_seq == 16 and report.target_seq == seq
        assert [b.line for b in report.bad_lines] == ([6] if seq >= 5 else [])
    json.dumps(report.to_dict())


def test_delay_between_caps_idle_gaps(tmp_path):
    path = write_events(tmp_path / "log.jsonl", story())
    model = built(path, max_gap=2.0)
    assert model.delay_between(0, 1) == 0.0  # nothing before the first event
    assert model.delay_between(1, 2) == pytest.approx(1.0)
    assert model.delay_between(0, 11) == pytest.approx(10.0)
    # seq 12 comes ~589 s after seq 11: a person thinking, capped at 2 s
    assert model.delay_between(11, 12) == pytest.approx(2.0)
    assert model.delay_between(11, 12, max_gap=60) == pytest.approx(60.0)
    assert model.delay_between(11, 16) == pytest.approx(2.0 + 4 * 1.0)


def test_a_clock_that_goes_backwards_is_no_gap(tmp_path):
    path = write_events(tmp_path / "log.jsonl", [event(1, ts=100.0), event(2, ts=90.0), event(3, ts=91.0)])
    assert built(path).delay_between(0, 3) == pytest.approx(1.0)


# ── the player ────────────────────────────────────────────────────────────


def test_player_steps_skip_bad_lines_and_jump_between_marks(tmp_path):
    events = story()
    lines = [ev.encode(e) for e in events]
    lines.insert(3, "{bad")
    path = write_lines(tmp_path / "log.jsonl", lines)
    player = Player(built(path))
    player.step(3)
    assert player.position == 3 and player.state.seq == 3
    player.step()
    assert player.position == 5 and player.state.seq == 4  # over the bad line 4
    player.step(-1)
    assert player.position == 3 and player.state == fold(events[:3])
    player.step(100)
    assert player.position == len(lines) and player.state == fold(events)
    player.home()
    assert player.position == 0 and player.state == OrchestrationState()
    mark = player.next_mark()
    assert mark is not None and mark.seq == 7 and player.state.seq == 7 and player.state.failures
    player.next_mark()
    assert player.state.seq == 10
    player.previous_mark()
    assert player.state.seq == 7
    player.end()
    assert player.state == fold(events)
    player.step(-100)
    assert player.position == 0
    player.step(0)
    assert player.position == 0


def test_player_plays_at_the_original_pace_with_gaps_capped(tmp_path):
    path = write_events(tmp_path / "log.jsonl", story())
    player = Player(built(path, max_gap=2.0))
    assert player.advance(10.0) == 0, "paused players do not move"
    player.toggle()
    assert player.advance(0.0) == 1  # the first event has no gap before it
    assert player.delay_to_next() == pytest.approx(1.0)
    assert player.advance(0.5) == 0
    assert player.advance(0.5) == 1
    assert player.faster() == 2.0
    assert player.delay_to_next() == pytest.approx(0.5)
    assert player.advance(4.5) == 9  # seq 3..11, one log second each, at 2x
    assert player.state.seq == 11
    assert player.delay_to_next() == pytest.approx(1.0)  # the 589 s wait plays as 2 s at 2x
    assert player.advance(0.99) == 0 and player.advance(0.01) == 1
    while player.speed != math.inf:
        player.faster()
    assert player.delay_to_next() == 0.0
    assert player.advance(0.0) == 4
    assert player.at_end and not player.playing and player.state == fold(story())
    player.toggle()
    assert player.playing and player.position == 0, "play at the end starts over"
    for _ in range(20):
        player.slower()
    assert player.speed == 0.25


def test_a_slow_screen_gets_longer_folds_per_frame_at_max_speed_within_a_cap(tmp_path):
    from studio_tui.core.replay.player import FOLD_SHARE, MAX_FOLD_BUDGET_S, MAX_SPEED_BUDGET_S

    player = Player(built(write_events(tmp_path / "log.jsonl", story())))
    assert player.fold_budget_s == MAX_SPEED_BUDGET_S
    player.drew(0.001)  # a cheap frame: the default budget stands
    assert player.fold_budget_s == MAX_SPEED_BUDGET_S
    player.drew(0.03)  # drawing takes 30 ms: folding gets FOLD_SHARE of the time
    assert player.fold_budget_s == pytest.approx(0.03 * FOLD_SHARE / (1 - FOLD_SHARE))
    player.drew(5.0)  # however slow the screen, a key waits at most the cap
    assert player.fold_budget_s == MAX_FOLD_BUDGET_S


def _long_run(count: int) -> list[ev.Event]:
    events: list[ev.Event] = [event(1, ev.OrchestrationStarted, goal="g")]
    for seq in range(2, count + 1):
        if seq % 50 == 0:
            events.append(event(seq, ev.AgentStarted, agent=f"builder:T{seq}", role="builder"))
        else:
            events.append(event(seq, ev.AgentLog, agent="builder", message=f"line {seq}"))
    return events


def test_max_speed_before_keyframes_drives_the_frontier_once_and_ends_on_the_folded_state(tmp_path):
    events = _long_run(5000)
    model = built(write_events(tmp_path / "log.jsonl", events), keyframe_every=100)
    player = Player(model, speed=math.inf)
    player.toggle()
    positions = []
    while player.playing:
        player.advance(0.05)
        positions.append(player.position)
        assert player.position == model.frontier or model.keyframes_complete  # it plays along the frontier
    assert model.keyframes_complete, "the frames' folding built the keyframes: nothing was folded twice"
    assert positions == sorted(positions) and player.position == model.length
    assert player.state == fold(events)


def test_max_speed_jumps_to_a_frontier_the_worker_has_already_passed(tmp_path):
    events = _long_run(3000)
    model = built(write_events(tmp_path / "log.jsonl", events), keyframe_every=100)
    model.advance_keyframes(1700)  # the background worker got this far before play was pressed
    player = Player(model, speed=math.inf)
    player.toggle()
    assert player.advance(0.05) == 1700 and player.position == 1700
    assert player.state == fold(events[:1700])
