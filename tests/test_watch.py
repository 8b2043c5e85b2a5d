"""Watch: follow another process's events.jsonl live, read-only, through watchfiles."""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from studio_tui.core import events as ev
from studio_tui.core.errors import NotFound
from studio_tui.core.reducer import fold
from studio_tui.core.store import EventLogWriter, Workspace
from studio_tui.core.store.lock import WorkspaceLock
from studio_tui.core.watch import Attached, Batch, Finished, LogTail, Switched, Waiting, WatchItem, follow

FIRST = "orch_20270115_080000_aaaa"
SECOND = "orch_20270115_090000_bbbb"
DEADLINE = 5.0
"""Seconds a test waits for the follower before it fails (a live event normally shows in ~20 ms)."""


def event(orch_id: str, seq: int, cls: type = ev.AgentLog, **fields) -> ev.Event:
    defaults = {"agent": "builder", "message": f"line {seq}"} if cls is ev.AgentLog else {}
    return cls(seq=seq, ts=1_800_000_000.0 + seq, orch_id=orch_id, **{**defaults, **fields})


def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "project" / ".studio"
    root.mkdir(parents=True)
    return Workspace(root)


def start_orch(ws: Workspace, orch_id: str, events: list[ev.Event] = ()) -> EventLogWriter:  # type: ignore[assignment]
    ws.orch_dir(orch_id).mkdir(parents=True, exist_ok=True)
    writer = EventLogWriter(ws.events_path(orch_id))
    for e in events:
        writer.append(e)
    return writer


async def next_item(items: AsyncIterator[WatchItem]) -> WatchItem:
    return await asyncio.wait_for(items.__anext__(), DEADLINE)


async def collect_events(items: AsyncIterator[WatchItem], count: int) -> tuple[list[ev.Event], list[WatchItem]]:
    """Events from batches until `count` have come (other items are returned alongside)."""
    got: list[ev.Event] = []
    others: list[WatchItem] = []
    while len(got) < count:
        item = await next_item(items)
        if isinstance(item, Batch):
            got.extend(item.events)
        else:
            others.append(item)
    return got, others


# ── reading new bytes ─────────────────────────────────────────────────────


