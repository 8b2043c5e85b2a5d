"""Replay a run's `events.jsonl`: a byte-offset index over a memory map, keyframes, marks and a player.

`LogIndex` only finds where lines start (newline bytes in an mmap); nothing is decoded until asked.
`ReplayModel` decodes lines on demand, keeps keyframes (compressed state snapshots every K lines) so
the state at any position is a keyframe plus at most K-1 lines through the reducer, and finds the
timeline's marks. `Player` is the transport (play, speed, step, marks) over a model. None of them
know about a UI: a front end runs `index_chunk`/`advance_keyframes` in a thread worker and asks for
states, events and marks.

A *position* counts lines, not events: position `p` is the state after the first `p` lines (bad and
blank lines contribute nothing). Positions are known from the index alone, before any line is decoded;
in a clean log (the normal case) position `p` is simply "after event p".
"""

from __future__ import annotations

import bisect
import math
import mmap
import os
import re
import threading
import zlib
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from . import events as ev
from . import safefile
from .reducer import apply
from .state import OrchestrationState
from .store.eventlog import BadLine

# ── tuning ───────────────────────────────────────────────────────────────

INDEX_CHUNK_BYTES = 4 << 20
"""Bytes scanned per `index_chunk()`: ~20k lines in ~5 ms, so a worker reports progress often and the
first chunk alone holds the first frame."""

READ_BLOCK_BYTES = 1 << 20
"""Most bytes fetched by one `pread` when decoding a run of lines: few syscalls, bounded memory even
when single lines are huge (a `resumed` event carries a whole state)."""

FIRST_BLOCK_BYTES = 16 << 10
"""Bytes fetched by the first `pread` of a run of lines: enough for ~80 typical lines, cheap when a
caller (the player, a seq search) only wants the next one."""

KEYFRAME_EVERY = 1000
"""Lines between keyframes: a seek decodes and reduces at most 999 lines (~8 ms at ~8 µs a line),
which keeps the median seek well under 20 ms, while 1M lines need only 1000 snapshots."""

KEYFRAME_BUDGET_BYTES = 96 << 20
"""Compressed keyframe bytes kept at most; past it every other keyframe is dropped and the spacing
doubles, so a log whose state grows huge costs slower seeks, never unbounded memory."""

KEYFRAME_COMPRESSION = 1
"""zlib level for keyframes: snapshots of similar records shrink ~6x at level 1 and inflate in about
a millisecond even for a big state; higher levels buy little for much more time."""

MAX_GAP_S = 2.0
"""Longest pause replay plays between two events (log seconds, before the speed factor): a person
answering an escalation for ten minutes still reads as a pause, not a frozen screen."""

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
"""Playback speeds `+`/`-` step through; `inf` plays as fast as the reducer allows."""

MAX_LINES_PER_ADVANCE = 2000
"""Most lines one `Player.advance()` plays (~15 ms of reducing), so at high speed a frame still leaves
time to paint; playback then runs as fast as the frames allow."""

MARK_KINDS = ("checkpoint", "failure", "escalation")

_MARK_PATTERNS: dict[bytes, str] = {
    b'"checkpoint_saved"': "checkpoint",
    b'"agent_failed"': "failure",
    b'"escalation"': "escalation",
}
"""Byte patterns that find mark candidates without decoding: an unescaped quoted token can only be a
JSON key or value (quotes inside strings are escaped), and every candidate is checked by decoding."""

_NEWLINE = re.compile(b"\n")
_MATCH_END = re.Match.end
_KNOWN_EVENT: TypeAdapter[Any] = TypeAdapter(ev.KnownEvent)
_VALIDATE_JSON = _KNOWN_EVENT.validator.validate_json


def decode_line(raw: bytes) -> ev.Event:
    """`events.decode`, two to three times faster on a well-formed known event.

    Parses and validates in one pass (pydantic-core) and falls back to `decode` on any problem, so
    unknown types and the reasons given for bad lines are exactly `decode`'s."""
    try:
        return _VALIDATE_JSON(raw)
    except ValidationError:
        return ev.decode(raw)


