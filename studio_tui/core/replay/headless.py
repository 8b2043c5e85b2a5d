"""Headless replay: the state after every event up to a seq, and a report of what was read.

One pass from the start in blocks, stopping at the first event past the seq: `--to 1` reads one
block, whatever the log's size, and memory is the state plus one block (no index is built). The last
seq comes from reading the file backwards from its end.
"""

from __future__ import annotations

from pathlib import Path

from .. import events as ev
from ..state import OrchestrationState
from ..store.eventlog import BadLine
from .codec import Folder, decode_for_fold
from .report import ReplayReport
from .stream import iter_file_lines, last_event


def state_at_seq(path: Path | str, seq: int | None = None) -> tuple[OrchestrationState, ReplayReport]:
    """The state after every event up to `seq` (all of them if None), and what was read on the way.

    Reads the log once in order and stops at the first event past `seq`; the report lists the bad
    lines and unknown types met up to there (`lines_read`; `lines_total` only when the whole log
    was read, else None: counting would mean reading all of it)."""
    state = OrchestrationState()
    lines_read = 0
    events = unknown = 0
    bad: list[BadLine] = []
    reached_end = True
    folder = Folder(state)
    limit = seq if seq is not None else float("inf")
    for line_index, raw, tail in iter_file_lines(path):
        found = decode_for_fold(raw, tail)
        if found is None:
            pass
        elif type(found) is BadLine:
            found.line = line_index + 1
            bad.append(found)
        else:
            if found.seq > limit:  # type: ignore[union-attr]
                reached_end = False
                break
            folder.add(found)  # type: ignore[arg-type]
            events += 1
            unknown += type(found) is ev.UnknownEvent
        lines_read = line_index + 1
    folder.flush()
    last = last_event(path)
    report = ReplayReport(
        path=str(path),
        lines_total=lines_read if reached_end else None,
        lines_read=lines_read,
        events=events,
        unknown_events=unknown,
        bad_lines=bad,
        target_seq=seq,
        reached_seq=state.seq,
        last_seq=last.seq if last is not None else 0,
    )
    return state, report
