"""Headless replay: the state after every event up to a seq, and a report of what was read.

One pass from the start in blocks, stopping at the first event past the seq: `--to 1` reads one
block, whatever the log's size, and memory is the state plus one block (no index is built). The last
seq comes from reading the file backwards from its end.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import events as ev
from ..state import OrchestrationState
from ..store.eventlog import BadLine
from .codec import Folder, decode_for_fold
from .report import ReplayReport
from .snapshot import StartPoint, count_lines, find_start
from .stream import iter_file_lines, last_event, open_log


def state_at_seq(path: Path | str, seq: int | None = None, *, snapshots: bool = True) -> tuple[OrchestrationState, ReplayReport]:
    """The state after every event up to `seq` (all of them if None), and what was read on the way.

    Starts at the last `resumed` line at or before `seq` when the log has one (its snapshot is the
    whole state; `snapshots=False` reads from the first line instead), folds on in order and stops at
    the first event past `seq`. The report lists the bad lines and unknown types met in the lines read
    (`started_at_line` says where that was; `lines_total` only when the log was read to its end, else
    None: counting would mean reading all of it)."""
    state = OrchestrationState()
    start = StartPoint(0)
    if snapshots:
        with open_log(path) as handle:
            start = find_start(handle.fileno(), os.fstat(handle.fileno()).st_size, seq)
            first_line = count_lines(handle.fileno(), start.offset) if start.offset else 0
    else:
        first_line = 0
    lines_read = first_line
    events = unknown = 0
    bad: list[BadLine] = []
    reached_end = True
    folder = Folder(state)
    limit = seq if seq is not None else float("inf")
    lines = iter_file_lines(path, start.offset)
    if start.event is not None:
        folder.add(start.event)  # the snapshot line, decoded once already
        events += 1
        next(lines, None)
        lines_read += 1
    for relative, raw, tail in lines:
        line_index = first_line + relative
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
        started_at_line=first_line + 1 if start.event is not None else 0,
        reached_seq=state.seq,
        last_seq=last.seq if last is not None else 0,
    )
    return state, report
