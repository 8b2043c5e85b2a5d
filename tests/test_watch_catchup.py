"""Watch with `catch_up`: the history already written comes folded (from the nearest snapshot), then live lines."""

from __future__ import annotations

import asyncio

import pytest
from test_watch import FIRST, SECOND, next_item, start_orch, workspace

from studio_tui.core import events as ev
from studio_tui.core.reducer import apply, fold
from studio_tui.core.replay.catchup import CatchUp
from studio_tui.core.state import OrchestrationState
from studio_tui.core.watch import Attached, Batch, CatchingUp, CaughtUp, Finished, follow

ORCH = FIRST


def history(count: int, *, resume_every: int = 0, finish: bool = False) -> list[ev.Event]:
    events: list[ev.Event] = [ev.OrchestrationStarted(seq=1, ts=1.0, orch_id=ORCH, goal="g")]
    state = fold(events)
    for seq in range(2, count + 1):
        if resume_every and seq % resume_every == 0:
            e: ev.Event = ev.Resumed(seq=seq, ts=seq, orch_id=ORCH, checkpoint_id=f"cp{seq}", snapshot=state.to_dict())
        elif seq % 11 == 0:
            e = ev.AgentStarted(seq=seq, ts=seq, orch_id=ORCH, agent=f"builder:T{seq}", role="builder")
        elif seq % 5 == 0:
            e = ev.TokensUsed(seq=seq, ts=seq, orch_id=ORCH, agent="builder", pool="working", tokens=seq)
        else:
            e = ev.AgentLog(seq=seq, ts=seq, orch_id=ORCH, agent="builder", message=f"line {seq} ✓")
        events.append(e)
        apply(state, e)
    if finish:
        events.append(ev.OrchestrationFinished(seq=count + 1, ts=count + 1.0, orch_id=ORCH, status="completed", summary="ok"))
    return events


@pytest.mark.parametrize("resume_every", [0, 97])
def test_catch_up_folds_to_the_same_state_and_keeps_only_the_newest_events(tmp_path, resume_every):
    events = history(600, resume_every=resume_every)
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(ev.encode(e) + "\n" for e in events[:300])
        + "{torn\n"
        + "".join(ev.encode(e) + "\n" for e in events[300:])
        + '{"seq":601,"ts"'
    )
    with CatchUp(path, recent=50) as up:
        steps = 0
        while not up.step(max_bytes=2000):
            steps += 1
        assert steps > 5 or resume_every  # it really went in slices (from a late snapshot there is little left)
        assert up.state == fold(events)
        assert up.recent_events() == events[-50:]
        # bad lines are those in the lines folded: from a snapshot, the torn line before it is not read
        assert [b.line for b in up.bad_lines] == ([] if resume_every else [301])
        assert up.lines == 601 and up.offset == path.stat().st_size - len('{"seq":601,"ts"')
        if resume_every:
            assert up.started_at_line == 583  # seq 582 (line 582) is the last resumed; one torn line before it
            assert up.events == 600 - 581
        else:
            assert up.started_at_line == 0 and up.events == 600
        assert up.finished is None


