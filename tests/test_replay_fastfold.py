"""The fold's fast path for agent_log lines (msgspec) agrees with pydantic on every line, valid or not."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from studio_tui.core import events as ev
from studio_tui.core.reducer import fold
from studio_tui.core.replay import codec, state_at_seq
from studio_tui.core.replay.codec import Folder, LightLog, decode_for_fold
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store.eventlog import BadLine

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FIELDS = st.dictionaries(
    st.sampled_from(["seq", "ts", "orch_id", "type", "agent", "level", "message", "extra"]),
    VALUES,
    max_size=8,
)


def _line(fields: dict) -> bytes:
    return json.dumps(fields, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")


def _agrees(raw: bytes) -> None:
    fast = decode_for_fold(raw, False)
    slow = codec._decode_raw(raw, False)
    if type(fast) is LightLog:
        assert isinstance(slow, ev.AgentLog), (raw, slow)
        assert (fast.seq, fast.ts) == (slow.seq, slow.ts) or (fast.ts != fast.ts and slow.ts != slow.ts)
    else:
        assert type(fast) is type(slow) and (not isinstance(slow, BadLine) or fast.reason == slow.reason)


def test_the_fast_path_is_on():
    assert codec.FAST_FOLD  # msgspec is a dependency and the reducer still ignores agent_log


@settings(max_examples=600, deadline=None)
@given(FIELDS, st.booleans())
def test_any_object_decodes_the_same(fields, as_log):
    if as_log:
        fields.setdefault("type", "agent_log")
    _agrees(_line(fields))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60), st.integers(0, 60))
def test_broken_bytes_decode_the_same(junk, cut):
    good = ev.encode(ev.AgentLog(seq=4, ts=1.5, orch_id="o", agent="builder", message='héllo 数据 🚀 "q" \\ \n')).encode()
    _agrees(good[:cut] + junk)
    _agrees(junk + good)
    _agrees(good[:cut])


def test_folder_folds_like_the_reducer():
    events: list[ev.Event] = [ev.OrchestrationStarted(seq=1, ts=1.0, goal="g")]
    for seq in range(2, 60):
        if seq % 7 == 0:
            events.append(ev.AgentStarted(seq=seq, ts=seq, agent=f"builder:T{seq}", role="builder"))
        else:
            events.append(ev.AgentLog(seq=seq, ts=seq + 0.5, agent="builder", message=f"line {seq}"))
    lines = [ev.encode(e).encode() for e in events]
    for cut in (1, 6, 7, 8, 30, len(lines)):
        folder = Folder(OrchestrationState())
        for raw in lines[:cut]:
            folder.add(decode_for_fold(raw, False))  # type: ignore[arg-type]
        assert folder.flush() == fold(events[:cut])


def _fold_line_by_line(lines: list[bytes]) -> OrchestrationState:
    """The reference: every line through the full decoder, bad ones skipped, `apply` per event."""
    events = [found for found in (codec._decode_raw(raw, False) for raw in lines) if isinstance(found, ev._Event)]
    return fold(events)


LOG_LINE = st.one_of(
    st.builds(
        lambda seq, ts, message: ev.encode(ev.AgentLog(seq=seq, ts=ts, agent="a", message=message)).encode(),
        st.integers(0, 99),
        st.floats(0, 1e9),
        st.text(max_size=6),
    ),
    st.builds(lambda seq: ev.encode(ev.AgentStarted(seq=seq, ts=seq, agent=f"b:{seq}", role="builder")).encode(), st.integers(0, 99)),
    st.builds(lambda fields: _line({"type": "agent_log", **fields}), FIELDS),  # valid or not, tagged agent_log
    st.sampled_from(
        [
            b'{"seq":5,"ts":5.0,"type":"agent_log","agent":"a","message":"m","typ\\u0065":"agent_started","role":"builder"}',
            b'{"seq":6,"ts":6.0,"type":"agent_log","agent":"a","message":"m","type":"agent_started","role":"builder"}',
            b'{"seq":7,"ts":7.0,"type":"agent_log","agent":"a","message":"\xff\xfe"}',
            b'{"seq":8,"ts":8.0,"type":"agent_log","agent":"a","message":5}',
            b'{"seq":9,"ts":9.0,"type":"agent_log","agent":"a","message":"\\ud800"}',
            b'{"seq":10,"ts":10.0,"type":"agent_log","agent":"a","message":"x"',
            b"",
        ]
    ),
    st.binary(max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(LOG_LINE, max_size=12))
def test_fold_raw_skips_quiet_lines_and_still_folds_like_the_reducer(lines):
    """Lines picked by their bytes are never decoded unless they end the fold; the state is the same
    as decoding every line (hostile ones too: duplicate or escaped `type` keys, bad UTF-8, torn)."""
    assert Folder(OrchestrationState()).fold_raw(lines) == _fold_line_by_line(lines)


@settings(max_examples=300, deadline=None)
@given(st.lists(LOG_LINE, max_size=12), st.integers(0, 5))
def test_fold_numbered_folds_counts_and_numbers_bad_lines_like_one_line_at_a_time(lines, before):
    lines = [raw.replace(b"\n", b" ") for raw in lines]  # complete lines: no newline inside
    bad: list[BadLine] = []
    folder = Folder(OrchestrationState())
    events, ends = folder.fold_numbered(lines, before, bad, (ev.AgentStarted,))
    decoded = [codec._decode_raw(raw, False) for raw in lines]
    assert folder.flush() == _fold_line_by_line(lines)
    assert events == sum(isinstance(found, ev._Event) for found in decoded)
    assert [(b.line, b.reason) for b in bad] == [
        (before + i + 1, found.reason) for i, found in enumerate(decoded) if isinstance(found, BadLine)
    ]
    assert ends == [found for found in decoded if isinstance(found, ev.AgentStarted)]


def test_quiet_by_bytes_picks_plain_agent_log_lines_only():
    plain = ev.encode(ev.AgentLog(seq=3, ts=3.0, agent="a", message='said "type": x 数据')).encode()
    assert codec.quiet_by_bytes(plain)
    assert not codec.quiet_by_bytes(ev.encode(ev.AgentStarted(seq=3, ts=3.0, agent="a", role="builder")).encode())
    assert not codec.quiet_by_bytes(plain[:-1] + b',"typ\\u0065":"agent_started"}')
    assert not codec.quiet_by_bytes(plain[:-1] + b',"type":"agent_started"}')


def test_headless_replay_through_the_fast_path_matches_the_reducer(tmp_path):
    events = [ev.OrchestrationStarted(seq=1, ts=1.0, goal="g")]
    events += [ev.AgentLog(seq=s, ts=s, agent="a", message="m") for s in range(2, 40)]
    events.append(ev.AgentFailed(seq=40, ts=40.0, agent="a", category="transient", message="x"))
    events += [ev.AgentLog(seq=s, ts=s, agent="a", message="m") for s in range(41, 50)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(ev.encode(e) for e in events) + "\n")
    for to in (1, 20, 39, 40, 45, 49, None):
        state, report = state_at_seq(path, to)
        assert state == fold([e for e in events if to is None or e.seq <= to])
        assert report.lines_total == (49 if to is None or to >= 49 else None)


def test_a_line_tagged_like_the_decoders_placeholder_is_not_an_event():
    _agrees(b'{"type":"\\u0000"}')
    assert not isinstance(decode_for_fold(b'{"type":"\\u0000"}', False), LightLog)


# ── starting from the nearest `resumed` snapshot ───────────────────────────


def _resumable_log(tmp_path, monkeypatch):
    from studio_tui.core.replay import snapshot

    monkeypatch.setattr(snapshot, "SEARCH_BLOCK_BYTES", 64)  # many blocks, even in a small file
    events: list[ev.Event] = [ev.OrchestrationStarted(seq=1, ts=1.0, goal="g")]
    state = OrchestrationState()
    lines: list[str] = []
    for seq in range(1, 121):
        if seq == 1:
            event_ = events[0]
        elif seq % 40 == 0:
            event_ = ev.Resumed(seq=seq, ts=seq, checkpoint_id=f"cp{seq}", snapshot=state.to_dict())
        elif seq % 9 == 0:
            event_ = ev.AgentStarted(seq=seq, ts=seq, agent=f"builder:T{seq}", role="builder")
        elif seq % 13 == 0:
            event_ = ev.AgentLog(seq=seq, ts=seq, agent="a", message='looks like {"type":"resumed"} but is text')
        else:
            event_ = ev.AgentLog(seq=seq, ts=seq, agent="a", message=f"line {seq}")
        if seq != 1:
            events.append(event_)
        state = fold([event_], state)
        lines.append(ev.encode(event_))
        if seq in (20, 50, 90):
            lines.append('{"seq": 1, "torn')  # a crash tore a line here
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n" + '{"seq":121,"ts":1')
    return path, events


def test_headless_replay_from_a_snapshot_matches_a_fold_from_the_start(tmp_path, monkeypatch):
    path, events = _resumable_log(tmp_path, monkeypatch)
    for to in (0, 1, 5, 39, 40, 41, 79, 80, 100, 120, 500, None):
        state, report = state_at_seq(path, to)
        whole, full_report = state_at_seq(path, to, snapshots=False)
        expected = fold([e for e in events if to is None or e.seq <= to])
        assert state == whole == expected, to
        resumed_at = max((i for i, e in enumerate(events) if isinstance(e, ev.Resumed) and (to is None or e.seq <= to)), default=None)
        if resumed_at is None:
            assert report.started_at_line == 0 and report.bad_lines == full_report.bad_lines
        else:
            torn_before = sum(1 for s in (20, 50, 90) if s < events[resumed_at].seq)
            assert report.started_at_line == resumed_at + 1 + torn_before
            assert [b.line for b in report.bad_lines] == [b.line for b in full_report.bad_lines if b.line > report.started_at_line]
        assert report.lines_read == full_report.lines_read and report.reached_seq == full_report.reached_seq
        assert report.last_seq == 120
