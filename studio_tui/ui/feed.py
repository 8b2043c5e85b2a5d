"""What the dashboard shows: the reduced state plus recent events, fed per event and drawn per frame."""

from __future__ import annotations

import os
from collections import deque
from itertools import islice
from pathlib import Path

from studio_tui.core import events as ev
from studio_tui.core import safefile
from studio_tui.core.errors import StudioError
from studio_tui.core.reducer import apply
from studio_tui.core.state import OrchestrationState

LOG_HISTORY = 2000
"""Events kept for the log pane (and re-filtering it): enough to scroll back through a whole example run."""

TAIL_CHUNK = 1 << 20
"""Bytes read per poll when following another process's log; a burst larger than this takes a few polls."""


class Feed:
    """The state the panes show and the events not yet drawn; cheap to feed, drained at the frame rate."""

    def __init__(self) -> None:
        self.state = OrchestrationState()
        self.history: deque[ev.Event] = deque(maxlen=LOG_HISTORY)
        self.unseen = 0
        """How many of the newest events in `history` are not drawn yet (a count: recording stays O(1))."""
        self.dirty = True
        self.reset_log = True
        """The log pane must be redrawn from `history` (new orchestration, new filter, new theme)."""

    def record(self, event: ev.Event, state: OrchestrationState) -> None:
        """A live event already reduced by the orchestrator into `state`."""
        self.state = state
        self.history.append(event)
        self.unseen += 1
        self.dirty = True

    def apply(self, event: ev.Event) -> None:
        """An event read from a log: reduce it here."""
        apply(self.state, event)
        self.record(event, self.state)

    def reset(self, state: OrchestrationState, events: list[ev.Event]) -> None:
        """Show another orchestration (or a fresh run): new state, log redrawn from `events`."""
        self.state = state
        self.history.clear()
        self.history.extend(events[-LOG_HISTORY:])
        self.unseen = 0
        self.reset_log = True
        self.dirty = True

    def drain(self) -> list[ev.Event]:
        """The events not drawn yet, oldest first (at most `LOG_HISTORY`: older ones are gone from the pane anyway)."""
        count, self.unseen = min(self.unseen, len(self.history)), 0
        if not count:
            return []
        if count == len(self.history):
            return list(self.history)
        return list(islice(self.history, len(self.history) - count, None))


class LogTail:
    """Reads a growing `events.jsonl` from where it left off; a partial last line waits for its newline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.bad_lines = 0
        self.problem: str | None = None
        """Why the log cannot be read (not a regular file, a link), if it cannot."""

    def read_new(self, limit: int | None = None) -> list[ev.Event]:
        """Events appended since the last call (everything on the first call when `limit` is None)."""
        if not os.path.lexists(self.path):
            return []
        try:
            # never a FIFO, a device or a link (core.safefile): a hostile log cannot hang the dashboard
            handle = os.fdopen(safefile.open_read(self.path, safefile.LOG), "rb")
        except StudioError as exc:
            self.problem = str(exc)
            return []
        try:
            with handle:
                size = os.fstat(handle.fileno()).st_size
                if size < self.offset:  # the file was replaced: start over
                    self.offset, self.partial = 0, b""
                handle.seek(self.offset)
                data = handle.read(limit) if limit else handle.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        found: list[ev.Event] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                found.append(ev.decode(line))
            except (ev.EventDecodeError, ValueError, RecursionError):  # RecursionError: absurdly nested JSON
                self.bad_lines += 1
        return found
