"""A one-row timeline across the width: played part, marks by kind, the cursor; click or drag to seek."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from studio_tui.core.replay import Mark
from studio_tui.ui.widgets.tones import tones

MARK_GLYPHS = {"checkpoint": "◆", "failure": "✖", "escalation": "▲"}
"""One glyph per mark kind; where marks share a cell the most serious kind wins (order below)."""

MARK_RANK = {"checkpoint": 0, "escalation": 1, "failure": 2}


class Timeline(Widget, can_focus=True):
    """Positions 0..length mapped onto the width; marks drawn as glyphs coloured by kind."""

    DEFAULT_CSS = """
    Timeline { height: 1; }
    Timeline > .timeline--played { color: $text-primary; }
    Timeline > .timeline--rest { color: $text-muted; }
    Timeline > .timeline--unindexed { color: $text-muted; text-style: dim; }
    Timeline > .timeline--cursor { color: $text-accent; text-style: bold reverse; }
    Timeline > .timeline--checkpoint { color: $text-success; text-style: bold; }
    Timeline > .timeline--failure { color: $text-error; text-style: bold; }
    Timeline > .timeline--escalation { color: $text-warning; text-style: bold; }
    """

    COMPONENT_CLASSES = {
        "timeline--played",
        "timeline--rest",
        "timeline--unindexed",
        "timeline--cursor",
        "timeline--checkpoint",
        "timeline--failure",
        "timeline--escalation",
    }

    class Seek(Message):
        """The person clicked or dragged on the timeline: go to `position`."""

        def __init__(self, position: int) -> None:
            super().__init__()
            self.position = position

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Timeline.Seek)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.length = 0
        self.position = 0
        self.indexed = 1.0
        """Fraction of the file indexed so far (the rest of the bar is drawn dim)."""
        self.marks: Sequence[Mark] = ()
        self._dragging = False
        self._layer: dict[int, str] = {}
        self._layer_key: tuple[int, int, int, int] | None = None

    def show(self, position: int, length: int, marks: Sequence[Mark], indexed: float) -> None:
        if (position, length, len(marks), indexed) != (self.position, self.length, len(self.marks), self.indexed):
            self.position, self.length, self.marks, self.indexed = position, length, marks, indexed
            self.refresh()

    def cell_of(self, position: int) -> int:
        width = max(1, self.size.width)
        if self.length <= 0:
            return 0
        return min(width - 1, position * (width - 1) // self.length) if width > 1 else 0

    def _mark_layer(self, width: int) -> dict[int, str]:
        """The mark drawn in each column (the highest ranked; the first of equals), worked out once per
        width, length and marks: a long run has tens of thousands of marks and the bar is drawn every frame."""
        key = (width, self.length, id(self.marks), len(self.marks))
        if key != self._layer_key:
            layer: dict[int, str] = {}
            span, length = width - 1, self.length
            for mark in self.marks:
                x = min(span, mark.position * span // length) if span > 0 and length > 0 else 0
                kind, shown = mark.kind, layer.get(x)
                if shown is None or MARK_RANK[kind] > MARK_RANK[shown]:
                    layer[x] = kind
            self._layer, self._layer_key = layer, key
        return self._layer

    def position_at(self, x: int) -> int:
        """The position a column stands for: the left edge is 0, the right edge the end."""
        width = self.size.width
        if width <= 1 or self.length <= 0:
            return 0
        x = max(0, min(x, width - 1))
        return round(x * self.length / (width - 1))

    def render(self) -> Text:
        style = tones(self)
        width = max(1, self.size.width)
        cells: list[tuple[str, str]] = []
        cursor = self.cell_of(self.position)
        indexed_cells = int(width * self.indexed + 0.999)
        for x in range(width):
            if x >= indexed_cells:
                cells.append(("┄", "timeline--unindexed"))
            elif x < cursor:
                cells.append(("━", "timeline--played"))
            else:
                cells.append(("─", "timeline--rest"))
        for x, kind in self._mark_layer(width).items():
            cells[x] = (MARK_GLYPHS[kind], f"timeline--{kind}")
        glyph, _ = cells[cursor]
        cells[cursor] = (glyph if glyph in MARK_GLYPHS.values() else "●", "timeline--cursor")
        text = Text(no_wrap=True)
        for glyph, cls in cells:
            text.append(glyph, style(cls))
        return text

    # ── mouse ────────────────────────────────────────────────────────────

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._dragging = True
        self.capture_mouse()
        self.post_message(self.Seek(self.position_at(event.x)))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            self.post_message(self.Seek(self.position_at(event.x)))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()
