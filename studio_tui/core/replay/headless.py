"""Headless replay: the state after every event up to a seq, and a report of what was read."""

from __future__ import annotations

from pathlib import Path

from .. import events as ev
from ..reducer import apply
from ..state import OrchestrationState
from ..store.eventlog import BadLine
from .index import LogIndex
from .model import ReplayModel
from .report import ReplayReport


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
