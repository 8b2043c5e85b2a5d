"""Reading a log front to back in blocks, and its last event from the back: no index, bounded memory.

For one pass over a log (the headless `replay --to N`, a watch catching up) the offset index is not
needed: lines come a block at a time, and only what was asked for is read. Memory is one block plus
the longest line.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import BinaryIO

from .. import events as ev
from .. import safefile
from ..store.eventlog import MAX_LINE_BYTES, TOO_LONG, BadLine
from .codec import _decode_raw

STREAM_BLOCK_BYTES = 1 << 20
"""Bytes read per `read` when streaming: few syscalls, little memory."""

FIRST_STREAM_BLOCK_BYTES = 64 << 10
"""The first read is small: `replay --to 1` needs one line, not a megabyte."""

BACK_BLOCK_BYTES = 64 << 10
"""Bytes read per step when looking for the last event from the end of the file."""


def open_log(path: Path | str, kind: safefile.Kind = safefile.NAMED_LOG) -> BinaryIO:
    """An unbuffered binary handle on a log: a regular file, never a FIFO (a log the person named on
    the command line may be reached through a link; a workspace's own logs are checked on the way in)."""
    return os.fdopen(safefile.open_read(Path(path), kind), "rb", buffering=0)


def iter_file_lines(path: Path | str, start: int = 0) -> Iterator[tuple[int, bytes, bool]]:
    """(0-based line index from `start`, bytes without newline, is_tail) for each line from byte `start`.

    `is_tail` marks bytes after the last newline (a line being written, or torn by a crash). A line
    longer than MAX_LINE_BYTES comes as the `TOO_LONG` marker, never held in memory (as `read_log`)."""
    with open_log(path) as handle:
        handle.seek(start)
        pending = bytearray()
        skipping = False
        index = 0
        block = FIRST_STREAM_BLOCK_BYTES
        while True:
            data = handle.read(block)
            block = STREAM_BLOCK_BYTES
            if not data:
                break
            end = data.rfind(b"\n")
            if end < 0:
                if not skipping:
                    pending += data  # a line longer than a block: read on (appending, not re-copying)
                    if len(pending) > MAX_LINE_BYTES:
                        pending.clear()
                        skipping = True
                continue
            first = data.find(b"\n")
            if skipping or pending:
                too_long = skipping or len(pending) + first > MAX_LINE_BYTES
                yield index, TOO_LONG if too_long else bytes(pending + data[:first]), False
                index += 1
                pending.clear()
                skipping = False
                if first < end:
                    for raw in data[first + 1 : end].split(b"\n"):
                        yield index, raw, False
                        index += 1
            else:
                for raw in data[:end].split(b"\n"):
                    yield index, raw, False
                    index += 1
            pending += data[end + 1 :]
        if skipping:
            yield index, TOO_LONG, True
        elif pending:
            yield index, bytes(pending), True


def decode_stream_line(index: int, raw: bytes, tail: bool) -> ev.Event | BadLine | None:
    """The event on a streamed line, a BadLine numbered from 1, or None for a blank line."""
    found = _decode_raw(raw, tail)
    if isinstance(found, BadLine):
        found.line = index + 1
    return found


def events_backwards(
    path: Path | str, *, max_bytes: int | None = None, kind: safefile.Kind = safefile.NAMED_LOG
) -> Generator[ev.Event, None, None]:  # a generator: callers close it
    """The valid events of a log from its end backwards (torn or bad lines skipped; a line longer than
    MAX_LINE_BYTES is passed over, never held), reading at most the last `max_bytes` bytes when given:
    a look at a run's latest events costs what it reads."""
    with open_log(path, kind) as handle:
        end = handle.seek(0, os.SEEK_END)
        floor = 0 if max_bytes is None else max(0, end - max_bytes)
        carry: list[bytes] = []
        carried = 0
        while end > floor:
            start = max(floor, end - BACK_BLOCK_BYTES)
            handle.seek(start)
            block = handle.read(end - start)
            end = start
            if b"\n" not in block and start > 0:
                carried += len(block)
                if carried <= MAX_LINE_BYTES:
                    carry.append(block)
                continue
            lines = (block + b"".join(reversed(carry))).split(b"\n") if carried <= MAX_LINE_BYTES else [*block.split(b"\n")[:-1], b""]
            carry, carried = [], 0
            # the first piece may be the end of a longer line: keep it for the next block (unless at 0)
            if start > 0:
                first = lines.pop(0)
                carry, carried = [first], len(first)
            for raw in reversed(lines):
                found = _decode_raw(raw, False) if raw.strip() else None
                if isinstance(found, ev._Event):
                    yield found


def last_event(path: Path | str) -> ev.Event | None:
    """The last valid event of a log, read from its end backwards (see `events_backwards`)."""
    events = events_backwards(path)
    try:
        return next(events, None)
    finally:
        events.close()
