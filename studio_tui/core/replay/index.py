"""`LogIndex`: where every line of a JSONL file starts, found by scanning newline bytes in a memory map.

Nothing is decoded here; lines are read back by byte range (`os.pread`), a block at a time.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import os
import re
import threading
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path

from .. import safefile
from .marks import MARK_PATTERNS

INDEX_CHUNK_BYTES = 4 << 20
"""Bytes scanned per `index_chunk()`: ~20k lines in ~5 ms, so a worker reports progress often and the
first chunk alone holds the first frame."""

READ_BLOCK_BYTES = 1 << 20
"""Most bytes fetched by one `pread` when decoding a run of lines: few syscalls, bounded memory even
when single lines are huge (a `resumed` event carries a whole state)."""

FIRST_BLOCK_BYTES = 16 << 10
"""Bytes fetched by the first `pread` of a run of lines: enough for ~80 typical lines, cheap when a
caller (the player, a seq search) only wants the next one."""

LONG_LINE_BYTES = 512
"""Average line length from which newlines are found with `mmap.find` (memchr, ~0.4 µs a call) rather
than a regex (~1 ns a byte): the wide log's 1.6 KB lines index in a third of the time."""

RELEASE_MARGIN_BYTES = 1 << 20
"""Bytes before a chunk released again after scanning it: the kernel maps pages around each one read
(fault-around, larger folios), so a chunk's first reads map some of the pages before it back in."""

_NEWLINE = re.compile(b"\n")
_MATCH_END = re.Match.end


class LogIndex:
    """Line start offsets of a JSONL file, found by scanning newline bytes in a memory map.

    `offsets[i]` is where line `i` starts and `offsets[i + 1]` where the next one starts, so
    `offsets` always holds one entry more than there are complete (newline-ended) lines. Bytes after
    the last newline are the *tail*: a line still being written, or torn by a crash. The index is
    usable while partly built (`lines_indexed`, `complete`) and follows a growing file (`refresh`).
    Scanning and reading may happen on different threads; scanning itself is serialised.
    """

    def __init__(self, path: Path | str, *, mark_patterns: tuple[bytes, ...] = tuple(MARK_PATTERNS)) -> None:
        self.path = Path(path)
        self._fd = safefile.open_read(self.path, safefile.NAMED_LOG)
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self.mark_patterns = mark_patterns
        alternatives = b"|".join(re.escape(pattern) for pattern in sorted(mark_patterns, key=len, reverse=True))
        self._any_pattern = re.compile(alternatives) if mark_patterns else None
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
            self._find_newlines(mapped, start, end)
            lines_from, lines_to = self.offsets[before - 1], self.offsets[-1]
            if lines_to > lines_from:
                self._find_candidates(mapped, lines_from, lines_to, before - 1)
            # From the first line searched: a line longer than a chunk (a `resumed` state) is searched
            # whole once its end is found, pages scanned by the chunks before included.
            self._release(min(start, lines_from) - RELEASE_MARGIN_BYTES, end)
            self._searched = end
            return len(self.offsets) - before

    def _find_newlines(self, mapped: mmap.mmap, start: int, end: int) -> None:
        offsets = self.offsets
        lines = len(offsets) - 1
        if lines and offsets[-1] >= LONG_LINE_BYTES * lines:
            # Long lines: memchr from one newline to the next beats the regex's byte-by-byte scan.
            find, append = mapped.find, offsets.append
            at = find(b"\n", start, end)
            while at != -1:
                append(at + 1)
                at = find(b"\n", at + 1, end)
        else:
            # Short lines: the regex loop runs in C, ~3x faster than calling mmap.find once a line.
            offsets.extend(map(_MATCH_END, _NEWLINE.finditer(mapped, start, end)))

    def _find_candidates(self, mapped: mmap.mmap, start: int, end: int, first_line: int) -> None:
        """Record lines in [start, end) (whole lines only) holding a mark pattern: one regex pass for
        every pattern (they start with a quote, which the regex engine skips to quickly), where a
        `find` per pattern read the chunk once each."""
        if self._any_pattern is None:
            return
        offsets = self.offsets
        candidates = self.candidates
        for match in self._any_pattern.finditer(mapped, start, end):
            at = match.start()
            found = candidates[match.group()]
            line = bisect.bisect_right(offsets, at, first_line) - 1
            if not found or found[-1] != line:
                found.append(line)

    def _release(self, start: int, end: int) -> None:
        """Drop scanned pages from this process's resident set (they stay in the page cache)."""
        if self._map is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = max(0, start)
        first = start - start % mmap.PAGESIZE
        with contextlib.suppress(OSError, ValueError):
            self._map.madvise(mmap.MADV_DONTNEED, first, end - first)

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

    def __enter__(self) -> LogIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
