"""The event log: bounded, newest at the bottom, filterable by agent or kind; every line literal."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
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
        yield RichLog(max_lines=MAX_LINES, wrap=True, markup=False, highlight=False, id="event-log", min_width=40)
        yield FilterInput(placeholder="filter: agent or kind words (agent:builder kind:failed); Esc clears", id="log-filter")

    def on_resize(self) -> None:
        self.post_message(self.Stale())

    @property
    def log_widget(self) -> RichLog:
        return self.query_one(RichLog)

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

    def append(self, events: Iterable[ev.Event]) -> None:
        self.write_lines([line for event in events if (line := self.line(event)) is not None])

    def redraw(self, events: Iterable[ev.Event]) -> None:
        self.log_widget.clear()
        lines = [line for event in events if (line := self.line(event)) is not None]
        self.write_lines(lines[-MAX_LINES:])

    def write_lines(self, lines: list[Text]) -> None:
        log = self.log_widget
        # Wrap at the pane's width: RichLog alone measures against the console, not the pane.
        width = log.scrollable_content_region.width or None
        for line in lines:
            log.write(line, width=width)
