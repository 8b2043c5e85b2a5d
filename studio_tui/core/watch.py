"""Follow a run another process is driving: new lines of its `events.jsonl`, as they are written.

`follow()` is an async iterator of `Attached`, `Batch`, `Finished`, `Switched` and `Waiting` items,
the same for the dashboard and a headless printer. It is woken by watchfiles (inotify and friends),
reads only the bytes appended since its last offset, holds back a partly written last line until its
newline arrives, and never takes the workspace lock: the writer keeps it, watchers only read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, awatch

from . import events as ev
from . import safefile
from .errors import NotFound, StudioError
from .replay import _decode_raw
from .replay.catchup import CatchUp
from .replay.snapshot import count_lines
from .state import OrchestrationState
from .store.eventlog import MAX_LINE_BYTES, TOO_LONG, BadLine
from .store.workspace import ORCH_ID_RE, Workspace

WATCH_DEBOUNCE_MS = 100
"""Longest a burst of writes is grouped before it is handed on: a busy run shows up ~10 times a
second, which a 20 Hz dashboard turns into smooth motion without waking once per line."""

WATCH_STEP_MS = 20
"""Quiet time that ends a burst early: a single event shows up within ~20 ms of being written."""

WATCH_POLL_MS = 500
"""Longest wait without a notification before the log is checked anyway: covers a write that landed
while the watcher was starting, filesystems that do not notify, and lets a stop request end promptly."""

READ_BATCH_BYTES = 256 << 10
"""Most bytes read and decoded per batch (~1,400 typical lines, ~12 ms): attaching to a long run hands
over its history in slices, so the event loop and the screen keep moving."""


# ── what follow() yields ─────────────────────────────────────────────────


@dataclass(frozen=True)
class Attached:
    """Now following this orchestration; its history comes next, in batches."""

    orch_id: str
    path: Path


@dataclass(frozen=True)
class Batch:
    """Events appended to the followed log (and lines that were not events), in order."""

    orch_id: str
    events: list[ev.Event]
    bad_lines: list[BadLine] = field(default_factory=list)


@dataclass(frozen=True)
class CatchingUp:
    """`catch_up`: folding the history already written; `fraction` of its bytes done so far."""

    orch_id: str
    fraction: float


@dataclass(frozen=True)
class CaughtUp:
    """`catch_up`: the history already written, folded: the state at its end and its newest events
    (instead of every event in `Batch`es). Lines written after it come as `Batch`es."""

    orch_id: str
    state: OrchestrationState
    recent: list[ev.Event]
    bad_lines: list[BadLine] = field(default_factory=list)
    line_of_start: Callable[[], int] | int = 0
    """`started_at_line`, or how to count it (only if asked: it means reading the log up to there)."""

    @property
    def started_at_line(self) -> int:
        """1-based line of the state snapshot (a `resumed` event) the fold started from; 0: the first line."""
        return self.line_of_start if isinstance(self.line_of_start, int) else self.line_of_start()


@dataclass(frozen=True)
class Finished:
    """The followed orchestration wrote its `orchestration_finished` event."""

    orch_id: str
    status: str
    summary: str = ""


@dataclass(frozen=True)
class Switched:
    """`follow_latest`: a newer orchestration started; an `Attached` for it follows."""

    from_id: str | None
    to_id: str


@dataclass(frozen=True)
class Restarted:
    """The followed log was replaced or truncated under the watcher: it is read again from the
    start, and events already handed on (seq at or below `last_seq`) are not handed on twice."""

    orch_id: str
    reason: str
    last_seq: int


@dataclass(frozen=True)
class Waiting:
    """`follow_latest` in a workspace with no orchestration yet: waiting for one to start."""

    workspace: Path


WatchItem = Attached | CatchingUp | CaughtUp | Batch | Finished | Switched | Waiting | Restarted


# ── reading new lines ────────────────────────────────────────────────────


def log_change(opened: os.stat_result, on_disk: os.stat_result | None, offset: int) -> str | None:
    """How the log changed under a reader that opened `opened` and read `offset` bytes of it:
    "replaced" (the path now names another file), "truncated" (it shrank below what was read), or
    None (only appended to, or gone: a removed log is read to its end and the reader waits)."""
    if on_disk is not None and (on_disk.st_ino, on_disk.st_dev) != (opened.st_ino, opened.st_dev):
        return "replaced"
    current = on_disk if on_disk is not None else opened
    if current.st_size < offset:
        return "truncated"
    return None


class LogTail:
    """The complete lines appended to a file since the last read, from a byte offset.

    A last line without its newline is left for the next read (the writer is mid-line); a file that
    shrank or was replaced is read again from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines_read = 0
        """Complete lines read since `line_base_offset` (the start of the file, unless a catch-up
        started from a snapshot further on)."""
        self.line_base_offset = 0
        self._line_base: int | None = 0
        self.restarts = 0
        self.last_change: str | None = None
        """Why the last restart happened ("replaced" or "truncated")."""
        self._fd: int | None = None
        self._opened: os.stat_result | None = None

    def _open(self) -> int | None:
        if self._fd is not None and self._opened is not None:
            try:
                on_disk: os.stat_result | None = os.lstat(self.path)
            except FileNotFoundError:
                on_disk = None
            change = log_change(self._opened, on_disk, self.offset)
            if change is None:
                return self._fd
            self._restart(change)
        if not os.path.lexists(self.path):
            return None
        # a regular file, never through a link, never a FIFO: a hostile log cannot hang the watcher
        self._fd = safefile.open_read(self.path, safefile.LOG)
        self._opened = os.fstat(self._fd)
        return self._fd

    def start_after(self, offset: int, lines_since: int, line_base_offset: int, line_base: int | None) -> None:
        """Go on from byte `offset`, `lines_since` complete lines after byte `line_base_offset`, which
        has `line_base` lines before it (None: not counted yet, counted if a bad line needs a number)."""
        self.offset, self.lines_read = offset, lines_since
        self.line_base_offset, self._line_base = line_base_offset, line_base

    def line_base(self) -> int:
        """Lines before `line_base_offset`: what numbers from `read()` add up to a line number."""
        if self._line_base is None:
            fd = self._open()
            self._line_base = 0 if fd is None else count_lines(fd, self.line_base_offset)
        return self._line_base

    def _restart(self, reason: str) -> None:
        self.close()
        self.offset = 0
        self.lines_read = 0
        self.line_base_offset, self._line_base = 0, 0
        self.restarts += 1
        self.last_change = reason

    def read(self, max_bytes: int = READ_BATCH_BYTES) -> list[tuple[int, bytes]]:
        """(1-based line number, bytes) of new complete lines, up to about `max_bytes` of them."""
        fd = self._open()
        if fd is None:
            return []
        size = os.fstat(fd).st_size
        if size < self.offset:
            self._restart("truncated")
            fd = self._open()
            if fd is None:
                return []
        if size <= self.offset:
            return []
        data = os.pread(fd, min(size - self.offset, max_bytes), self.offset)
        end = data.rfind(b"\n") + 1
        if end == 0 and self.offset + len(data) < size:
            # one line longer than max_bytes: read on until its newline (or the end of what is there)
            grown = bytearray(data)
            while end == 0 and self.offset + len(grown) < size and len(grown) <= MAX_LINE_BYTES:
                more = os.pread(fd, min(size - self.offset - len(grown), max_bytes), self.offset + len(grown))
                if not more:
                    break
                newline = more.rfind(b"\n")
                if newline >= 0:
                    end = len(grown) + newline + 1
                grown += more
            data = bytes(grown)
        if end == 0 and len(data) > MAX_LINE_BYTES:
            # no writer makes such a line: pass over it (to its newline) as one bad line, never hold it
            skip = self.offset + len(data)
            while True:
                chunk = os.pread(fd, max_bytes, skip)
                newline = chunk.find(b"\n")
                if newline >= 0 or not chunk:
                    skip += newline + 1 if newline >= 0 else len(chunk)
                    break
                skip += len(chunk)
            self.offset = skip
            self.lines_read += 1
            return [(self.lines_read, TOO_LONG)]
        if end == 0:
            return []
        lines = data[: end - 1].split(b"\n")
        first = self.lines_read + 1
        self.offset += end
        self.lines_read += len(lines)
        return list(enumerate(lines, start=first))

    def pending(self) -> int:
        """Bytes after the last newline (a line being written), as of now."""
        fd = self._open()
        return 0 if fd is None else max(0, os.fstat(fd).st_size - self.offset)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._opened = None


