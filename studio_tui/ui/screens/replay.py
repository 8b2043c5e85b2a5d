"""Replay mode: the dashboard's panes driven by a `Player` over a run's events.jsonl, plus a transport.

The log is indexed in a thread worker that posts progress messages; the first frame shows after the
first chunk, keyframes are built next in the same worker. Every state change happens here, on the
event loop, in message handlers and the frame timer. Decisions in the log are shown, never asked.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer
from textual.worker import get_current_worker

from studio_tui.core.replay import INDEX_CHUNK_BYTES, MAX_GAP_S, Mark, Player, ReplayModel
from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.feed import LOG_HISTORY, Feed
from studio_tui.ui.screens.dashboard import DashboardScreen
from studio_tui.ui.widgets.timeline.timeline import Timeline
from studio_tui.ui.widgets.timeline.transport import TransportBar

FRAME_RATE = 20
"""Player ticks and repaints a second, as the live dashboard's frame rate."""

KEYFRAME_SLICE_LINES = 250
"""Lines reduced per step of the worker (~8 ms holding the model's lock on multi-KB lines, ~2 ms on
short ones), so a seek on the event loop never waits long for it."""

PLAYING_LOG_LINES = 200
"""Log lines refreshed a frame while playing at max speed (more than a tall pane shows)."""

BIG_STEP = 100
"""Events moved by shift+left/right."""

JUMP_KINDS = ("failure", "escalation")
"""Marks n/N jump between (checkpoints are on the timeline, but too many to step through)."""


class Indexed(Message):
    """The worker indexed another chunk: `fraction` of the file's bytes; `first` for the first chunk."""

    bubble = False

    def __init__(self, fraction: float, marks: list[Mark], *, first: bool = False, done: bool = False) -> None:
        super().__init__()
        self.fraction = fraction
        self.marks = marks
        """Every mark in the indexed part (found in the worker: the model's mark bookkeeping is not
        safe to run while the same thread-unsafe index grows)."""
        self.first = first
        self.done = done

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Indexed) and not self.first and not self.done  # self is the older, dropped one


class KeyframesBuilt(Message):
    """The worker reduced more of the log into keyframes (`done` when all of it)."""

    bubble = False

    def __init__(self, fraction: float, *, done: bool = False) -> None:
        super().__init__()
        self.fraction = fraction
        self.done = done

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, KeyframesBuilt) and not self.done


class SeekReady(Message):
    """A jump past the keyframes was prepared in a thread: seeking to `position` is now quick."""

    bubble = False

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position


