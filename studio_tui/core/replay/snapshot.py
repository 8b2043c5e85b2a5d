"""Where to start folding: the nearest state snapshot a log carries, found without reading all of it.

A `resumed` event carries the whole state it resumed from, and the reducer's state after it depends on
nothing before it (the snapshot replaces every field). So the state after the last `resumed` line at or
before a seq is that line's snapshot plus the lines after it: a fold may start there. Seqs rise through
a log (a resume continues from the last seq), so the line where a seq is passed is found by a binary
search over byte offsets, reading a few line starts; the snapshot by searching bytes backwards from
there. Memory stays a block or two whatever the log's size.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from .. import events as ev
from .codec import _decode_raw

SEARCH_BLOCK_BYTES = 1 << 20
"""Bytes read per step while searching backwards for a `resumed` line."""

MAX_SNAPSHOT_CANDIDATES = 64
"""Byte matches checked by decoding before giving up and folding from the start (a match that is not
a real `resumed` event is text inside some other event: rare, but a hostile log may be full of them)."""

PROBE_LINES = 16
"""Lines tried after a probe point whose start does not give a seq, before the search stops narrowing."""

_SEQ_AT_START = re.compile(rb'\{\s*"seq"\s*:\s*(\d{1,19})\s*,')
_RESUMED = b'"type":"resumed"'
_PREFIX_BYTES = 64


@dataclass(frozen=True)
class StartPoint:
    """Where a fold starts: byte `offset` of a line start, and the `resumed` event there (or None: the
    start of the file, an empty state)."""

    offset: int
    event: ev.Resumed | None = None
    end: int = 0
    """Byte offset just after the resumed line (where the fold goes on), or 0."""


def _line_start_after(fd: int, position: int, size: int) -> int:
    """The offset of the first line starting after byte `position` (size if none)."""
    while position < size:
        block = os.pread(fd, min(SEARCH_BLOCK_BYTES, size - position), position)
        if not block:
            break
        newline = block.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(block)
    return size


def _seq_of_line_at(fd: int, offset: int, size: int) -> tuple[int | None, int]:
    """The seq of the first line from `offset` whose start shows one (up to PROBE_LINES lines), and
    that line's offset; (None, offset) if none does."""
    for _ in range(PROBE_LINES):
        if offset >= size:
            return None, offset
        prefix = os.pread(fd, _PREFIX_BYTES, offset)
        found = _SEQ_AT_START.match(prefix)
        if found is not None:
            return int(found.group(1)), offset
        offset = _line_start_after(fd, offset, size)
    return None, offset


def offset_past_seq(fd: int, size: int, seq: int) -> int:
    """A line start at or before the first line whose seq is above `seq` (`size` if none is): every
    line before it has a seq at most `seq`, as far as line starts tell."""
    low, high = 0, size
    while high - low > SEARCH_BLOCK_BYTES:
        middle = _line_start_after(fd, (low + high) // 2, size)
        found, at = _seq_of_line_at(fd, middle, size)
        if found is None or at >= high:
            break  # no readable seq in reach: keep what is known
        if found > seq:
            high = at
        else:
            low = at + 1
    return high


def find_start(fd: int, size: int, seq: int | None = None) -> StartPoint:
    """The last `resumed` line whose seq is at most `seq` (any, if None) before byte `size`, or the start.

    Searches backwards from where `seq` is passed; each byte match is decoded and must be a `Resumed`
    event, so text that merely looks like one is skipped."""
    end = size if seq is None else offset_past_seq(fd, size, seq)
    tries = 0
    position = end
    overlap = len(_RESUMED) - 1
    while position > 0 and tries < MAX_SNAPSHOT_CANDIDATES:
        start = max(0, position - SEARCH_BLOCK_BYTES)
        block = os.pread(fd, min(position + overlap, end) - start, start)
        hit = block.rfind(_RESUMED)
        while hit >= 0 and tries < MAX_SNAPSHOT_CANDIDATES:
            tries += 1
            at = start + hit
            line_start = _line_start_before(fd, at)
            line_end = _line_start_after(fd, at, size)
            raw = os.pread(fd, line_end - line_start, line_start)
            complete = raw.endswith(b"\n")
            found = _decode_raw(raw[:-1] if complete else raw, False)
            if complete and isinstance(found, ev.Resumed) and (seq is None or found.seq <= seq):
                return StartPoint(line_start, found, line_end)
            if line_start <= start:
                hit = -1
                position = line_start
                break
            hit = block.rfind(_RESUMED, 0, line_start - start)
        else:
            position = start
    return StartPoint(0)


def _line_start_before(fd: int, position: int) -> int:
    """The offset where the line holding byte `position` starts."""
    while position > 0:
        start = max(0, position - SEARCH_BLOCK_BYTES)
        block = os.pread(fd, position - start, start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def count_lines(fd: int, end: int) -> int:
    """Newlines in bytes [0, end): the 0-based line index of a line starting at `end`."""
    count = 0
    position = 0
    while position < end:
        block = os.pread(fd, min(4 * SEARCH_BLOCK_BYTES, end - position), position)
        if not block:
            break
        count += block.count(b"\n")
        position += len(block)
    return count
