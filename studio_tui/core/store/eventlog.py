"""The append-only `events.jsonl`: one event a line, flushed per event, fsynced on demand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import events as ev


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


class EventLogWriter:
    """Appends events; a torn last line left by a crash is closed off first so it stays one bad line."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = open(path, "ab", buffering=0)
        if self._file.tell() > 0:
            with open(path, "rb") as existing:
                existing.seek(-1, os.SEEK_END)
                if existing.read(1) != b"\n":
                    self._file.write(b"\n")

    def append(self, event: ev.Event) -> None:
        self.append_line(ev.encode(event))

    def append_line(self, line: str) -> None:
        """One already-encoded event, written with a single write(2) so a kill cannot tear it."""
        self._file.write(line.encode("utf-8") + b"\n")

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, bytes without newline, whether the line was newline-terminated)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            terminated = raw.endswith(b"\n")
            yield number, raw.rstrip(b"\r\n") if terminated else raw, terminated


def read_log(path: Path) -> LogRead:
    """Every valid event in order; bad lines (malformed, wrong fields, torn tail) are skipped and listed."""
    result = LogRead()
    for number, raw, terminated in iter_lines(path):
        if not raw.strip():
            continue
        try:
            result.events.append(ev.decode(raw))
        except ev.EventDecodeError as exc:
            reason = f"torn last line ({exc})" if not terminated else str(exc)
            result.bad_lines.append(BadLine(number, reason))
    return result
