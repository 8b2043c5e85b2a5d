"""The append-only `events.jsonl`: one event a line, flushed per event, fsynced on demand."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import events as ev
from .. import safefile


@dataclass
class BadLine:
    """A line a reader skipped: its 1-based number and why."""

    line: int
    reason: str


@dataclass
class LogRead:
    events: list[ev.Event] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def torn_tail(self) -> bool:
        return bool(self.bad_lines) and self.bad_lines[-1].reason.startswith("torn")


MAX_LINE_BYTES = 64 << 20
"""A longer line is skipped as a bad line without being held in memory (the writer never makes one)."""


class EventLogWriter:
    """Appends events; a torn last line left by a crash is closed off first so it stays one bad line.

    The log is never followed through a symlink and must be a regular file. Each line is written in
    full (a short write is continued); if the disk refuses part of it, the file is cut back to where
    the line began, so a full disk never leaves a torn line, and a DiskError names the log."""

    def __init__(self, path: Path, *, root: Path | None = None) -> None:
        self.path = path
        self._fd: int | None = safefile.open_append(path, safefile.LOG, root=root)
        self._inode = os.fstat(self._fd).st_ino
        size = os.fstat(self._fd).st_size
        if size > 0 and os.pread(self._fd, 1, size - 1) != b"\n":
            self._write(b"\n")

    def append(self, event: ev.Event) -> None:
        self.append_line(ev.encode(event))

    def append_line(self, line: str) -> None:
        """One already-encoded event and its newline, written in full or not at all."""
        self._write(line.encode("utf-8") + b"\n")

    def _write(self, data: bytes) -> None:
        assert self._fd is not None, "the log is closed"
        before = os.fstat(self._fd).st_size
        try:
            safefile.write_all(self._fd, data)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)  # no torn line: the event is not in the log at all
            raise safefile.disk_error(self.path, exc) from None

    def sync(self) -> None:
        assert self._fd is not None
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise safefile.disk_error(self.path, exc) from None

    def replaced(self) -> bool:
        """Whether the log on disk is no longer the file this writer appends to (removed or replaced)."""
        try:
            return os.lstat(self.path).st_ino != self._inode
        except FileNotFoundError:
            return True

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None


def iter_lines(path: Path, *, kind: safefile.Kind = safefile.LOG, root: Path | None = None) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, whether the line was newline-terminated).

    The file is opened safely (a regular file, no link for a workspace log); a line longer than
    MAX_LINE_BYTES is yielded as a marker (`b"\\x00<too long>"`) without being held in memory."""
    fd = safefile.open_read(path, kind, root=root)
    with os.fdopen(fd, "rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while True:  # skip the rest of the over-long line
                    more = handle.readline(1 << 20)
                    if not more or more.endswith(b"\n"):
                        break
                yield number, TOO_LONG, True
                continue
            terminated = raw.endswith(b"\n")
            yield number, raw.rstrip(b"\r\n") if terminated else raw, terminated


TOO_LONG = b"\x00<too long>"


def read_log(path: Path, *, kind: safefile.Kind = safefile.LOG, root: Path | None = None) -> LogRead:
    """Every valid event in order; bad lines (malformed, wrong fields, torn tail) are skipped and listed."""
    result = LogRead()
    for number, raw, terminated in iter_lines(path, kind=kind, root=root):
        if not raw.strip():
            continue
        if raw is TOO_LONG:
            result.bad_lines.append(BadLine(number, f"line longer than {MAX_LINE_BYTES >> 20} MB"))
            continue
        try:
            result.events.append(ev.decode(raw))
        except (ev.EventDecodeError, ValueError, RecursionError) as exc:
            reason = f"torn last line ({exc})" if not terminated else str(exc)
            result.bad_lines.append(BadLine(number, reason))
    return result