def _decode_batch(orch_id: str, lines: list[tuple[int, bytes]], line_base: Callable[[], int] = lambda: 0) -> Batch:
    events: list[ev.Event] = []
    bad: list[BadLine] = []
    for number, raw in lines:
        found = _decode_raw(raw, False)
        if isinstance(found, BadLine):
            found.line = number + line_base()
            bad.append(found)
        elif found is not None:
            events.append(found)
    return Batch(orch_id, events, bad)


def _relevant(change: Change, path: str) -> bool:
    """Only event logs and orchestration folders wake the follower (not state.yaml, checkpoints)."""
    name = os.path.basename(path)
    return name == "events.jsonl" or bool(ORCH_ID_RE.fullmatch(name))


# ── catching up ──────────────────────────────────────────────────────────


async def _catch_up(orch_id: str, tail: LogTail) -> AsyncIterator[CatchingUp | CaughtUp | Finished]:
    """Fold what the log holds already (in a thread, a slice at a time), then point `tail` after it.

    Ends with `Finished` when the folded log is finished (and not resumed since)."""
    try:
        folding = await asyncio.to_thread(CatchUp, tail.path)
    except (OSError, StudioError):
        return  # no log yet (or not a readable one): the follower reads it, or says why, as before
    try:
        while not await asyncio.to_thread(folding.step):
            yield CatchingUp(orch_id, folding.progress)
        recent = await asyncio.to_thread(folding.recent_events)
        bad = await asyncio.to_thread(lambda: folding.bad_lines)  # numbering them may count lines: not on the loop
        counted = folding.lines_before_counted
        tail.start_after(folding.offset, folding.lines_after_start, folding.started_at, counted)
        started: Callable[[], int] | int = 0
        if folding.from_snapshot:  # its line is counted through the tail if asked for (this file closes)
            started = counted + 1 if counted is not None else lambda: tail.line_base() + 1
        yield CaughtUp(orch_id, folding.state, recent, bad, started)
        if folding.finished is not None:
            yield Finished(orch_id, folding.finished.status, folding.finished.summary)
    finally:
        folding.close()


