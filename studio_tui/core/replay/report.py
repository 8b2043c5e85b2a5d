"""`ReplayReport`: what a replay read, for the headless `replay` command and its JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..store.eventlog import BadLine


@dataclass
class ReplayReport:
    """What a replay read: bad lines (1-based numbers and why), unknown event types, how far it got."""

    path: str
    lines_total: int | None
    """Lines in the log, when it was read to its end (None when the replay stopped before)."""
    lines_read: int
    events: int
    unknown_events: int
    bad_lines: list[BadLine] = field(default_factory=list)
    target_seq: int | None = None
    reached_seq: int = 0
    last_seq: int = 0
    started_at_line: int = 0
    """1-based line of the `resumed` snapshot the replay started from (0: from the first line)."""

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
            "started_at_line": self.started_at_line,
        }