def _decode_raw(raw: bytes, torn: bool) -> ev.Event | BadLine | None:
    """The event on a line, a BadLine (line number 0: the caller sets it), or None for a blank line."""
    try:
        return _VALIDATE_JSON(raw)  # the common case first: no copies, no checks
    except ValidationError:
        pass
    if not raw.strip():
        return None
    try:
        return ev.decode(raw)
    except ev.EventDecodeError as exc:
        return BadLine(0, f"torn last line ({exc})" if torn else str(exc))


# ── the index ────────────────────────────────────────────────────────────


class LogIndex:
    """Line start offsets of a JSONL file, found by scanning newline bytes in a memory map.

    `offsets[i]` is where line `i` starts and `offsets[i + 1]` where the next one starts, so
    `offsets` always holds one entry more than there are complete (newline-ended) lines. Bytes after
    the last newline are the *tail*: a line still being written, or torn by a crash. The index is
    usable while partly built (`lines_indexed`, `complete`) and follows a growing file (`refresh`).
    Scanning and reading may happen on different threads; scanning itself is serialised.
    """

    def __init__(self, path: Path | str, *, mark_patterns: tuple[bytes, ...] = tuple(_MARK_PATTERNS)) -> None:
        self.path = Path(path)
        self._fd = safefile.open_read(self.path, safefile.NAMED_LOG)
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self.mark_patterns = mark_patterns
        self.resets = 0
        """Times the file shrank or was replaced, and the index started over."""
        self._reset()

    def _reset(self) -> None:
        stat = os.fstat(self._fd)
        self._inode = stat.st_ino
        self.size = stat.st_size
        self.offsets = array("Q", [0])
        self._searched = 0
        self.candidates: dict[bytes, list[int]] = {pattern: [] for pattern in self.mark_patterns}
        """Line indexes whose bytes contain a mark pattern, in order (not yet checked)."""

    # size and progress

    @property
    def lines_indexed(self) -> int:
        """Complete (newline-ended) lines found so far."""
        return len(self.offsets) - 1

    @property
    def scanned(self) -> int:
        """Bytes up to and including the last newline found."""
        return self.offsets[-1]

    @property
    def complete(self) -> bool:
        """Whether the file, as big as it was at the last `refresh`, has been scanned to its end."""
        return self._searched >= self.size

    @property
    def has_tail(self) -> bool:
        """Whether bytes follow the last newline (known once the scan is complete)."""
        return self.complete and self.size > self.scanned

    @property
    def line_count(self) -> int:
        """Lines known so far: the complete ones, plus the tail once the scan has reached it."""
        return self.lines_indexed + (1 if self.has_tail else 0)

    @property
    def progress(self) -> float:
        """Fraction of the file scanned, 0.0 to 1.0."""
        return 1.0 if self.size == 0 else min(1.0, self._searched / self.size)

    # scanning

    def _mapping(self) -> mmap.mmap:
        if self._map is None or len(self._map) < self.size:
            if self._map is not None:
                self._map.close()
            self._map = mmap.mmap(self._fd, self.size, access=mmap.ACCESS_READ)
        return self._map

    def index_chunk(self, max_bytes: int = INDEX_CHUNK_BYTES) -> int:
        """Scan up to `max_bytes` more of the file for newlines; return how many lines were found."""
        with self._lock:
            if self._searched >= self.size:
                return 0
            mapped = self._mapping()
            start = self._searched
            end = min(self.size, start + max_bytes)
            before = len(self.offsets)
            # The regex loop runs in C: ~3x faster than calling mmap.find once a line from Python.
            self.offsets.extend(map(_MATCH_END, _NEWLINE.finditer(mapped, start, end)))
            lines_from, lines_to = self.offsets[before - 1], self.offsets[-1]
            if lines_to > lines_from:
                self._find_candidates(mapped, lines_from, lines_to, before - 1)
            self._release(start, end)
            self._searched = end
            return len(self.offsets) - before

    def _find_candidates(self, mapped: mmap.mmap, start: int, end: int, first_line: int) -> None:
        """Record lines in [start, end) (whole lines only) holding a mark pattern."""
        offsets = self.offsets
        for pattern, found in self.candidates.items():
            at = mapped.find(pattern, start, end)
            while at != -1:
                line = bisect.bisect_right(offsets, at, first_line) - 1
                if not found or found[-1] != line:
                    found.append(line)
                at = mapped.find(pattern, offsets[line + 1], end)

    def _release(self, start: int, end: int) -> None:
        """Drop scanned pages from this process's resident set (they stay in the page cache)."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        first = start - start % mmap.PAGESIZE
        try:
            self._map.madvise(mmap.MADV_DONTNEED, first, end - first)
        except (OSError, ValueError):
            pass

    def build(self, progress_cb: Callable[[int, int], None] | None = None, *, max_bytes: int = INDEX_CHUNK_BYTES) -> int:
        """Scan to the end of the file, calling `progress_cb(bytes_scanned, size)` after each chunk."""
        while not self.complete:
            self.index_chunk(max_bytes)
            if progress_cb is not None:
                progress_cb(self._searched, self.size)
        return self.lines_indexed

    def refresh(self) -> int:
        """Look at the file's size again and index what was appended; return the new complete lines.

        A file that shrank or was replaced (another inode) is indexed again from the start."""
        with self._lock:
            try:
                on_disk = os.stat(self.path)
            except FileNotFoundError:
                on_disk = None
            if on_disk is not None and on_disk.st_ino != self._inode:
                os.close(self._fd)
                self._fd = safefile.open_read(self.path, safefile.NAMED_LOG)
                self._drop_map()
                self._reset()
                self.resets += 1
            else:
                size = os.fstat(self._fd).st_size
                if size < self.scanned:
                    self._drop_map()
                    self._reset()
                    self.resets += 1
                else:
                    self.size = size
        before = self.lines_indexed
        self.build()
        return self.lines_indexed - before

    def _drop_map(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    # reading

    def span(self, index: int) -> tuple[int, int]:
        """Byte range of line `index` without its newline; the tail when `index == lines_indexed`."""
        offsets = self.offsets
        if 0 <= index < len(offsets) - 1:
            return offsets[index], offsets[index + 1] - 1
        if index == len(offsets) - 1 and self.has_tail:
            return offsets[index], self.size
        raise IndexError(f"line {index} is not indexed ({self.line_count} lines so far)")

    def line(self, index: int) -> bytes:
        """The bytes of line `index` (0-based, newline excluded), read with `os.pread`."""
        start, end = self.span(index)
        return os.pread(self._fd, end - start, start)

    def tail(self) -> bytes:
        """Bytes after the last newline (empty if none, or if the scan has not reached the end)."""
        return self.line(self.lines_indexed) if self.has_tail else b""

    def iter_lines(self, start: int, stop: int) -> Iterator[tuple[int, bytes]]:
        """(index, bytes) for lines [start, stop), fetched a block at a time.

        The first block is small (callers often want one line) and later ones double up to
        READ_BLOCK_BYTES; a line longer than a block comes in a block of its own."""
        offsets = self.offsets
        complete = len(offsets) - 1
        stop = min(stop, self.line_count)
        index = max(0, start)
        block_bytes = FIRST_BLOCK_BYTES
        while index < stop:
            if index >= complete:
                yield index, self.line(index)
                return
            last = min(stop, complete)
            block_start = offsets[index]
            fits = bisect.bisect_right(offsets, block_start + block_bytes, index + 1, last + 1) - 1
            fits = max(fits, index + 1)
            block = os.pread(self._fd, offsets[fits] - block_start, block_start)
            for current in range(index, fits):
                yield current, block[offsets[current] - block_start : offsets[current + 1] - 1 - block_start]
            index = fits
            block_bytes = min(block_bytes * 2, READ_BLOCK_BYTES)

    def line_of_offset(self, offset: int) -> int:
        """The line index holding byte `offset`."""
        return bisect.bisect_right(self.offsets, offset) - 1

    def close(self) -> None:
        with self._lock:
            self._drop_map()
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "LogIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ── the model ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Mark:
    """A point on the timeline: a checkpoint, a failure or an escalation."""

    kind: str
    position: int
    """The position just after the event, so `state_at(position)` shows it."""
    line: int
    """1-based line number in the file."""
    seq: int
    label: str


@dataclass
class ReplayReport:
    """What a replay read: bad lines (1-based numbers and why), unknown event types, how far it got."""

    path: str
    lines_total: int
    lines_read: int
    events: int
    unknown_events: int
    bad_lines: list[BadLine] = field(default_factory=list)
    target_seq: int | None = None
    reached_seq: int = 0
    last_seq: int = 0

    @property
    def torn_tail(self) -> bool:
        return bool(self.bad_lines) and self.bad_lines[-1].reason.startswith("torn")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "lines_total": self.lines_total,
            "lines_read": self.lines_read,
            "events": self.events,
            "unknown_events": self.unknown_events,
            "bad_lines": [{"line": bad.line, "reason": bad.reason} for bad in self.bad_lines],
            "torn_tail": self.torn_tail,
            "target_seq": self.target_seq,
            "reached_seq": self.reached_seq,
            "last_seq": self.last_seq,
        }


def _freeze(state: OrchestrationState) -> bytes:
    return zlib.compress(state.model_dump_json(by_alias=True).encode("utf-8"), KEYFRAME_COMPRESSION)


def _thaw(blob: bytes) -> OrchestrationState:
    return OrchestrationState.model_validate_json(zlib.decompress(blob))


def _copy(state: OrchestrationState) -> OrchestrationState:
    """A deep copy through JSON: several times faster than `model_copy(deep=True)` on a big state."""
    try:
        return OrchestrationState.model_validate_json(state.model_dump_json(by_alias=True))
    except ValidationError:
        return state.model_copy(deep=True)


class ReplayModel:
    """Lazily decoded events, keyframes, marks and timing over a `LogIndex`.

    Keyframes are built in order by `advance_keyframes`, from a "frontier" that reduces every line
    once; a front end calls it from a background worker after the index, and `state_at` builds any
    it needs first. Decoding 1M events takes seconds, far past the index's budget, so it is not done
    while indexing: the first frame and seeks near the start are immediate, and seeks further on get
    fast as the frontier passes them. Keyframes are compressed JSON snapshots: a snapshot restores in
    milliseconds even for a big state, and a thousand of them fit in tens of megabytes.

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
        self._keyframes: list[bytes | None] = [_freeze(OrchestrationState())]
        self._keyframe_bytes = len(self._keyframes[0] or b"")
        self._frontier = 0
        self._frontier_state = OrchestrationState()
        self._bad: list[BadLine] = []
        self.unknown_events = 0
        self.events_decoded = 0
        self._marks: list[Mark] = []
        self._checked: dict[bytes, int] = {pattern: 0 for pattern in self.index.candidates}

    @classmethod
    def open(cls, path: Path | str, **kw: Any) -> "ReplayModel":
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
            state = self._frontier_state
            every = self.keyframe_every
            position = start
            known = ev._Event
            for index, raw in self.index.iter_lines(start, stop):
                found = _decode_raw(raw, False)
                if isinstance(found, known):
                    apply(state, found)
                    self.events_decoded += 1
                    if type(found) is ev.UnknownEvent:
                        self.unknown_events += 1
                elif found is not None:
                    found.line = index + 1
                    self._bad.append(found)
                position = index + 1
                if position % every == 0 and position // every == len(self._keyframes):
                    self._add_keyframe(_freeze(state))
                    every = self.keyframe_every
            self._frontier = position
            return position - start

    def _add_keyframe(self, blob: bytes) -> None:
        self._keyframes.append(blob)
        self._keyframe_bytes += len(blob)
        if self._keyframe_bytes > self.keyframe_budget and len(self._keyframes) > 2:
            self._keyframes = self._keyframes[::2]
            self.keyframe_every *= 2
            self._keyframe_bytes = sum(len(k or b"") for k in self._keyframes)

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
                state, base_position = _copy(self._frontier_state), complete_lines
        if not at_frontier:
            state, base_position = self._restore(complete_lines)
        for _, event in self.iter_events(base_position, position):
            apply(state, event)
        return state

    def _restore(self, position: int) -> tuple[OrchestrationState, int]:
        """The state of the last keyframe at or before `position`, and the keyframe's position."""
        while True:
            with self._lock:
                slot = min(position // self.keyframe_every, len(self._keyframes) - 1)
                while self._keyframes[slot] is None:
                    slot -= 1
                blob, base_position, every = self._keyframes[slot], slot * self.keyframe_every, self.keyframe_every
            try:
                return _thaw(blob), base_position  # type: ignore[arg-type]
            except ValidationError:
                # A snapshot that does not load back (say a NaN from the log): forget it, go further back.
                with self._lock:
                    if every == self.keyframe_every and slot > 0:
                        self._keyframes[slot] = None

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
                kind = _MARK_PATTERNS.get(pattern)
                for index in found[done:upto]:
                    mark = self._mark_for(index, self.event_at(index))
                    if mark is not None and mark.kind == kind:
                        bisect.insort(self._marks, mark, key=lambda m: (m.position, m.kind))
                self._checked[pattern] = upto

    @staticmethod
    def _mark_for(index: int, event: ev.Event | None) -> Mark | None:
        position, line = index + 1, index + 1
        if isinstance(event, ev.CheckpointSaved):
            return Mark("checkpoint", position, line, event.seq, event.name)
        if isinstance(event, ev.AgentFailed):
            where = f" step {event.step}" if event.step is not None else ""
            return Mark("failure", position, line, event.seq, f"{event.agent}{where}: {event.category}: {event.message}")
        if isinstance(event, ev.DecisionRequested) and event.kind == "escalation":
            return Mark("escalation", position, line, event.seq, event.prompt)
        return None

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


# ── the player ───────────────────────────────────────────────────────────


class Player:
    """Transport over a model: a position, a state kept in step with it, play/pause, speed, marks.

    Forward moves reduce the events in between into the current state; backward moves and jumps go
    through `state_at` (a keyframe and at most K lines). A front end calls `advance(elapsed)` from a
    fixed-rate timer while playing and repaints from `state`.
    """

    def __init__(self, model: ReplayModel, *, speed: float = 1.0) -> None:
        self.model = model
        self.position = 0
        self.state = OrchestrationState()
        self.playing = False
        self.speed_index = SPEEDS.index(speed)
        self._credit = 0.0
        self._last_ts: float | None = None

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    @property
    def at_end(self) -> bool:
        return self.position >= self.model.length and self.model.index.complete

    def faster(self) -> float:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)
        return self.speed

    def slower(self) -> float:
        self.speed_index = max(self.speed_index - 1, 0)
        return self.speed

    def toggle(self) -> bool:
        """Play or pause; playing from the end starts over."""
        if not self.playing and self.at_end:
            self.seek(0)
        self.playing = not self.playing
        self._credit = 0.0
        return self.playing

    def seek(self, position: int) -> OrchestrationState:
        """Jump to a position (clamped) and rebuild the state there."""
        self.position = max(0, min(position, self.model.length))
        self.state = self.model.state_at(self.position)
        self._last_ts = self.model._ts_at_or_before(self.position - 1)
        self._credit = 0.0
        return self.state

    def _forward(self, count: int) -> int:
        """Play up to `count` events forward into the state; return how many."""
        played = 0
        if count <= 0:
            return played
        for index, event in self.model.iter_events(self.position, self.model.length):
            apply(self.state, event)
            self.position = index + 1
            self._last_ts = event.ts
            played += 1
            if played >= count:
                break
        else:
            self.position = self.model.length
        return played

    def step(self, count: int = 1) -> OrchestrationState:
        """Move `count` events (negative: back), skipping bad lines."""
        if count >= 0:
            self._forward(count)
        else:
            self.seek(self.model.previous_event_position(self.position, -count))
        return self.state

    def home(self) -> OrchestrationState:
        return self.seek(0)

    def end(self) -> OrchestrationState:
        return self.seek(self.model.length)

    def next_mark(self, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        mark = self.model.next_mark(self.position, kinds)
        if mark is not None:
            self.seek(mark.position)
        return mark

    def previous_mark(self, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        mark = self.model.previous_mark(self.position, kinds)
        if mark is not None:
            self.seek(mark.position)
        return mark

    def delay_to_next(self) -> float | None:
        """Wall seconds until the next event at the current speed (0 as fast as possible), None at the end."""
        for _, event in self.model.iter_events(self.position, self.model.length):
            if math.isinf(self.speed):
                return 0.0
            gap = 0.0 if self._last_ts is None else min(max(0.0, event.ts - self._last_ts), self.model.max_gap)
            return gap / self.speed
        return None

    def advance(self, elapsed: float) -> int:
        """Play the events whose (capped, speed-scaled) time has come in `elapsed` wall seconds;
        return how many. Stops playing at the end."""
        if not self.playing:
            return 0
        if math.isinf(self.speed):
            played = self._forward(MAX_LINES_PER_ADVANCE)
        else:
            self._credit += elapsed * self.speed
            played = 0
            for index, event in self.model.iter_events(self.position, self.model.length):
                gap = 0.0 if self._last_ts is None else min(max(0.0, event.ts - self._last_ts), self.model.max_gap)
                if gap > self._credit or played >= MAX_LINES_PER_ADVANCE:
                    break
                self._credit -= gap
                apply(self.state, event)
                self.position = index + 1
                self._last_ts = event.ts
                played += 1
            else:
                self.position = self.model.length
        if self.at_end:
            self.playing = False
            self._credit = 0.0
        return played


# ── headless ─────────────────────────────────────────────────────────────


def state_at_seq(path: Path | str, seq: int | None = None) -> tuple[OrchestrationState, ReplayReport]:
    """The state after every event up to `seq` (all of them if None), and what was read on the way.

    Reads the log once in order and stops at the first event past `seq`; the report lists the bad
    lines and unknown types met up to there (`lines_read` of `lines_total`)."""
    with LogIndex(path) as index:
        index.build()
        model = ReplayModel(index)
        state = OrchestrationState()
        lines_read = 0
        events = unknown = 0
        bad: list[BadLine] = []
        for line_index, raw in index.iter_lines(0, index.line_count):
            found = model._decode(line_index, raw)
            if isinstance(found, ev._Event):
                if seq is not None and found.seq > seq:
                    break
                apply(state, found)
                events += 1
                unknown += isinstance(found, ev.UnknownEvent)
            elif found is not None:
                bad.append(found)
            lines_read = line_index + 1
        report = ReplayReport(
            path=str(index.path),
            lines_total=index.line_count,
            lines_read=lines_read,
            events=events,
            unknown_events=unknown,
            bad_lines=bad,
            target_seq=seq,
            reached_seq=state.seq,
            last_seq=model.last_seq(),
        )
    return state, report
