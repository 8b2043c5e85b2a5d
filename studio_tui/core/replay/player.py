"""`Player`: the replay transport (position, state in step with it, play/pause, speed, marks) over a model."""

from __future__ import annotations

import math
import time

from ..reducer import apply
from ..state import OrchestrationState
from .marks import Mark
from .model import ReplayModel

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, math.inf)
"""Playback speeds `+`/`-` step through; `inf` plays as fast as the reducer allows."""

MAX_LINES_PER_ADVANCE = 2000
"""Most lines one `Player.advance()` plays (~15 ms of reducing), so at high speed a frame still leaves
time to paint; playback then runs as fast as the frames allow."""


MAX_SPEED_BUDGET_S = 0.035
"""Seconds of folding per `advance()` at max speed: most of a 20 Hz frame, the rest left for drawing."""

MAX_SPEED_SLICE_LINES = 2000
"""Lines folded between looks at the clock at max speed."""

FOLD_SHARE = 0.8
"""At max speed, the share of wall time that goes to folding however long a frame takes to draw: a
frame's fold budget grows to FOLD_SHARE / (1 - FOLD_SHARE) times its drawing time (see `drew`), so a
screen that draws slowly shows fewer frames rather than playing slower than ~1.25x the bare fold."""

MAX_FOLD_BUDGET_S = 0.2
"""The most one frame folds, whatever drawing costs: a key (pause, a jump) waits at most this long."""


