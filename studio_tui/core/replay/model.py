"""`ReplayModel`: events decoded on demand over a `LogIndex`, keyframes, marks, seqs and timing.

A *position* counts lines, not events: position `p` is the state after the first `p` lines (bad and
blank lines contribute nothing). Positions are known from the index alone, before any line is decoded;
in a clean log (the normal case) position `p` is simply "after event p".
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import events as ev
from ..state import OrchestrationState
from ..store.eventlog import BadLine
from .codec import Folder, _decode_raw, decode_for_fold
from .index import INDEX_CHUNK_BYTES, LogIndex
from .keyframes import KEYFRAME_BUDGET_BYTES, KEYFRAME_EVERY, Keyframe, freeze, keyframe_only_bytes, thaw
from .marks import MARK_EVENT_TYPES, MARK_KINDS, MARK_PATTERNS, Mark, mark_for
from .report import ReplayReport
from .sharing import SharedState

RESUME_KEYFRAME_GAP = 4
"""A keyframe is also laid just after a `resumed` line (a whole state: folding it costs as much as a
thousand other lines) unless one is fewer than `keyframe_every / RESUME_KEYFRAME_GAP` lines back, so
resumes add at most a few keyframes per interval and a seek seldom folds one."""

MAX_GAP_S = 2.0
"""Longest pause replay plays between two events (log seconds, before the speed factor): a person
answering an escalation for ten minutes still reads as a pause, not a frozen screen."""


class ReplayModel:
    """Lazily decoded events, keyframes, marks and timing over a `LogIndex`.

    Keyframes are built in order by `advance_keyframes`, from a "frontier" that reduces every line
    once; a front end calls it from a background worker after the index, and `state_at` builds any
    it needs first. Decoding 1M events takes seconds, far past the index's budget, so it is not done
    while indexing: the first frame and seeks near the start are immediate, and seeks further on get
    fast as the frontier passes them. Keyframes share their records with each other and with the
    states built from them (keyframes.py): a state restores in a millisecond or two even with
    thousands of agents, and a thousand keyframes cost little more than one state.

    `bad_lines`, `unknown_events` and `events_decoded` cover the lines the frontier has passed
    (all of them once `keyframes_complete`), plus a torn tail.
    """

    def __init__(
        self,
        source: Path | str | LogIndex,
        *,
        keyframe_every: int = KEYFRAME_EVERY,
        keyframe_budget: int = KEYFRAME_BUDGET_BYTES,
        max_gap: float = MAX_GAP_S,
    ) -> None:
        self.index = source if isinstance(source, LogIndex) else LogIndex(source)
        self.keyframe_budget = keyframe_budget
        self.max_gap = max_gap
        self._lock = threading.RLock()
        self._initial_every = keyframe_every
        self._start_over()

    def _start_over(self) -> None:
        self.keyframe_every = self._initial_every
        self._frontier = 0
        self._frontier_state = SharedState()
        first = freeze(self._frontier_state, 0)
        self._keyframes: list[Keyframe] = [first]
        self._positions: list[int] = [0]
        """Each keyframe's position, rising: every `keyframe_every` lines, and just after a `resumed` line."""
        self._keyframe_bytes = first.bytes
        self._bad: list[BadLine] = []
        self._resumes: list[int] = []
        """Positions just after each `resumed` line the frontier passed (rising)."""
        self.unknown_events = 0
        self.events_decoded = 0
        self._marks: list[Mark] = []
        self._checked: dict[bytes, int] = dict.fromkeys(self.index.candidates, 0)

    @classmethod
    def open(cls, path: Path | str, **kw: Any) -> ReplayModel:
        return cls(LogIndex(path), **kw)

    def close(self) -> None:
        self.index.close()

    # the index, passed through

    def index_chunk(self, max_bytes: int = INDEX_CHUNK_BYTES) -> int:
        return self.index.index_chunk(max_bytes)

    def build_index(self, progress_cb: Callable[[int, int], None] | None = None) -> int:
        return self.index.build(progress_cb)

    def refresh(self) -> int:
        """Index lines appended since; the model starts over if the file shrank or was replaced."""
        resets = self.index.resets
        added = self.index.refresh()
        if self.index.resets != resets:
            with self._lock:
                self._start_over()
        return added

    @property
    def length(self) -> int:
        """The last position: lines known so far (the tail counts once the scan reached it)."""
        return self.index.line_count

    # decoding

    def _decode(self, index: int, raw: bytes) -> ev.Event | BadLine | None:
        """The event on a line, a BadLine, or None for a blank line."""
        found = _decode_raw(raw, index == self.index.lines_indexed)
        if isinstance(found, BadLine):
            found.line = index + 1
        return found

    def event_at(self, index: int) -> ev.Event | None:
        """The event on line `index` (0-based), or None for a bad or blank line."""
        found = self._decode(index, self.index.line(index))
        return found if isinstance(found, ev._Event) else None

    def line_at(self, index: int) -> ev.Event | BadLine | None:
        """What line `index` holds: an event (maybe `UnknownEvent`), a `BadLine`, or None if blank."""
        return self._decode(index, self.index.line(index))

    def iter_events(self, start: int, stop: int) -> Iterator[tuple[int, ev.Event]]:
        """(line index, event) for the valid events on lines [start, stop)."""
        for index, raw in self.index.iter_lines(start, stop):
            found = self._decode(index, raw)
            if isinstance(found, ev._Event):
                yield index, found

    # keyframes

    @property
    def frontier(self) -> int:
        """Lines reduced in order so far; keyframes exist up to here."""
        return self._frontier

    @property
    def keyframes_complete(self) -> bool:
        return self.index.complete and self._frontier >= self.index.lines_indexed

    @property
    def keyframe_count(self) -> int:
        return len(self._keyframes)

    @property
    def keyframe_bytes(self) -> int:
        return self._keyframe_bytes

    def advance_keyframes(self, max_lines: int | None = None, *, until: int | None = None) -> int:
        """Reduce up to `max_lines` more lines (default one keyframe's worth) from the frontier,
        recording bad lines and keyframes; return the lines reduced. Only complete lines are taken:
        the tail may still be being written."""
        with self._lock:
            stop = self.index.lines_indexed if until is None else min(until, self.index.lines_indexed)
            stop = min(stop, self._frontier + (max_lines or self.keyframe_every))
            start = self._frontier
            if stop <= start:
                return 0
            folder = Folder(self._frontier_state)
            every = self.keyframe_every
            position = start
            for index, raw in self.index.iter_lines(start, stop):
                found = decode_for_fold(raw, False)
                if found is None:
                    pass
                elif type(found) is BadLine:
                    found.line = index + 1
                    self._bad.append(found)
                else:
                    folder.add(found)  # type: ignore[arg-type]
                    self.events_decoded += 1
                    if type(found) is ev.UnknownEvent:
                        self.unknown_events += 1
                    elif type(found) is ev.Resumed:
                        self._resumes.append(index + 1)
                position = index + 1
                due = position % every == 0 or (
                    type(found) is ev.Resumed and position - self._positions[-1] >= every // RESUME_KEYFRAME_GAP
                )
                if due and position > self._positions[-1]:
                    self._add_keyframe(freeze(folder.flush(), position, self._keyframes[-1]))  # type: ignore[arg-type]
                    every = self.keyframe_every
            folder.flush()
            self._frontier = position
            return position - start

    def keyframe_at_or_before(self, position: int) -> int:
        """The position of the last keyframe laid at or before `position` (0: the empty state)."""
        with self._lock:
            return self._positions[bisect.bisect_right(self._positions, position) - 1]

    def last_resume_in(self, start: int, stop: int) -> int | None:
        """The position just after the last `resumed` line on lines [start, stop), if the frontier has
        passed one there: the state at that position is the line's snapshot, whatever came before it."""
        with self._lock:
            at = bisect.bisect_right(self._resumes, stop) - 1
            return self._resumes[at] if at >= 0 and self._resumes[at] > start else None

    def _add_keyframe(self, keyframe: Keyframe) -> None:
        self._keyframes.append(keyframe)
        self._positions.append(keyframe.position)
        self._keyframe_bytes += keyframe.bytes
        if self._keyframe_bytes > self.keyframe_budget:
            # The running sum counts records the frontier may still hold: count exactly before thinning.
            self._keyframe_bytes = keyframe_only_bytes(self._keyframes, self._frontier_state)
        while self._keyframe_bytes > self.keyframe_budget and len(self._keyframes) > 2:
            self.keyframe_every *= 2
            kept: list[Keyframe] = []
            for each in self._keyframes:
                if (
                    each.position % self.keyframe_every == 0
                    or each.position - kept[-1].position >= self.keyframe_every // RESUME_KEYFRAME_GAP
                ):
                    kept.append(each)
            self._keyframes = kept
            self._positions = [each.position for each in kept]
            self._keyframe_bytes = keyframe_only_bytes(self._keyframes, self._frontier_state)

    def build_keyframes(self, progress_cb: Callable[[int, int], None] | None = None) -> None:
        """Advance the frontier to the end of the indexed lines."""
        while self._frontier < self.index.lines_indexed:
            self.advance_keyframes()
            if progress_cb is not None:
                progress_cb(self._frontier, self.index.lines_indexed)

    def state_at(self, position: int) -> OrchestrationState:
        """A fresh state after the first `position` lines: the nearest keyframe, then the reducer."""
        position = max(0, min(position, self.length))
        complete_lines = min(position, self.index.lines_indexed)
        with self._lock:
            while self._frontier < complete_lines:
                self.advance_keyframes(until=complete_lines, max_lines=complete_lines - self._frontier)
            at_frontier = complete_lines == self._frontier
            if at_frontier:
                # A keyframe of the frontier, not kept: the state built from it shares its records.
                snapshot = freeze(self._frontier_state, complete_lines, self._keyframes[-1])
                state: OrchestrationState = thaw(snapshot)
                base_position = complete_lines
        if not at_frontier:
            state, base_position = self._restore(complete_lines)
        return self.fold(state, base_position, position)

    def fold(self, state: OrchestrationState, start: int, stop: int) -> OrchestrationState:
        """Reduce the events on lines [start, stop) into `state` (in place) and return it: the fast
        path, for when only the state is wanted (no events are built for agent_log lines)."""
        return Folder(state).fold_raw(raw for _, raw in self.index.iter_lines(start, stop))

    def _restore(self, position: int) -> tuple[OrchestrationState, int]:
        """A state built from the last keyframe at or before `position`, and the keyframe's position."""
        with self._lock:
            keyframe = self._keyframes[bisect.bisect_right(self._positions, position) - 1]
        return thaw(keyframe), keyframe.position

    # bad lines

    @property
    def bad_lines(self) -> list[BadLine]:
        """Bad lines the frontier has passed, plus a torn tail."""
        found = list(self._bad)
        if self.index.has_tail and self._frontier >= self.index.lines_indexed:
            tail = self.line_at(self.index.lines_indexed)
            if isinstance(tail, BadLine):
                found.append(tail)
        return found

    # marks

    def marks(self, kinds: tuple[str, ...] = MARK_KINDS) -> list[Mark]:
        """Checkpoints, failures and escalations in the indexed lines, in order."""
        self._check_candidates()
        return [mark for mark in self._marks if mark.kind in kinds]

    def _check_candidates(self) -> None:
        with self._lock:
            for pattern, found in self.index.candidates.items():
                done = self._checked.get(pattern, 0)
                upto = len(found)  # the indexing thread may append meanwhile: check exactly these
                kind = MARK_PATTERNS.get(pattern)
                also = MARK_EVENT_TYPES.get(pattern)
                for index in found[done:upto]:
                    raw = self.index.line(index)
                    if also is not None and also not in raw:
                        continue
                    found_event = self._decode(index, raw)
                    mark = mark_for(index, found_event if isinstance(found_event, ev._Event) else None)
                    if mark is not None and mark.kind == kind:
                        bisect.insort(self._marks, mark, key=lambda m: (m.position, m.kind))
                self._checked[pattern] = upto

    def next_mark(self, position: int, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        """The first mark of `kinds` after `position` (n)."""
        for mark in self.marks(kinds):
            if mark.position > position:
                return mark
        return None

    def previous_mark(self, position: int, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        """The last mark of `kinds` before `position` (N)."""
        found = None
        for mark in self.marks(kinds):
            if mark.position >= position:
                break
            found = mark
        return found

    # positions, seqs and time

    def next_event_position(self, position: int) -> int | None:
        """The position just after the next valid event beyond `position` (skipping bad lines)."""
        for index, _ in self.iter_events(position, self.length):
            return index + 1
        return None

    def previous_event_position(self, position: int, count: int = 1) -> int:
        """The position `count` valid events back from `position`: just after the event before the
        last one undone (0 at the start), skipping bad lines."""
        index = min(position, self.length) - 1
        while index >= 0 and count > 0:
            if self.event_at(index) is not None:
                count -= 1
            index -= 1
        while index >= 0 and self.event_at(index) is None:
            index -= 1
        return index + 1

    def position_of_seq(self, seq: int) -> int:
        """The position after the last event whose `seq` is at most `seq` (seqs rise through a log).

        A binary search over lines: only a few dozen lines are decoded, whatever the log's size."""
        low, high = 0, self.length
        while low < high:
            middle = (low + high) // 2
            event, index = self._event_near(middle, low, high)
            if event is None:
                high = middle
            elif event.seq <= seq:
                low = index + 1
            else:
                high = middle
        return low

    def _event_near(self, index: int, low: int, high: int) -> tuple[ev.Event | None, int]:
        """The first valid event at or after `index` within [low, high), and its line."""
        for found, event in self.iter_events(index, high):
            return event, found
        return None, index

    def last_seq(self) -> int:
        """The seq of the last valid event in the indexed lines (0 if none)."""
        index = self.length - 1
        while index >= 0:
            event = self.event_at(index)
            if event is not None:
                return event.seq
            index -= 1
        return 0

    def delay_between(self, start: int, stop: int, max_gap: float | None = None) -> float:
        """Log seconds from position `start` to `stop`: the gaps between consecutive events, each
        capped at `max_gap` (the model's by default); a clock that went backwards counts as no gap."""
        cap = self.max_gap if max_gap is None else max_gap
        previous = self._ts_at_or_before(start - 1)
        total = 0.0
        for _, event in self.iter_events(start, stop):
            if previous is not None:
                total += min(max(0.0, event.ts - previous), cap)
            previous = event.ts
        return total

    def _ts_at_or_before(self, index: int) -> float | None:
        while index >= 0:
            event = self.event_at(index)
            if event is not None:
                return event.ts
            index -= 1
        return None

    def report(self, target_seq: int | None = None, reached_seq: int = 0) -> ReplayReport:
        return ReplayReport(
            path=str(self.index.path),
            lines_total=self.length,
            lines_read=self._frontier,
            events=self.events_decoded,
            unknown_events=self.unknown_events,
            bad_lines=self.bad_lines,
            target_seq=target_seq,
            reached_seq=reached_seq,
            last_seq=self.last_seq(),
        )