# ── follow ───────────────────────────────────────────────────────────────


async def follow(
    workspace: Workspace,
    orch_id: str | None = None,
    *,
    follow_latest: bool = False,
    stop_event: asyncio.Event | None = None,
    poll_ms: int = WATCH_POLL_MS,
    debounce_ms: int = WATCH_DEBOUNCE_MS,
    catch_up: bool = False,
) -> AsyncIterator[WatchItem]:
    """Follow an orchestration's log (the latest one if `orch_id` is None), read-only.

    Yields `Attached`, then its history and every later append as `Batch`es. With `catch_up`, the
    history already written comes instead as `CatchingUp` progress and one `CaughtUp` (the folded state
    and the newest events, from the nearest snapshot, in slices run in a thread: the event loop keeps
    going), and only later appends as `Batch`es. Ends after `Finished`
    unless `follow_latest`, which instead keeps watching and, when a newer orchestration starts,
    yields `Switched` and follows that one. Set `stop_event` (or stop iterating) to end it; it never
    takes the workspace lock. Raises `NotFound` for an unknown orchestration, or if there is none
    yet and `follow_latest` is off."""
    if not workspace.root.is_dir():
        raise NotFound(f"{workspace.root}: no workspace here")
    stop = stop_event if stop_event is not None else asyncio.Event()
    current: str | None
    current = workspace.latest() if orch_id is None and follow_latest else workspace.resolve_orch(orch_id)

    tail: LogTail | None = None
    finished: Finished | None = None
    last_seq = 0
    restarts = 0
    catching_up = False
    announced_early: Finished | None = None
    watcher: AsyncIterator[set[tuple[Change, str]]] | None = None

    if current is None:
        yield Waiting(workspace.root)
    else:
        tail = LogTail(workspace.events_path(current))
        yield Attached(current, tail.path)
        if catch_up:
            async for item in _catch_up(current, tail):
                if isinstance(item, Finished):
                    finished = announced_early = item  # announced by the loop below, as if just read
                else:
                    if isinstance(item, CaughtUp) and item.recent:
                        last_seq = item.recent[-1].seq
                    yield item

    try:
        while True:
            announced = finished if announced_early is None else None
            announced_early = None
            while tail is not None and current is not None:
                lines = tail.read()
                if tail.restarts != restarts:
                    restarts, catching_up = tail.restarts, True
                    yield Restarted(current, tail.last_change or "replaced", last_seq)
                if not lines:
                    break
                batch = _decode_batch(current, lines, tail.line_base)
                if catching_up:
                    # read again after a restart: what was handed on already is not handed on twice
                    fresh = [e for e in batch.events if e.seq > last_seq]
                    catching_up = len(fresh) == 0
                    batch = Batch(current, fresh, [] if fresh == [] else batch.bad_lines)
                if batch.events:
                    last_seq = batch.events[-1].seq
                for event in batch.events:
                    if isinstance(event, ev.OrchestrationFinished):
                        finished = Finished(current, event.status, event.summary)
                    elif isinstance(event, ev.Resumed):
                        finished = None  # the run was resumed after it finished: follow on
                yield batch
            if finished is not None and finished is not announced:
                yield finished
                if not follow_latest:
                    return
            if stop.is_set():
                return
            if follow_latest:
                newest = workspace.latest()
                if newest is not None and (current is None or newest > current):
                    if tail is not None:
                        tail.close()
                    yield Switched(current, newest)
                    current, finished, last_seq, restarts, catching_up = newest, None, 0, 0, False
                    tail = LogTail(workspace.events_path(current))
                    yield Attached(current, tail.path)
                    if catch_up:
                        async for item in _catch_up(current, tail):
                            if isinstance(item, Finished):
                                finished = announced_early = item
                            else:
                                if isinstance(item, CaughtUp) and item.recent:
                                    last_seq = item.recent[-1].seq
                                yield item
                    continue
            if watcher is None:
                # One watcher for the whole follow: changes made while we drain are kept for us.
                watcher = awatch(
                    workspace.root,
                    watch_filter=_relevant,
                    debounce=debounce_ms,
                    step=WATCH_STEP_MS,
                    rust_timeout=poll_ms,
                    yield_on_timeout=True,
                    stop_event=stop,
                    recursive=True,
                )
            try:
                await watcher.__anext__()
            except StopAsyncIteration:
                return  # the stop event was set
    finally:
        if tail is not None:
            tail.close()
        if watcher is not None:
            await watcher.aclose()  # type: ignore[attr-defined]