class Player:
    """Transport over a model: a position, a state kept in step with it, play/pause, speed, marks.

    Forward moves reduce the events in between into the current state; backward moves and jumps go
    through `state_at` (a keyframe and at most K lines). A front end calls `advance(elapsed)` from a
    fixed-rate timer while playing and repaints from `state`.
    """

    def __init__(self, model: ReplayModel, *, speed: float = 1.0) -> None:
        self.model = model
        self.position = 0
        self.state = OrchestrationState()
        self.playing = False
        self.speed_index = SPEEDS.index(speed)
        self._credit = 0.0
        self._last_ts: float | None = None
        self.fold_budget_s = MAX_SPEED_BUDGET_S
        """Seconds of folding per `advance()` at max speed (`drew` raises it for a slow screen)."""

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_index]

    @property
    def at_end(self) -> bool:
        return self.position >= self.model.length and self.model.index.complete

    def faster(self) -> float:
        self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)
        return self.speed

    def slower(self) -> float:
        self.speed_index = max(self.speed_index - 1, 0)
        return self.speed

    def toggle(self) -> bool:
        """Play or pause; playing from the end starts over."""
        if not self.playing and self.at_end:
            self.seek(0)
        self.playing = not self.playing
        self._credit = 0.0
        return self.playing

    def seek(self, position: int) -> OrchestrationState:
        """Jump to a position (clamped) and rebuild the state there."""
        self.position = max(0, min(position, self.model.length))
        self.state = self.model.state_at(self.position)
        self._last_ts = self.model._ts_at_or_before(self.position - 1)
        self._credit = 0.0
        return self.state

    def _forward(self, count: int) -> int:
        """Play up to `count` events forward into the state; return how many."""
        played = 0
        if count <= 0:
            return played
        for index, event in self.model.iter_events(self.position, self.model.length):
            apply(self.state, event)
            self.position = index + 1
            self._last_ts = event.ts
            played += 1
            if played >= count:
                break
        else:
            self.position = self.model.length
        return played

    def step(self, count: int = 1) -> OrchestrationState:
        """Move `count` events (negative: back), skipping bad lines."""
        if count >= 0:
            self._forward(count)
        else:
            self.seek(self.model.previous_event_position(self.position, -count))
        return self.state

    def home(self) -> OrchestrationState:
        return self.seek(0)

    def end(self) -> OrchestrationState:
        return self.seek(self.model.length)

    def next_mark(self, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        mark = self.model.next_mark(self.position, kinds)
        if mark is not None:
            self.seek(mark.position)
        return mark

    def previous_mark(self, kinds: tuple[str, ...] = ("failure", "escalation")) -> Mark | None:
        mark = self.model.previous_mark(self.position, kinds)
        if mark is not None:
            self.seek(mark.position)
        return mark

    def delay_to_next(self) -> float | None:
        """Wall seconds until the next event at the current speed (0 as fast as possible), None at the end."""
        for _, event in self.model.iter_events(self.position, self.model.length):
            if math.isinf(self.speed):
                return 0.0
            gap = 0.0 if self._last_ts is None else min(max(0.0, event.ts - self._last_ts), self.model.max_gap)
            return gap / self.speed
        return None

    def _fold_for(self, budget: float) -> int:
        """As fast as possible: fold lines (the fast path, no events built) for about `budget` seconds;
        return the lines played. Drawing is the caller's, once per frame, whatever was folded."""
        if not self.model.keyframes_complete:
            return self._ride_frontier(budget)
        deadline = time.perf_counter() + budget
        start = self.position
        length = self.model.length
        while self.position < length:
            stop = min(self.position + MAX_SPEED_SLICE_LINES, length)
            resumed = self.model.last_resume_in(self.position, stop)
            if resumed is not None:
                # A `resumed` line replaces the whole state with its snapshot (a megabyte or more to
                # decode): the state after it is a keyframe's, laid there when the keyframes were built.
                self.state = self.model.state_at(resumed)
                self.position = resumed
            self.model.fold(self.state, self.position, stop)
            self.position = stop
            if time.perf_counter() >= deadline:
                break
        if self.position > start:
            self._last_ts = self.model._ts_at_or_before(self.position - 1)
        return self.position - start

    def _ride_frontier(self, budget: float) -> int:
        """Max speed while the background worker still reduces the log into keyframes: play along its
        frontier instead of folding the same lines a second time beside it (on one interpreter the two
        folds would share the CPU and each go at half speed). A frontier ahead of the position is jumped
        to (its state shares the worker's records: no fold); one at the position is driven on for the
        frame's budget, the work counting for the keyframes too (the model's lock keeps it done once). It
        moves from keyframe to keyframe (every 1,000 lines), each a state built without folding."""
        model = self.model
        start = self.position
        if model.frontier <= self.position:
            deadline = time.perf_counter() + budget
            while not model.keyframes_complete and time.perf_counter() < deadline:
                if model.advance_keyframes(MAX_SPEED_SLICE_LINES) == 0:
                    break  # the index has nothing further yet
        # To a keyframe already laid, not to the frontier itself: freezing the frontier each frame would
        # lend its records every frame, and the worker would copy each record it touches again.
        frontier = model.frontier
        target = min(frontier if model.keyframes_complete else model.keyframe_at_or_before(frontier), model.length)
        if target > self.position:
            self.state = model.state_at(target)
            self.position = target
            self._last_ts = model._ts_at_or_before(self.position - 1)
        return self.position - start

    def drew(self, seconds: float) -> None:
        """The front end took `seconds` to draw the last frame: at max speed, fold long enough per frame
        that drawing stays a small share of the time (folding and drawing decoupled)."""
        self.fold_budget_s = min(MAX_FOLD_BUDGET_S, max(MAX_SPEED_BUDGET_S, seconds * FOLD_SHARE / (1.0 - FOLD_SHARE)))

    def advance(self, elapsed: float) -> int:
        """Play the events whose (capped, speed-scaled) time has come in `elapsed` wall seconds;
        return how many. Stops playing at the end."""
        if not self.playing:
            return 0
        if math.isinf(self.speed):
            played = self._fold_for(self.fold_budget_s)
        else:
            self._credit += elapsed * self.speed
            played = 0
            for index, event in self.model.iter_events(self.position, self.model.length):
                gap = 0.0 if self._last_ts is None else min(max(0.0, event.ts - self._last_ts), self.model.max_gap)
                if gap > self._credit or played >= MAX_LINES_PER_ADVANCE:
                    break
                self._credit -= gap
                apply(self.state, event)
                self.position = index + 1
                self._last_ts = event.ts
                played += 1
            else:
                self.position = self.model.length
        if self.at_end:
            self.playing = False
            self._credit = 0.0
        return played
