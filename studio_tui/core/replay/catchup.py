"""Catching up with a log already written: the newest state, without holding its events or lines.

Watch and the dashboard opening a past or foreign run need the state at the end of the log, then the
lines written after. `CatchUp` starts at the nearest state snapshot (the last `resumed` line: see
snapshot.py), folds the complete lines after it through the fast path, a slice at a time so a caller
can hand control back to its event loop between slices. The newest `recent` lines (for a log pane) are
read backwards from where the fold ended. Memory is the state, one block and those lines.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import events as ev
from .. import safefile
from ..state import OrchestrationState
from ..store.eventlog import BadLine
from .codec import Folder, _decode_raw
from .snapshot import count_lines, find_start

CATCH_UP_SLICE_BYTES = 8 << 20
"""Bytes folded per `step()`: tens of milliseconds, so a front end repaints between slices."""

READ_BYTES = 1 << 20

_ENDS = (ev.OrchestrationFinished, ev.Resumed)
"""Events that end a run (`finished`) or start it again (a `resumed` after it: not finished)."""

RECENT_LINES = 2000
"""Newest lines kept for the log pane (the dashboard's LOG_HISTORY)."""


class CatchUp:
    """Fold a log from its nearest snapshot to the last complete line present when it was opened.

    `step()` until it returns True, then read `state`, `recent_events()`, `bad_lines`, `offset` (the
    byte after the last line folded: follow on from there) and `lines` (complete lines before it).
    Opening raises what `safefile.open_read` raises (a missing log, a link, not a regular file).

    Line numbers are counted only when asked for (`lines`, `started_at_line`, the numbers of
    `bad_lines`): counting the lines before a snapshot near the end of a 1.6 GB log means reading
    all of it, which costs as much as the rest of the catch-up. `lines_after_start` and `bad_count`
    never count."""

    def __init__(self, path: Path | str, *, recent: int = RECENT_LINES) -> None:
        self.path = Path(path)
        self._fd = safefile.open_read(self.path, safefile.LOG)  # a regular file, no link: never a hang
        size = os.fstat(self._fd).st_size
        self.state = OrchestrationState()
        self._folder = Folder(self.state)
        self._bad: list[BadLine] = []
        """Numbered from the start point until `bad_lines` numbers them from the first line."""
        self._bad_numbered = 0
        self.finished: ev.OrchestrationFinished | None = None
        """The log's `orchestration_finished`, unless a `resumed` came after it."""
        self.recent = recent
        self.events = 0
        tail_start = self._last_newline_before(size)
        self.end = tail_start
        """Bytes to fold: up to the last newline present at opening (the rest is being written)."""
        start = find_start(self._fd, self.end)
        self.started_at = start.offset
        self._lines_before: int | None = None if start.offset else 0
        self._from_snapshot = start.event is not None
        self.lines_after_start = 0
        """Complete lines from the start point to `offset` (the snapshot line included)."""
        self.offset = start.offset
        if start.event is not None:
            self._take(start.event)
            self.offset = start.end
            self.lines_after_start = 1
        self._pending = b""

    def lines_before_start(self) -> int:
        """Complete lines before the start point (counted once, on first use)."""
        if self._lines_before is None:
            self._lines_before = count_lines(self._fd, self.started_at)
        return self._lines_before

    @property
    def lines_before_counted(self) -> int | None:
        """`lines_before_start()` if counted already (or 0 from the first line), else None."""
        return self._lines_before

    @property
    def from_snapshot(self) -> bool:
        """Whether the fold started from a `resumed` line's snapshot (not the first line)."""
        return self._from_snapshot

    @property
    def lines(self) -> int:
        """Complete lines before `offset`."""
        return self.lines_before_start() + self.lines_after_start

    @property
    def started_at_line(self) -> int:
        """1-based line of the snapshot the fold started from; 0: the first line."""
        return self.lines_before_start() + 1 if self._from_snapshot else 0

    @property
    def bad_count(self) -> int:
        return len(self._bad)

    @property
    def bad_lines(self) -> list[BadLine]:
        """Bad lines met, numbered from the log's first line."""
        if self._bad_numbered < len(self._bad):
            base = self.lines_before_start()
            for bad in self._bad[self._bad_numbered :]:
                bad.line += base
            self._bad_numbered = len(self._bad)
        return self._bad

    def _last_newline_before(self, size: int) -> int:
        position = size
        while position > 0:
            start = max(0, position - READ_BYTES)
            block = os.pread(self._fd, position - start, start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
        return 0

    @property
    def done(self) -> bool:
        return self.offset >= self.end

    @property
    def progress(self) -> float:
        span = self.end - self.started_at
        return 1.0 if span <= 0 else min(1.0, (self.offset - self.started_at) / span)

    def _take(self, found: ev.Event) -> None:
        self._folder.add(found)
        self.events += 1
        kind = type(found)
        if kind is ev.OrchestrationFinished:
            self.finished = found  # type: ignore[assignment]
        elif kind is ev.Resumed:
            self.finished = None

    def step(self, max_bytes: int = CATCH_UP_SLICE_BYTES) -> bool:
        """Fold up to about `max_bytes` more; True once every complete line present at opening is in."""
        stop = min(self.end, self.offset + max_bytes)
        while self.offset < stop:
            want = min(READ_BYTES, stop - self.offset)
            data = os.pread(self._fd, want, self.offset)
            if not data:
                self.end = self.offset  # the file shrank under us: stop here, the follower starts over
                break
            cut = data.rfind(b"\n")
            while cut < 0 and self.offset + len(data) < self.end:  # a line longer than the slice: to its end
                more = os.pread(self._fd, min(READ_BYTES, self.end - self.offset - len(data)), self.offset + len(data))
                if not more:
                    break
                newline = more.find(b"\n")
                if newline >= 0:
                    cut = len(data) + newline
                data += more
            if cut < 0:
                self.end = self.offset
                break
            chunk = data[:cut].split(b"\n")
            events, ends = self._folder.fold_numbered(chunk, self.lines_after_start, self._bad, _ENDS)
            self.events += events
            self.lines_after_start += len(chunk)
            for found in ends:
                self.finished = found if type(found) is ev.OrchestrationFinished else None
            self.offset += cut + 1
        self._folder.flush()
        return self.done

    def run(self) -> OrchestrationState:
        while not self.step():
            pass
        return self.state

    def recent_events(self) -> list[ev.Event]:
        """The events on the newest `recent` complete lines before `offset`, oldest first: read
        backwards from there (not kept while folding, and not limited to the lines folded)."""
        wanted = self.recent
        if wanted <= 0 or self.offset <= 0:
            return []
        chunks: list[bytes] = []
        newlines = 0
        position = self.offset
        while position > 0 and newlines <= wanted:
            start = max(0, position - READ_BYTES)
            block = os.pread(self._fd, position - start, start)
            chunks.append(block)
            newlines += block.count(b"\n")
            position = start
        lines = b"".join(reversed(chunks))[:-1].split(b"\n")[-wanted:]
        found: list[ev.Event] = []
        for raw in lines:
            event = _decode_raw(raw, False)
            if isinstance(event, ev._Event):
                found.append(event)
        return found

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CatchUp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