class BadLinesScreen(ModalScreen[None]):
    """`b`: the log's unreadable lines, with line numbers and why."""

    BINDINGS = [Binding("escape,q,b", "dismiss", "Close", id="replay.bad.close", tooltip="Back to the replay")]

    def __init__(self, path: Path, bad: list[tuple[int, str]]) -> None:
        super().__init__()
        self.path = path
        self.bad = bad

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help") as dialog:
            dialog.border_title = f"Bad lines: {len(self.bad)}"
            dialog.border_subtitle = "skipped when replaying · Esc closes"
            yield DataTable(id="bad-lines", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Line", "Why")
        for line, reason in self.bad:
            table.add_row(Text(str(line)), Text(fmt.literal(reason, max_chars=200)))
        if not self.bad:
            table.add_row(Text("—"), Text("no bad lines (so far)"))
        table.focus()


class ReplayScreen(DashboardScreen):
    """The dashboard over a replayed log; draws itself at the frame rate from its player."""

    BINDINGS = [
        Binding("space", "toggle", "Play/pause", id="replay.toggle", tooltip="Play or pause the replay (from the end it starts over)"),
        Binding(
            "plus,equals_sign", "faster", "Faster", id="replay.faster", tooltip="Double the speed, up to 64x, then as fast as possible"
        ),
        Binding("minus", "slower", "Slower", id="replay.slower", tooltip="Halve the speed, down to 0.25x"),
        Binding("right", "step(1)", "Next", id="replay.next", tooltip="One event forward", show=False),
        Binding("left", "step(-1)", "Back", id="replay.back", tooltip="One event back", show=False),
        Binding(
            "shift+right",
            f"step({BIG_STEP})",
            "+100",
            id="replay.next100",
            tooltip=f"{BIG_STEP} events forward (or to the end)",
            show=False,
        ),
        Binding(
            "shift+left", f"step(-{BIG_STEP})", "-100", id="replay.back100", tooltip=f"{BIG_STEP} events back (or to the start)", show=False
        ),
        Binding("n", "next_mark", "Next failure", id="replay.next_mark", tooltip="Jump to the next failure or escalation"),
        Binding(
            "N",
            "previous_mark",
            "Prev failure",
            id="replay.previous_mark",
            tooltip="Jump to the previous failure or escalation",
            show=False,
        ),
        Binding("g,home", "home", "Start", id="replay.home", tooltip="Jump to the start of the log", show=False),
        Binding("G,end", "end", "End", id="replay.end", tooltip="Jump to the end of the log", show=False),
        Binding(
            "b",
            "bad_lines",
            "Bad lines",
            id="replay.bad_lines",
            tooltip="List the log's unreadable lines with their line numbers",
            show=False,
        ),
        Binding(
            "escape",
            "close",
            "Close replay",
            id="replay.close",
            tooltip="Back to the dashboard (when the replay was opened from it)",
            show=False,
        ),
    ]

    def __init__(self, path: Path, *, max_gap: float = MAX_GAP_S, closable: bool = False, feed: Feed | None = None) -> None:
        super().__init__(feed or Feed())
        self._id = "replay"  # DashboardScreen names itself "dashboard"; a replay may sit on top of one
        self.path = path
        self.closable = closable
        self.model = ReplayModel(path, max_gap=max_gap)
        self.player = Player(self.model)
        self.indexing: float | None = 0.0
        """Fraction of the file indexed; None once done."""
        self.keyframing: float | None = None
        """Fraction of the lines reduced into keyframes while that runs; None before and after."""
        self.ready = False
        """The first chunk is indexed and the first frame shown."""
        self.bad_line_count = 0
        self.pending_seek: int | None = None
        """A jump being prepared in a thread (past the keyframes built so far)."""
        self.marks: list[Mark] = []
        """The timeline's marks, refreshed as the worker indexes (not per frame: it takes the model's lock)."""
        self._closed = False
        self._last_tick = time.monotonic()
        self._folded_s = 0.0
        """Seconds the last tick spent in the player (folding), to tell drawing time from it."""
        self._transport_shown: tuple | None = None

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield TransportBar(id="transport")
                yield Timeline(id="timeline")
            yield widget

    def on_mount(self) -> None:
        self.add_class("-replay")
        self.set_interval(1 / FRAME_RATE, self.tick)
        self.call_after_refresh(self.query_one(Timeline).focus)  # DashboardScreen.on_mount focuses the agents after this
        self._index()

    def on_unmount(self) -> None:
        self._closed = True
        if not any(w.is_running for w in self.workers):
            self.model.close()

    # ── the worker ───────────────────────────────────────────────────────

    @work(thread=True, exclusive=True, group="replay-index")
    def _index(self) -> None:
        """Index the file chunk by chunk, then reduce it into keyframes; only messages leave here."""
        worker = get_current_worker()
        model = self.model
        first = True
        try:
            while not model.index.complete:
                if worker.is_cancelled or self._closed:
                    return
                model.index_chunk(INDEX_CHUNK_BYTES)
                done = model.index.complete
                self.post_message(Indexed(model.index.progress, model.marks(), first=first, done=done))
                first = False
            if first:
                self.post_message(Indexed(1.0, model.marks(), first=True, done=True))
            while not model.keyframes_complete:
                if worker.is_cancelled or self._closed:
                    return
                model.advance_keyframes(KEYFRAME_SLICE_LINES)
                lines = max(1, model.index.lines_indexed)
                self.post_message(KeyframesBuilt(min(1.0, model.frontier / lines), done=model.keyframes_complete))
            self.post_message(KeyframesBuilt(1.0, done=True))
        finally:
            if self._closed:
                model.close()

    @on(Indexed)
    def _indexed(self, message: Indexed) -> None:
        self.indexing = None if message.done else message.fraction
        if message.done:
            self.keyframing = 0.0
        self.marks = message.marks
        if message.first and not self.ready:
            self.ready = True
            self.player.seek(1 if self.model.length else 0)  # the first event: the goal and the run's id show
            self._sync(None)
        self._transport_shown = None

    @on(KeyframesBuilt)
    def _keyframes_built(self, message: KeyframesBuilt) -> None:
        self.keyframing = None if message.done else message.fraction
        self.bad_line_count = len(self.model.bad_lines)
        self._transport_shown = None

    def jump(self, position: int) -> None:
        """Seek; a target past the keyframes built so far is prepared in a thread so the screen never stalls."""
        position = max(0, min(position, self.model.length))
        if self.model.keyframes_complete or position <= self.model.frontier:
            self.pending_seek = None
            self.player.seek(position)
            self._moved(0)
            return
        self.pending_seek = position
        self.player.playing = False
        self._transport_shown = None
        self._prepare(position)

    @work(thread=True, exclusive=True, group="replay-seek")
    def _prepare(self, position: int) -> None:
        self.model.state_at(position)  # builds the keyframes up to there (the slow part)
        if not self._closed:
            self.post_message(SeekReady(position))

    @on(SeekReady)
    def _seek_ready(self, message: SeekReady) -> None:
        if message.position == self.pending_seek:
            self.pending_seek = None
            self.player.seek(message.position)
            self._moved(0)

    # ── playing and drawing ──────────────────────────────────────────────

    def tick(self) -> None:
        """Advance the player by the wall time since the last tick, and repaint what changed."""
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        if self.ready and self.player.playing:
            # Whatever this frame did not spend folding went to drawing (and waiting for the timer):
            # at max speed the player folds longer per frame when that is long (folding and drawing decoupled).
            self.player.drew(max(0.0, elapsed - self._folded_s))
            before = self.player.position
            self._folded_s = -time.monotonic()
            advanced = self.player.advance(elapsed)
            self._folded_s += time.monotonic()
            if advanced or self.player.position != before:
                self._sync(before)
            if not self.player.playing:
                self._transport_shown = None
                if math.isinf(self.player.speed):
                    self._sync(None)  # stopped at the end: the log's whole history again
        self.paint()

    def paint(self) -> None:
        if not self.is_attached:
            return
        with self.app.batch_update():
            if self.feed.dirty:
                self.feed.dirty = False
                ts = self.player._last_ts
                self.show(ts if ts is not None else time.time(), "◇ replay (read-only)")
            self._show_transport()

    def _show_transport(self) -> None:
        player, model = self.player, self.model
        shown = (
            player.playing,
            player.speed,
            player.position,
            model.length,
            player.state.seq,
            self.indexing,
            self.keyframing,
            self.bad_line_count,
            model.unknown_events,
            self.pending_seek,
        )
        if shown == self._transport_shown:
            return
        self._transport_shown = shown
        self.query_one(TransportBar).show(
            playing=player.playing,
            speed=player.speed,
            position=player.position,
            length=model.length,
            seq=player.state.seq,
            indexing=self.indexing,
            keyframing=self.keyframing,
            bad_lines=self.bad_line_count,
            unknown=model.unknown_events,
            seeking=self.pending_seek,
        )
        fraction = 1.0 if self.indexing is None else self.indexing
        self.query_one(Timeline).show(player.position, model.length, self.marks, fraction)

    def _sync(self, before: int | None) -> None:
        """Point the panes at the player's state; the log pane gets the events played since `before`,
        or is rebuilt from the events up to the position after a jump."""
        player, feed = self.player, self.feed
        after = player.position
        # Playing as fast as possible, a frame jumps thousands of lines: the log shows the newest few
        # (decoding LOG_HISTORY events a frame would cost more than the folding), the whole when paused.
        window = PLAYING_LOG_LINES if player.playing and math.isinf(player.speed) else LOG_HISTORY
        if before is not None and before <= after and after - before <= window and feed.state is player.state:
            for _, event in self.model.iter_events(before, after):
                feed.record(event, player.state)
        else:
            events = [event for _, event in self.model.iter_events(max(0, after - window), after)]
            feed.reset(player.state, events)
        feed.state = player.state
        feed.dirty = True

    def _moved(self, before: int, forward_only: bool = False) -> None:
        self._sync(before if forward_only else None)
        self._transport_shown = None
        self.paint()

    # ── keys ─────────────────────────────────────────────────────────────

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close":
            return self.closable
        return True

    def action_toggle(self) -> None:  # type: ignore[override]  # the "toggle" key action (play/pause), not DOMNode's toggle(attribute)
        if self.ready and self.pending_seek is None:
            before = self.player.position
            self.player.toggle()
            self._last_tick = time.monotonic()
            if self.player.position != before:
                self._moved(before)
            elif not self.player.playing and math.isinf(self.player.speed):
                self._moved(before)  # paused after playing flat out: the log's whole history again
            self._transport_shown = None

    def action_faster(self) -> None:
        self.player.faster()
        self._transport_shown = None

    def action_slower(self) -> None:
        self.player.slower()
        self._transport_shown = None

    def action_step(self, count: int) -> None:
        if not self.ready or self.pending_seek is not None:
            return
        before = self.player.position
        if count > 0:
            self.player.step(count)
            self._moved(before, forward_only=True)
        else:
            self.jump(self.model.previous_event_position(before, -count))

    def action_next_mark(self) -> None:
        if not self.ready:
            return
        here = self.pending_seek if self.pending_seek is not None else self.player.position
        mark = next((m for m in self.marks if m.kind in JUMP_KINDS and m.position > here), None)
        if mark is None:
            self.notify("No failure or escalation after this point.", timeout=3)
        else:
            self.jump(mark.position)

    def action_previous_mark(self) -> None:
        if not self.ready:
            return
        here = self.pending_seek if self.pending_seek is not None else self.player.position
        mark = next((m for m in reversed(self.marks) if m.kind in JUMP_KINDS and m.position < here), None)
        if mark is None:
            self.notify("No failure or escalation before this point.", timeout=3)
        else:
            self.jump(mark.position)

    def action_home(self) -> None:
        if self.ready:
            self.jump(0)

    def action_end(self) -> None:
        if self.ready:
            self.jump(self.model.length)

    def action_bad_lines(self) -> None:
        bad = [(line.line, line.reason) for line in self.model.bad_lines]
        self.app.push_screen(BadLinesScreen(self.path, bad))

    def action_close(self) -> None:
        if self.closable:
            self.app.pop_screen()

    @on(Timeline.Seek)
    def _seek(self, message: Timeline.Seek) -> None:
        if self.ready:
            self.jump(message.position)

    def seek(self, position: int) -> OrchestrationState:
        """Jump to a position (tests and the timeline)."""
        state = self.player.seek(position)
        self._moved(0)
        return state