def test_log_tail_holds_back_a_partly_written_line(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = LogTail(path)
    assert tail.read() == [], "no file yet"
    path.write_bytes(b'{"a":1}\n{"b":')
    assert tail.read() == [(1, b'{"a":1}')]
    assert tail.read() == [] and tail.pending() == 5
    with open(path, "ab") as handle:
        handle.write(b'2}\n\n{"c":3}\n')
    assert tail.read() == [(2, b'{"b":2}'), (3, b""), (4, b'{"c":3}')]
    assert tail.read() == []
    path.write_bytes(b'{"new":1}\n')  # truncated and rewritten: start over
    assert tail.read() == [(1, b'{"new":1}')] and tail.restarts == 1
    tail.close()


def test_log_tail_reads_in_slices_and_copes_with_a_line_longer_than_a_slice(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [b"x" * n for n in (5, 300, 7, 2, 1000, 3)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    tail = LogTail(path)
    got: list[tuple[int, bytes]] = []
    while more := tail.read(max_bytes=64):
        got.extend(more)
    assert got == list(enumerate(lines, start=1))
    tail.close()


# ── follow ────────────────────────────────────────────────────────────────


async def test_follow_yields_history_then_live_events_then_the_finish(tmp_path):
    ws = workspace(tmp_path)
    history = [event(FIRST, 1, ev.OrchestrationStarted, goal="g"), event(FIRST, 2)]
    writer = start_orch(ws, FIRST, history)
    items = follow(ws)
    try:
        attached = await next_item(items)
        assert attached == Attached(FIRST, ws.events_path(FIRST))
        got, _ = await collect_events(items, 2)
        assert got == history

        live = [event(FIRST, seq) for seq in range(3, 8)]
        for e in live:
            writer.append(e)
        got, others = await collect_events(items, len(live))
        assert got == live and others == []

        # a line written in two goes arrives once, whole
        line = ev.encode(event(FIRST, 8)).encode()
        with open(ws.events_path(FIRST), "ab") as handle:
            handle.write(line[:15])
            handle.flush()
            handle.write(line[15:] + b"\n")
        got, _ = await collect_events(items, 1)
        assert got == [event(FIRST, 8)]

        writer.append(event(FIRST, 9, ev.OrchestrationFinished, status="completed", summary="done"))
        got, _ = await collect_events(items, 1)
        assert isinstance(got[0], ev.OrchestrationFinished)
        assert await next_item(items) == Finished(FIRST, "completed", "done")
        with pytest.raises(StopAsyncIteration):
            await next_item(items)
    finally:
        writer.close()
        await items.aclose()


async def test_follow_lists_bad_lines_with_their_numbers(tmp_path):
    ws = workspace(tmp_path)
    writer = start_orch(ws, FIRST, [event(FIRST, 1)])
    writer.close()
    with open(ws.events_path(FIRST), "ab") as handle:
        handle.write(b"{not json\n" + ev.encode(event(FIRST, 2)).encode() + b"\n")
    items = follow(ws, FIRST)
    try:
        await next_item(items)
        batch = await next_item(items)
        assert isinstance(batch, Batch)
        assert [e.seq for e in batch.events] == [1, 2]
        assert [b.line for b in batch.bad_lines] == [2] and batch.bad_lines[0].reason.startswith("not JSON")
    finally:
        await items.aclose()


async def test_an_already_finished_run_is_reported_and_the_follow_ends(tmp_path):
    ws = workspace(tmp_path)
    events = [event(FIRST, 1), event(FIRST, 2, ev.OrchestrationFinished, status="failed")]
    start_orch(ws, FIRST, events).close()
    seen = [item async for item in follow(ws, FIRST)]
    assert seen == [Attached(FIRST, ws.events_path(FIRST)), Batch(FIRST, events, []), Finished(FIRST, "failed", "")]


async def test_follow_latest_switches_to_a_newer_orchestration(tmp_path):
    ws = workspace(tmp_path)
    first = start_orch(ws, FIRST, [event(FIRST, 1)])
    items = follow(ws, follow_latest=True)
    try:
        assert await next_item(items) == Attached(FIRST, ws.events_path(FIRST))
        await collect_events(items, 1)
        first.append(event(FIRST, 2, ev.OrchestrationFinished, status="completed"))
        got, _ = await collect_events(items, 1)
        assert await next_item(items) == Finished(FIRST, "completed", "")

        second = start_orch(ws, SECOND, [event(SECOND, 1, ev.OrchestrationStarted, goal="next")])
        assert await next_item(items) == Switched(FIRST, SECOND)
        assert await next_item(items) == Attached(SECOND, ws.events_path(SECOND))
        got, _ = await collect_events(items, 1)
        assert got[0].orch_id == SECOND
        second.append(event(SECOND, 2))
        got, _ = await collect_events(items, 1)
        assert got == [event(SECOND, 2)]
        second.close()
    finally:
        first.close()
        await items.aclose()


async def test_follow_latest_waits_for_the_first_orchestration(tmp_path):
    ws = workspace(tmp_path)
    items = follow(ws, follow_latest=True)
    try:
        assert await next_item(items) == Waiting(ws.root)
        start_orch(ws, FIRST, [event(FIRST, 1)]).close()
        assert await next_item(items) == Switched(None, FIRST)
        assert await next_item(items) == Attached(FIRST, ws.events_path(FIRST))
        got, _ = await collect_events(items, 1)
        assert got == [event(FIRST, 1)]
    finally:
        await items.aclose()


async def test_without_follow_latest_an_older_run_is_kept(tmp_path):
    ws = workspace(tmp_path)
    first = start_orch(ws, FIRST, [event(FIRST, 1)])
    items = follow(ws, FIRST)
    try:
        await next_item(items)
        await collect_events(items, 1)
        start_orch(ws, SECOND, [event(SECOND, 1)]).close()
        first.append(event(FIRST, 2))
        got, others = await collect_events(items, 1)
        assert got == [event(FIRST, 2)] and others == []
    finally:
        first.close()
        await items.aclose()


async def test_a_stop_event_ends_the_follow(tmp_path):
    ws = workspace(tmp_path)
    start_orch(ws, FIRST, [event(FIRST, 1)]).close()
    stop = asyncio.Event()
    seen: list[WatchItem] = []

    async def consume() -> None:
        async for item in follow(ws, FIRST, stop_event=stop):
            seen.append(item)
            if isinstance(item, Batch):
                stop.set()

    await asyncio.wait_for(consume(), DEADLINE)
    assert [type(item) for item in seen] == [Attached, Batch]


async def test_unknown_or_missing_orchestrations_are_not_found(tmp_path):
    ws = workspace(tmp_path)
    with pytest.raises(NotFound):
        await follow(ws).__anext__()
    with pytest.raises(NotFound):
        await follow(ws, "orch_20990101_000000_ffff").__anext__()
    with pytest.raises(NotFound):
        await follow(Workspace(tmp_path / "nowhere" / ".studio"), follow_latest=True).__anext__()


async def test_the_watcher_never_takes_the_lock(tmp_path):
    ws = workspace(tmp_path)
    lock_path = ws.root / "lock"
    writer = start_orch(ws, FIRST, [event(FIRST, 1)])
    items = follow(ws, FIRST)
    try:
        await next_item(items)
        await collect_events(items, 1)
        assert not lock_path.exists(), "following must not create the lock file"

        # the driving process takes the lock while we follow: following goes on
        with WorkspaceLock(lock_path):
            writer.append(event(FIRST, 2))
            got, _ = await collect_events(items, 1)
            assert got == [event(FIRST, 2)]
            # and nobody else could take the lock: only the writer holds it, not the watcher
            fd = os.open(lock_path, os.O_RDWR)
            try:
                with pytest.raises(BlockingIOError):
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            finally:
                os.close(fd)
        # released by the writer: free, while the watcher still follows
        with WorkspaceLock(lock_path):
            writer.append(event(FIRST, 3))
            got, _ = await collect_events(items, 1)
            assert got == [event(FIRST, 3)]
    finally:
        writer.close()
        await items.aclose()


async def test_a_followed_log_folds_to_the_writers_state(tmp_path):
    ws = workspace(tmp_path)
    writer = start_orch(ws, FIRST)
    events = (
        [event(FIRST, 1, ev.OrchestrationStarted, goal="g")]
        + [event(FIRST, seq, ev.TokensUsed, agent="builder", pool="working", tokens=seq) for seq in range(2, 200)]
        + [event(FIRST, 200, ev.OrchestrationFinished, status="completed")]
    )

    got: list[ev.Event] = []
    caught_up = asyncio.Condition()

    async def write() -> None:
        for start in range(0, len(events), 25):
            for e in events[start : start + 25]:
                writer.append(e)
            async with caught_up:  # a live writer goes on while the follower reads: take turns
                await caught_up.wait_for(lambda start=start: len(got) >= min(start + 25, len(events)))

    async def read() -> None:
        async for item in follow(ws, FIRST):
            if isinstance(item, Batch):
                got.extend(item.events)
                async with caught_up:
                    caught_up.notify_all()

    await asyncio.wait_for(asyncio.gather(write(), read()), DEADLINE * 2)
    writer.close()
    assert got == events
    assert fold(got).status == "completed"
