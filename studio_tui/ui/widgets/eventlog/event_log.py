"""The event log: a virtual list of events, newest at the bottom, with `/` full-text search; every line literal.

Only the lines on screen are ever formatted (`render_line`), and each is cached while the width and the
theme stay the same, so a flood of events costs the pane a list append per event and a few lines per
frame, whatever the rate. One event is one line, cropped to the pane's width.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Input

from studio_tui.core import events as ev
from studio_tui.ui import fmt
from studio_tui.ui.widgets.eventlog.describe import describe, matches
from studio_tui.ui.widgets.tones import tones
from studio_tui.ui.widgets.virtual_size import set_virtual_size

MAX_LINES = 2000
"""Events the pane keeps (the feed keeps as many: the full log is on disk)."""

AGENT_WIDTH = 13
KIND_WIDTH = 11
PREFIX_WIDTH = 9 + AGENT_WIDTH + KIND_WIDTH
CACHE_LIMIT = 4 * MAX_LINES
"""Formatted lines kept before the cache starts over (it only ever holds lines that were on screen)."""

TONES = ("time", "agent", "kind", "plain", "muted", "accent", "success", "warning", "error")


class FilterInput(Input):
    BINDINGS = [
        Binding("escape", "clear", "Clear search", id="log.filter.clear", tooltip="Clear the search and close it"),
    ]

    class Cleared(Message):
        pass

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())


class EventLog(ScrollView, can_focus=True):
    """The events shown (all, or the search's matches), one line each, formatted only when on screen.

    `n`/`N` move a highlight through the matches while a search is on (and scroll to it)."""

    BINDINGS = [
        Binding("n", "next_match", "Next match", id="log.next_match", tooltip="Highlight the next search match", show=False),
        Binding("N", "previous_match", "Prev match", id="log.previous_match", tooltip="Highlight the previous search match", show=False),
    ]

    DEFAULT_CSS = """
    EventLog { background: $surface; color: $foreground; overflow-y: scroll; overflow-x: hidden; }
    EventLog > .event-log--cursor { background: $accent 40%; text-style: bold; }
    """
    COMPONENT_CLASSES = {"event-log--cursor"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[ev.Event] = []
        """The events shown, oldest first (the matches while a search is on)."""
        self.note = ""
        """Shown in place of the lines when there are none (a search that matches nothing says so)."""
        self.cursor: int | None = None
        """The highlighted row (a search match chosen with n/N)."""
        self.searching = False
        self._cache: dict[int, Strip] = {}
        self._cache_key: tuple[int, int] = (0, 0)
        self._styles: dict[str, Style] = {}
        self._styles_generation = -1
        self.generation = 0
        """Bumped when the line styles change (theme): cached lines are dropped."""

    # ── the rows ─────────────────────────────────────────────────────────

    def set_rows(self, rows: Iterable[ev.Event]) -> None:
        """Show these events instead (newest last); the view goes to the bottom."""
        self.rows = list(rows)[-MAX_LINES:]
        self.cursor = None
        self._cache.clear()
        self._resized_rows(follow=True)

    def add_rows(self, rows: Sequence[ev.Event]) -> None:
        """Append events at the bottom (older ones fall off past MAX_LINES); follows the bottom if it was there."""
        if not rows:
            return
        follow = self.scroll_offset.y >= self.max_scroll_y
        self.rows.extend(rows)
        dropped = len(self.rows) - MAX_LINES
        if dropped > 0:
            del self.rows[:dropped]
            if self.cursor is not None:
                self.cursor = self.cursor - dropped if self.cursor >= dropped else None
            if not follow:
                self.scroll_to(y=max(0, self.scroll_offset.y - dropped), animate=False, immediate=True)
        self._resized_rows(follow=follow)

    def _resized_rows(self, *, follow: bool) -> None:
        width = self.scrollable_content_region.width or self.size.width
        set_virtual_size(self, Size(width, max(len(self.rows), 1 if self.note else 0)))  # no screen reflow once it overflows
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    @property
    def lines(self) -> list[Strip]:
        """Every row formatted at the current width (for tests and export; drawing never needs it)."""
        return [self._strip(index) for index in range(len(self.rows))]

    # ── drawing ──────────────────────────────────────────────────────────

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if not self.rows:
            if y == 0 and self.note:
                return self._note_strip(width)
            return Strip.blank(width, self.rich_style)
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        return self._strip(index)

    def _note_strip(self, width: int) -> Strip:
        text = Text(fmt.crop(self.note, max(1, width)), self._style("muted"))
        return Strip(list(text.render(self.app.console)), text.cell_len).adjust_cell_length(width).apply_style(self.rich_style)

    def _style(self, name: str) -> Style:
        if self._styles_generation != self.generation or not self._styles:
            pane = self.parent if isinstance(self.parent, EventLogPane) else self
            style = tones(pane)
            self._styles = {tone: style(f"event-log--{tone}") for tone in TONES}
            self._styles_generation = self.generation
        return self._styles.get(name) or self._styles["plain"]

    def _strip(self, index: int) -> Strip:
        width = self.scrollable_content_region.width
        key = (width, self.generation)
        if key != self._cache_key:
            self._cache.clear()
            self._cache_key = key
        event = self.rows[index]
        strip = self._cache.get(id(event))
        if strip is None:
            if len(self._cache) > CACHE_LIMIT:
                self._cache.clear()
            strip = self._cache[id(event)] = self._format(event, width).apply_style(self.rich_style)
        if index == self.cursor:
            strip = strip.apply_style(self.get_component_rich_style("event-log--cursor"))
        return strip

    def _format(self, event: ev.Event, width: int) -> Strip:
        """One event as one line `width` cells wide: time, agent, kind, then the message, cropped."""
        row = describe(event)
        stamp = fmt.clock_time(event.ts) + " "
        agent = fmt.crop(row.agent, AGENT_WIDTH - 1).ljust(AGENT_WIDTH)
        kind = fmt.crop(row.kind, KIND_WIDTH - 1).ljust(KIND_WIDTH)
        message = row.message
        message_style = self._style(row.tone)
        simple = len(stamp) == 9 and cell_len(agent) == AGENT_WIDTH and cell_len(kind) == KIND_WIDTH and "\t" not in message
        room = width - PREFIX_WIDTH
        if simple and room > 0 and len(message) > 2 * (room + 1):
            # far longer than the line: only its start can show (a cell per character at least, bar the odd
            # combining mark), so measure and cut that start, not 400 wide characters
            message = message[: 2 * (room + 1)]
        length = PREFIX_WIDTH + cell_len(message)
        if simple and length > width > PREFIX_WIDTH:
            # cut here, as Text.truncate would cut the whole line (same cells, same ellipsis), without rendering a Text
            message = fmt.crop(message, width - PREFIX_WIDTH)
            length = PREFIX_WIDTH + cell_len(message)
        if simple and length <= width:
            segments = [Segment(stamp, self._style("time")), Segment(agent, self._style("agent")), Segment(kind, self._style("kind"))]
            if message:
                segments.append(Segment(message, message_style))
            if length < width:
                segments.append(Segment(" " * (width - length)))
            return Strip(segments, width)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(stamp, self._style("time"))
        text.append(agent, self._style("agent"))
        text.append(kind, self._style("kind"))
        text.append(message.replace("\t", " "), message_style)
        text.truncate(max(1, width), overflow="ellipsis")
        return Strip(list(text.render(self.app.console)), text.cell_len).adjust_cell_length(width)

    # ── n / N ────────────────────────────────────────────────────────────

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("next_match", "previous_match"):
            return self.searching and bool(self.rows)  # otherwise n/N go to the screen (replay: next failure)
        return True

    def action_next_match(self) -> None:
        self._move_cursor(+1)

    def action_previous_match(self) -> None:
        self._move_cursor(-1)

    def _move_cursor(self, step: int) -> None:
        if not self.rows:
            return
        if self.cursor is None:
            self.cursor = len(self.rows) - 1 if step < 0 else 0
        else:
            self.cursor = (self.cursor + step) % len(self.rows)
        self.scroll_to_region_line(self.cursor)
        self.refresh()
        self.post_message(EventLogPane.Moved())

    def scroll_to_region_line(self, index: int) -> None:
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        if index < top or index >= top + height:
            self.scroll_to(y=max(0, index - height // 2), animate=False, immediate=True)


class EventLogPane(Vertical):
    """The virtual log fed with one row per event, and an input (`/`) searching the whole text of every row."""

    COMPONENT_CLASSES = {f"event-log--{tone}" for tone in TONES}

    class Stale(Message):
        """The rows must be taken again from the events (new search)."""

    class Moved(Message):
        """The highlighted match moved (the subtitle shows which)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield EventLog(id="event-log")
        yield FilterInput(
            placeholder="search the log: words anywhere in a line (agent:NAME kind:KIND pin a column); Esc clears", id="log-filter"
        )

    def on_resize(self) -> None:
        self.post_message(self.Stale())  # cheap (no line is formatted until shown); keeps the bottom in view

    @property
    def log_widget(self) -> EventLog:
        return self.query_one(EventLog)

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.display = True
        field.focus()

    def subtitle(self) -> str:
        """The pane's border subtitle: the search and its match count, or how to start one."""
        if not self.query_text:
            return "/ searches"
        log = self.log_widget
        count = len(log.rows)
        if not count:
            return f"search: {fmt.crop(self.query_text, 30)} · no matches"
        where = f" · {log.cursor + 1}/{count}" if log.cursor is not None else ""
        return f"search: {fmt.crop(self.query_text, 30)} · {count} match{'es' if count != 1 else ''}{where} · n/N"

    @on(Input.Changed, "#log-filter")
    def _filter_typed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_text = event.value.strip()
        self.post_message(self.Stale())

    @on(Input.Submitted, "#log-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.query_text:
            event.input.display = False
        self.log_widget.focus()

    @on(FilterInput.Cleared)
    def _filter_cleared(self, event: FilterInput.Cleared) -> None:
        event.stop()
        self.query_one(FilterInput).display = False
        self.log_widget.focus()

    def _shown(self, events: Iterable[ev.Event]) -> list[ev.Event]:
        query = self.query_text
        if not query:
            return events if isinstance(events, list) else list(events)
        return [event for event in events if matches(describe(event), query)]

    def append(self, events: Iterable[ev.Event]) -> None:
        """New events at the bottom (only the search's matches while one is on)."""
        log = self.log_widget
        log.add_rows(self._shown(events))
        log.searching = bool(self.query_text)

    def redraw(self, events: Iterable[ev.Event]) -> None:
        """Every row taken again from `events` (a new search, another run, a theme)."""
        log = self.log_widget
        log.searching = bool(self.query_text)
        log.note = f"no matches for “{fmt.crop(self.query_text, 60)}”" if self.query_text else ""
        log.generation += 1
        log.set_rows(self._shown(events))
