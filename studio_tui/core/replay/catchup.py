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
from .codec import Folder, _decode_raw, decode_for_fold
from .snapshot import count_lines, find_start

CATCH_UP_SLICE_BYTES = 8 << 20
"""Bytes folded per `step()`: tens of milliseconds, so a front end repaints between slices."""

READ_BYTES = 1 << 20

RECENT_LINES = 2000
"""Newest lines kept for the log pane (the dashboard's LOG_HISTORY)."""


class CatchUp:
    """Fold a log from its nearest snapshot to the last complete line present when it was opened.

    `step()` until it returns True, then read `state`, `recent_events()`, `bad_lines`, `offset` (the
    byte after the last line folded: follow on from there) and `lines` (complete lines before it).
    Opening raises what `safefile.open_read` raises (a missing log, a link, not a regular file)."""

    def __init__(self, path: Path | str, *, recent: int = RECENT_LINES) -> None:
        self.path = Path(path)
        self._fd = safefile.open_read(self.path, safefile.LOG)  # a regular file, no link: never a hang
        size = os.fstat(self._fd).st_size
        self.state = OrchestrationState()
        self._folder = Folder(self.state)
        self.bad_lines: list[BadLine] = []
        self.finished: ev.OrchestrationFinished | None = None
        """The log's `orchestration_finished`, unless a `resumed` came after it."""
        self.recent = recent
        self.events = 0
        tail_start = self._last_newline_before(size)
        self.end = tail_start
        """Bytes to fold: up to the last newline present at opening (the rest is being written)."""
        start = find_start(self._fd, self.end)
        self.started_at = start.offset
        self.lines = count_lines(self._fd, start.offset) if start.offset else 0
        """Complete lines before `offset`."""
        self.started_at_line = self.lines + 1 if start.event is not None else 0
        self.offset = start.offset
        if start.event is not None:
            self._take(start.event)
            self.offset = start.end
            self.lines += 1
        self._pending = b""

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
            for raw in data[:cut].split(b"\n"):
                found = decode_for_fold(raw, False)
                if found is None:
                    pass
                elif type(found) is BadLine:
                    found.line = self.lines + 1
                    self.bad_lines.append(found)
                elif type(found) is ev.OrchestrationFinished or type(found) is ev.Resumed:
                    self._take(found)
                    self.lines += 1
                    continue
                else:
                    self._folder.add(found)  # type: ignore[arg-type]
                    self.events += 1
                self.lines += 1
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
