"""The event log: bounded, newest at the bottom, filterable by agent or kind; every line literal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

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
from textual.strip import Strip
from textual.widgets import Input, RichLog

from studio_tui.core import events as ev
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tones
from studio_tui.ui.widgets.eventlog.describe import describe, matches

MAX_LINES = 1000
"""Lines the log widget keeps; older ones scroll out (the full log is on disk)."""

AGENT_WIDTH = 13
KIND_WIDTH = 11


class FilterInput(Input):
    BINDINGS = [
        Binding("escape", "clear", "Clear filter", id="log.filter.clear", tooltip="Clear the filter and close it"),
    ]

    class Cleared(Message):
        pass

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Cleared())


class _Fitted(NamedTuple):
    """A line that fits the width it was made for, as a Strip padded to that width; `length` before padding."""

    strip: Strip
    length: int


class EventLog(RichLog):
    """A RichLog that takes a frame's lines in one go: one trim, one size update, one scroll to the end.

    `RichLog.write` per line copies the kept lines, resizes and scrolls for every event once the log is
    full; here only the newest `max_lines` lines of a batch are rendered at all. Lines that fit the width
    (nearly every event) are built straight into strips from their pieces; longer ones wrap through Rich
    as `RichLog.write` would.
    """

    def write_batch(self, lines: Sequence[Text | _Fitted]) -> None:
        """Add `lines` (oldest first) at the bottom; a `_Fitted` is a line already made for the current width."""
        if not lines:
            return
        width = self.scrollable_content_region.width
        if not self._size_known or not width:
            for line in lines:
                if isinstance(line, _Fitted):
                    line = Text.assemble(*((segment.text, segment.style) for segment in line.strip if segment.style is not None))
                self.write(line, width=width or None)
            return
        console = self.app.console
        options = console.options.update_width(width)
        strips: list[Strip] = []
        widest = self._widest_line_width
        for line in lines:
            if isinstance(line, _Fitted):
                if line.strip.cell_length == width:
                    widest = max(widest, line.length)
                    strips.append(line.strip)
                    continue
                line = Text.assemble(*((segment.text, segment.style) for segment in line.strip if segment.style is not None))
            line.expand_tabs()
            rendered = list(Segment.split_lines(console.render(line, options)))
            if not rendered:
                strips.append(Strip.blank(width))
                widest = max(widest, width)
                continue
            for segments in rendered:
                strip = Strip(segments)
                widest = max(widest, strip.cell_length)
                strips.append(strip.adjust_cell_length(width))
        self.lines.extend(strips)
        if self.max_lines is not None and len(self.lines) > self.max_lines:
            self._start_line += len(self.lines) - self.max_lines
            self.refresh()
            self.lines = self.lines[-self.max_lines :]
        self._widest_line_width = widest
        self.virtual_size = Size(widest, len(self.lines))
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=False, x_axis=False)


class EventLogPane(Vertical):
    """A RichLog fed with one line per event and an input (`/`) that filters by agent or kind."""

    COMPONENT_CLASSES = {
        "event-log--time",
        "event-log--agent",
        "event-log--kind",
        "event-log--plain",
        "event-log--muted",
        "event-log--accent",
        "event-log--success",
        "event-log--warning",
        "event-log--error",
    }

    class Stale(Message):
        """The lines must be drawn again from the events (new filter, new width)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield EventLog(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, id="event-log", min_width=40)
        yield FilterInput(placeholder="filter: agent or kind words (agent:builder kind:failed); Esc clears", id="log-filter")

    def on_resize(self) -> None:
        self.post_message(self.Stale())

    @property
    def log_widget(self) -> EventLog:
        return self.query_one(EventLog)

    def open_filter(self) -> None:
        field = self.query_one(FilterInput)
        field.display = True
        field.focus()

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

    def line(self, event: ev.Event) -> Text | None:
        """The rendered line for an event, or None when the filter hides it."""
        row = describe(event)
        if self.query_text and not matches(row, self.query_text):
            return None
        style = tones(self)
        text = Text()
        text.append(fmt.clock_time(event.ts) + " ", style("event-log--time"))
        text.append(fmt.crop(row.agent, AGENT_WIDTH - 1).ljust(AGENT_WIDTH), style("event-log--agent"))
        text.append(fmt.crop(row.kind, KIND_WIDTH - 1).ljust(KIND_WIDTH), style("event-log--kind"))
        text.append(row.message, style(f"event-log--{row.tone}"))
        return text

    def _liner(self, width: int) -> Callable[[ev.Event], Text | _Fitted | None]:
        """`line` for a batch: styles looked up once; a line that fits `width` comes back as a ready Strip.

        The Strip holds the same pieces in the same styles as the Text `line` gives, so it draws the same.
        """
        style = tones(self)
        styles: dict[str, Style] = {
            name: style(f"event-log--{name}") for name in ("time", "agent", "kind", "plain", "muted", "accent", "success", "warning", "error")
        }
        time_style, agent_style, kind_style = styles["time"], styles["agent"], styles["kind"]
        query = self.query_text
        clock_time, crop = fmt.clock_time, fmt.crop
        prefix = 9 + AGENT_WIDTH + KIND_WIDTH

        def liner(event: ev.Event) -> Text | _Fitted | None:
            row = describe(event)
            if query and not matches(row, query):
                return None
            stamp = clock_time(event.ts) + " "
            agent = crop(row.agent, AGENT_WIDTH - 1).ljust(AGENT_WIDTH)
            kind = crop(row.kind, KIND_WIDTH - 1).ljust(KIND_WIDTH)
            message = row.message
            message_style = styles.get(row.tone) or style(f"event-log--{row.tone}")
            length = prefix + cell_len(message)
            simple = len(stamp) == 9 and cell_len(agent) == AGENT_WIDTH and cell_len(kind) == KIND_WIDTH
            if width and simple and length <= width and "\t" not in message and "\n" not in message:
                segments = [Segment(stamp, time_style), Segment(agent, agent_style), Segment(kind, kind_style)]
                if message:
                    segments.append(Segment(message, message_style))
                if length < width:  # padded here as `Strip.adjust_cell_length` would: one Strip, not two
                    segments.append(Segment(" " * (width - length)))
                return _Fitted(Strip(segments, width), length)
            text = Text()
            text.append(stamp, time_style)
            text.append(agent, agent_style)
            text.append(kind, kind_style)
            text.append(message, message_style)
            return text

        return liner

    def _newest_lines(self, events: Iterable[ev.Event]) -> list[Text | _Fitted]:
        """The lines for the newest events the log can keep (at most MAX_LINES), oldest first."""
        if not isinstance(events, Sequence):
            events = list(events)
        liner = self._liner(self.log_widget.scrollable_content_region.width)
        lines: list[Text | _Fitted] = []
        for event in reversed(events):
            line = liner(event)
            if line is not None:
                lines.append(line)
                if len(lines) >= MAX_LINES:
                    break
        lines.reverse()
        return lines

    def append(self, events: Iterable[ev.Event]) -> None:
        self.write_lines(self._newest_lines(events))

    def redraw(self, events: Iterable[ev.Event]) -> None:
        self.log_widget.clear()
        self.write_lines(self._newest_lines(events))

    def write_lines(self, lines: Sequence[Text | _Fitted]) -> None:
        # Wrapped at the pane's width: RichLog alone measures against the console, not the pane.
        self.log_widget.write_batch(lines)
