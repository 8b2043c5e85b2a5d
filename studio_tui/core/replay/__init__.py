"""Replay a run's `events.jsonl`: a byte-offset index over a memory map, keyframes, marks and a player.

`LogIndex` (index.py) only finds where lines start (newline bytes in an mmap); nothing is decoded until
asked. `ReplayModel` (model.py) decodes lines on demand, keeps keyframes (keyframes.py: the state every
K lines, records shared between keyframes) so the state at any position is a keyframe plus at most K-1
lines through the reducer, and finds the timeline's marks (marks.py). `Player` (player.py) is the transport (play, speed,
step, marks) over a model; headless.py folds a log up to a seq for the `replay --headless` command. None
of them know about a UI: a front end runs `index_chunk`/`advance_keyframes` in a thread worker and asks
for states, events and marks.

A *position* counts lines, not events: position `p` is the state after the first `p` lines (bad and
blank lines contribute nothing). Positions are known from the index alone, before any line is decoded;
in a clean log (the normal case) position `p` is simply "after event p".
"""

from .codec import _decode_raw, decode_line
from .headless import state_at_seq
from .index import FIRST_BLOCK_BYTES, INDEX_CHUNK_BYTES, READ_BLOCK_BYTES, LogIndex
from .keyframes import KEYFRAME_BUDGET_BYTES, KEYFRAME_EVERY
from .marks import MARK_KINDS, Mark
from .model import MAX_GAP_S, ReplayModel
from .player import MAX_LINES_PER_ADVANCE, SPEEDS, Player
from .report import ReplayReport

__all__ = [
    "FIRST_BLOCK_BYTES",
    "INDEX_CHUNK_BYTES",
    "KEYFRAME_BUDGET_BYTES",
    "KEYFRAME_EVERY",
    "MARK_KINDS",
    "MAX_GAP_S",
    "MAX_LINES_PER_ADVANCE",
    "READ_BLOCK_BYTES",
    "SPEEDS",
    "LogIndex",
    "Mark",
    "Player",
    "ReplayModel",
    "ReplayReport",
    "_decode_raw",
    "decode_line",
    "state_at_seq",
]