def test_catch_up_of_an_empty_or_unfinished_line_only_log(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"seq":1,"ts":1.0')
    with CatchUp(path) as up:
        assert up.step() and up.state == OrchestrationState() and up.offset == 0 and up.lines == 0


async def test_follow_with_catch_up_gives_the_folded_history_then_live_batches(tmp_path):
    ws = workspace(tmp_path)
    past = history(3000, resume_every=1000)
    writer = start_orch(ws, FIRST, past)
    items = follow(ws, FIRST, catch_up=True)
    try:
        assert await next_item(items) == Attached(FIRST, ws.events_path(FIRST))
        item = await next_item(items)
        while isinstance(item, CatchingUp):
            assert 0.0 <= item.fraction <= 1.0
            item = await next_item(items)
        assert isinstance(item, CaughtUp)
        assert item.state == fold(past) and item.recent[-1] == past[-1] and item.started_at_line == 3000
        live = [ev.AgentLog(seq=s, ts=s, orch_id=ORCH, agent="builder", message="live") for s in range(3001, 3004)]
        for e in live:
            writer.append(e)
        got: list[ev.Event] = []
        while len(got) < 3:
            batch = await next_item(items)
            assert isinstance(batch, Batch)
            got.extend(batch.events)
        assert got == live
        writer.append(ev.OrchestrationFinished(seq=3004, ts=3004.0, orch_id=ORCH, status="failed"))
        assert isinstance(await next_item(items), Batch)
        assert await next_item(items) == Finished(FIRST, "failed", "")
    finally:
        writer.close()
        await items.aclose()


async def test_a_finished_run_caught_up_is_reported_and_the_follow_ends(tmp_path):
    ws = workspace(tmp_path)
    past = history(50, finish=True)
    start_orch(ws, FIRST, past).close()
    seen = [item async for item in follow(ws, FIRST, catch_up=True)]
    assert [type(i) for i in seen] == [Attached, CaughtUp, Finished]
    assert seen[1].state == fold(past) and seen[2] == Finished(FIRST, "completed", "ok")


async def test_the_event_loop_runs_while_catching_up(tmp_path):
    ws = workspace(tmp_path)
    start_orch(ws, FIRST, history(8000)).close()
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    progress = 0
    async for item in follow(ws, FIRST, catch_up=True):
        if isinstance(item, CatchingUp):
            progress += 1
        if isinstance(item, CaughtUp):
            break
    done.set()
    await task
    assert progress >= 0 and ticks > 1  # the loop was not blocked for the whole fold


async def test_follow_latest_catches_up_each_orchestration(tmp_path):
    ws = workspace(tmp_path)
    start_orch(ws, FIRST, history(20)).close()
    items = follow(ws, follow_latest=True, catch_up=True)
    try:
        assert isinstance(await next_item(items), Attached)
        assert isinstance(await next_item(items), CaughtUp)
        second = [ev.OrchestrationStarted(seq=1, ts=1.0, orch_id=SECOND, goal="two")]
        writer = start_orch(ws, SECOND, second)
        kinds = []
        item = await next_item(items)
        while not isinstance(item, CaughtUp):
            kinds.append(type(item).__name__)
            item = await next_item(items)
        assert kinds[-1] == "Attached" and item.state.goal == "two"
        writer.close()
    finally:
        await items.aclose()


def test_lines_before_a_snapshot_are_counted_only_when_a_number_is_asked_for(tmp_path):
    events = history(400, resume_every=97)  # the last resumed is seq 388, line 388 (+1 torn line before it)
    lines = [ev.encode(e) for e in events]
    lines.insert(100, "{torn")
    lines.insert(396, "not json after the snapshot")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with CatchUp(path) as up:
        up.run()
        assert up.from_snapshot and up.lines_before_counted is None  # nothing counted to fold it
        assert up.bad_count == 1 and up.state == fold(events)
        assert [b.line for b in up.bad_lines] == [397]  # numbered from the first line once asked
        assert up.lines_before_counted == 388 and up.started_at_line == 389 and up.lines == 402


async def test_a_bad_line_written_after_a_catch_up_from_a_snapshot_has_its_line_number(tmp_path):
    ws = workspace(tmp_path)
    past = history(300, resume_every=100)
    writer = start_orch(ws, FIRST, past)
    items = follow(ws, FIRST, catch_up=True)
    try:
        item = await next_item(items)
        while not isinstance(item, CaughtUp):
            item = await next_item(items)
        writer.append_line("{not json")
        batch = await next_item(items)
        assert isinstance(batch, Batch)
        assert [b.line for b in batch.bad_lines] == [301]
        assert item.started_at_line == 300
    finally:
        writer.close()
        await items.aclose()
