"""A virtual table over a sequence from state: only the rows on screen are ever built, measured and drawn.

It looks and steers like Textual's DataTable with a row cursor (header, one-cell padding, the cursor and
hover rows, up/down/page up/page down/home/end, Enter or a click on the cursor row selects), but it holds
no copy of the rows: each frame `show(...)` hands it the state, `source(...)` says which sequence the rows
come from, `row_key(item)` names a row and `row_cells(item)` builds it when it is on screen. A run with 19,000 checkpoints costs a
frame the same as one with five; a frame where nothing on screen changed costs no repaint at all.

Column widths fit their content like DataTable's: over every row while the table is small (`EAGER_ROWS`),
over the rows that were on screen once it is large (they only grow then, so columns do not jump while
scrolling back and forth).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual._segment_tools import line_crop
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip

from studio_tui.ui.widgets.tones import tone
from studio_tui.ui.widgets.virtual_size import set_virtual_size

Row = tuple[str, tuple[Any, ...]]
Rows = list[Row]
"""(row key, cells) in display order."""

EAGER_ROWS = 64
"""Up to this many rows, every row is built each frame (so widths fit every row, as DataTable's do)."""
CACHE_LIMIT = 4096
"""Rows kept built or drawn before the caches start over (they only hold rows that were on screen)."""
HEADER_ROW = -1


def _signature(cell: Any) -> Any:
    """What makes two cells look the same (Rich's Text equality ignores the base style)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans), cell.justify)
    return cell


def _width(cell: Any) -> int:
    if isinstance(cell, Text):
        plain = cell.plain
        return cell.cell_len if "\n" not in plain else max(Text(line).cell_len for line in plain.split("\n"))
    return len(str(cell))


class StateTable(ScrollView, can_focus=True):
    """Subclasses name their columns, say where rows come from (`source`) and how one reads (`row_key`, `row_cells`)."""

    COLUMNS: tuple[tuple[str, str], ...] = ()
    """(column key, label)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First row", show=False),
        Binding("end,ctrl+end", "last", "Last row", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"datatable--header", "datatable--cursor", "datatable--hover"}
    DEFAULT_CSS = """
    StateTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        scrollbar-size: 1 1;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor { background: $primary 30%; color: $foreground; text-style: bold; }
            & > .datatable--header { background-tint: $foreground 5%; }
        }
        & > .datatable--header { background: $surface; color: $text-muted; text-style: bold; }
        & > .datatable--cursor { background: transparent; color: $foreground; text-style: none; }
        & > .datatable--hover { background: $block-hover-background; }
    }
    """
    cell_padding = 1
    LAST_COLUMN_MIN = 8
    """The last column is cut to what the others leave, never narrower than this."""

    class RowSelected(Message):
        """Enter on the cursor row, or a click on it."""

        def __init__(self, table: StateTable, cursor_row: int, row_key: str) -> None:
            super().__init__()
            self.table = table
            self.cursor_row = cursor_row
            self.row_key = row_key

        @property
        def control(self) -> StateTable:
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("cursor_type", None)
        kwargs.pop("zebra_stripes", None)
        super().__init__(**kwargs)
        self._labels: list[Text] = [Text.from_markup(label) for _, label in self.COLUMNS]
        self._widths: list[int] = [label.cell_len for label in self._labels]
        """Content width of each column (without its padding)."""
        self._source: Sequence[Any] = ()
        self._drawn_from: tuple[Any, ...] | None = None
        self.cursor_row = 0
        self._cursor_key: str | None = None
        self._count = 0
        self._hover_row: int | None = None
        self._generation = 0
        """Bumped by every `show`: a row built in an older one is built again before it is drawn."""
        self._built: dict[str, tuple[int, Any, tuple[Any, ...]]] = {}
        """row key -> (generation, signature, cells)."""
        self._strips: dict[Hashable, Strip] = {}
        self._cells_render: dict[Hashable, list[Segment]] = {}
        self._tones: dict[str, Style] = {}
        self.crop_width = 8
        """Cells the last column may take this frame (`row_cells` cuts its text to it)."""
        self.renders = 0
        """Lines drawn anew (not from the cache): tests count these, not time."""
        self.builds = 0
        """Rows built from state: tests count these too."""

    # ── what subclasses say ──────────────────────────────────────────────

    def source(self, *args: Any) -> Sequence[Any]:
        """The items the rows show, in display order (a list from state, or a cheap view of one)."""
        raise NotImplementedError

    def row_key(self, item: Any) -> str:
        """The row's key (cheap: the cursor follows it when rows come and go)."""
        raise NotImplementedError

    def row_cells(self, item: Any) -> tuple[Any, ...]:
        """The row's cells, one per column; the last one's text cut to `crop_width`."""
        raise NotImplementedError

    def fingerprint(self, *args: Any) -> Hashable | None:
        """Something cheap that changes whenever a row may read differently; None: look at the rows on screen every frame."""
        return None

    # ── drawing from state ───────────────────────────────────────────────

    def show(self, *args: Any) -> None:
        """Draw from state (called at the frame rate): rows on screen that changed are drawn again, nothing else."""
        fingerprint = self.fingerprint(*args)
        stamp = (fingerprint, self.size, self.scroll_offset.y) if fingerprint is not None else None
        if stamp is not None and self._drawn_from is not None and stamp == getattr(self, "_stamp", None):
            self._drawn_from = args
            return
        self._stamp = stamp
        self._drawn_from = args
        self._source = self.source(*args)
        self._generation += 1
        old_count, self._count = self._count, len(self._source)
        self._follow_cursor_key(old_count)
        redraw = self._count != old_count
        drawn_widths = list(self._widths)
        indices = range(self._count) if self._count <= EAGER_ROWS else self._visible_rows()
        changed: set[int] = set()
        for _ in range(2):  # a wider column cuts the last one: build once more with its new width
            widths = list(self._widths)
            self.crop_width = self.last_column_width(self.LAST_COLUMN_MIN)
            if self._count <= EAGER_ROWS:
                self._widths = [label.cell_len for label in self._labels]
            changed.update(index for index in indices if self._build(index))
            if self._widths[:-1] == widths[:-1]:
                break
        if self._widths != drawn_widths:
            self._strips.clear()
            redraw = True
        set_virtual_size(self, Size(self.table_width, 1 + self._count))
        if redraw:
            self.refresh()
            return
        top = int(self.scroll_offset.y)
        for index in changed:
            if index >= top:
                self.refresh(Region(0, 1 + index - top, self.size.width, 1))

    def _visible_rows(self) -> range:
        top = int(self.scroll_offset.y)
        height = max(0, self.scrollable_content_region.height - 1)
        return range(top, min(self._count, top + max(height, 1)))

    def _build(self, index: int) -> bool:
        """Build row `index` from the current state; True when it reads differently from when it was last drawn."""
        item = self._source[index]
        key, cells = self.row_key(item), self.row_cells(item)
        self.builds += 1
        signature = tuple(_signature(cell) for cell in cells)
        old = self._built.get(key)
        if len(self._built) > CACHE_LIMIT:
            self._built.clear()
        self._built[key] = (self._generation, signature, cells)
        widths = self._widths
        for column, cell in enumerate(cells[: len(widths)]):
            width = _width(cell)
            if width > widths[column]:
                widths[column] = width
        return old is None or old[1] != signature

    def _row(self, index: int) -> tuple[str, Any, tuple[Any, ...]]:
        """(key, signature, cells) of row `index`, built now if the last build is from an older frame."""
        key = self.row_key(self._source[index])
        built = self._built.get(key)
        if built is None or built[0] != self._generation:
            self._build(index)
            built = self._built[key]
        return key, built[1], built[2]

    def _follow_cursor_key(self, old_count: int) -> None:
        """Rows came or went: keep the cursor on the row it was on (by key), else inside the table."""
        if self._count == 0:
            self.cursor_row = 0
            return
        key = self._cursor_key
        if key is not None and old_count:
            for candidate in (self.cursor_row, self.cursor_row + self._count - old_count):
                if 0 <= candidate < self._count and self.key_at(candidate) == key:
                    if candidate != self.cursor_row:
                        self.cursor_row = candidate
                        self.scroll_to_cursor()
                    break
            else:
                found = self.index_of(key)
                if found is not None:
                    self.cursor_row = found
                    self.scroll_to_cursor()
        self.cursor_row = min(max(0, self.cursor_row), self._count - 1)
        self._cursor_key = self.key_at(self.cursor_row)

    def key_at(self, index: int) -> str:
        return self.row_key(self._source[index])

    def index_of(self, key: str) -> int | None:
        """Where the row with this key is now (a linear search: only when rows were removed or reordered)."""
        for index in range(self._count):
            if self.key_at(index) == key:
                return index
        return None

    @property
    def table_width(self) -> int:
        return sum(self._widths) + 2 * self.cell_padding * len(self._widths)

    def last_column_width(self, minimum: int = 8) -> int:
        """Cells left for the last column once the others take theirs, so its text can be cut to fit."""
        others = sum(self._widths[:-1]) + 2 * self.cell_padding * (len(self._widths) - 1)
        region = self.content_region
        width = region.width
        if self.styles.overflow_y == "scroll" or (self.styles.overflow_y == "auto" and 1 + self._count > region.height):
            width -= self.styles.scrollbar_size_vertical  # the rows overflow: a scrollbar takes its column (now or once set)
        return max(minimum, width - others - 2 * self.cell_padding)

    def on_resize(self) -> None:
        """The last column is cut to the width: build the rows again for the new one."""
        if self._drawn_from is not None:
            self._widths = [label.cell_len for label in self._labels]
            self._strips.clear()
            self._built.clear()
            self._stamp = None
            self.show(*self._drawn_from)

    def forget(self) -> None:
        """Build and draw every row again on the next `show` (styles changed with the theme)."""
        self._built.clear()
        self._strips.clear()
        self._cells_render.clear()
        self._tones.clear()
        self._stamp = None

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
        self._cells_render.clear()
        self._tones.clear()

    def component_tone(self, name: str) -> Style:
        """`tones.tone(self, name)`, built once per style change (rows ask for the same few, every frame)."""
        found = self._tones.get(name)
        if found is None:
            found = self._tones[name] = tone(self, name)
        return found

    # ── what the rest of the app and the tests read ──────────────────────

    @property
    def row_count(self) -> int:
        return self._count

    @property
    def highlighted_key(self) -> str | None:
        if not 0 <= self.cursor_row < self._count:
            return None
        return self.key_at(self.cursor_row)

    def yank_text(self) -> str | None:
        """What `y` copies from this table: the highlighted row's key unless a subclass says better."""
        return self.highlighted_key

    def get_row_at(self, index: int) -> list[Any]:
        return list(self.row_cells(self._source[index]))

    def get_row(self, key: str) -> list[Any]:
        index = self.index_of(key)
        if index is None:
            raise KeyError(key)
        return self.get_row_at(index)

    # ── the cursor ───────────────────────────────────────────────────────

    def move_cursor(self, *, row: int | None = None, animate: bool = False, scroll: bool = True) -> None:
        if row is None or not self._count:
            return
        row = min(max(0, row), self._count - 1)
        if row != self.cursor_row:
            self.cursor_row = row
            self.refresh()
        self._cursor_key = self.key_at(row)
        if scroll:
            self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True, immediate=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, force=True, immediate=True)

    def _keyboard(self) -> None:
        if self._hover_row is not None:
            self._hover_row = None
            self.refresh()

    def action_cursor_up(self) -> None:
        self._keyboard()
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._keyboard()
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_down(self) -> None:
        self._keyboard()
        page = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_offset.y + page, animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row + page)

    def action_page_up(self) -> None:
        self._keyboard()
        page = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=max(0, self.scroll_offset.y - page), animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row - page)

    def action_first(self) -> None:
        self._keyboard()
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self._keyboard()
        self.move_cursor(row=self._count - 1)

    def action_select_cursor(self) -> None:
        self._keyboard()
        key = self.highlighted_key
        if key is not None:
            self.post_message(self.RowSelected(self, self.cursor_row, key))

    # ── the mouse ────────────────────────────────────────────────────────

    def _row_under(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return None
        row = offset.y - 1 + int(self.scroll_offset.y)
        return row if row < self._count else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_under(event)
        if row != self._hover_row:
            self._hover_row = row
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        self._keyboard()

    async def _on_click(self, event: events.Click) -> None:
        row = self._row_under(event)
        if row is None:
            return
        event.stop()
        if row == self.cursor_row:
            self.action_select_cursor()
        else:
            self.move_cursor(row=row)

    # ── lines ────────────────────────────────────────────────────────────

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base_style = self.rich_style
        if y == 0:
            return self._line(HEADER_ROW, None, None, self._labels, base_style, width)
        index = y - 1 + int(self.scroll_offset.y)
        if not 0 <= index < self._count:
            return Strip.blank(width, base_style)
        key, signature, cells = self._row(index)
        return self._line(index, key, signature, cells, base_style, width)

    def _line(self, index: int, key: str | None, signature: Any, cells: Sequence[Any], base_style: Style, width: int) -> Strip:
        cursor = index == self.cursor_row and index != HEADER_ROW
        hover = self._hover_row is not None and index == self._hover_row
        scroll_x = int(self.scroll_offset.x)
        cache_key = (index, key, signature, cursor, hover, tuple(self._widths), width, base_style, scroll_x, self.has_focus)
        strip = self._strips.get(cache_key)
        if strip is not None:
            return strip
        self.renders += 1
        header = index == HEADER_ROW
        row_style = self.get_component_styles("datatable--header").rich_style if header else base_style
        component_style, post_style = self._cell_styles(header, hover, cursor)
        segments: list[Segment] = []
        for column, content_width in enumerate(self._widths):
            cell = cells[column] if column < len(cells) else Text("")
            segments += self._render_cell(cell, index, column, row_style, component_style, post_style, content_width)
        remaining = max(0, width - self.table_width)
        extend_style = row_style + component_style + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * remaining, extend_style))
        segments = line_crop(segments, scroll_x, scroll_x + width, width)
        strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
        if len(self._strips) > CACHE_LIMIT:
            self._strips.clear()
        self._strips[cache_key] = strip
        return strip

    def _cell_styles(self, header: bool, hover: bool, cursor: bool) -> tuple[Style, Style]:
        """The cursor's and the hover's styles over a cell (as DataTable: the cursor's colour wins over the cell's)."""
        component_style = Style()
        if hover:
            component_style += self.get_component_rich_style("datatable--hover")
        if cursor:
            component_style += self.get_component_rich_style("datatable--cursor")
        return component_style, Style.from_color(color=component_style.color) + Style.null()

    def _render_cell(
        self,
        cell: RenderableType,
        index: int,
        column: int,
        row_style: Style,
        component_style: Style,
        post_style: Style,
        content_width: int,
    ) -> list[Segment]:
        """One cell, padded and styled exactly as DataTable draws one (drawn once per look, then only re-tagged)."""
        width = content_width + 2 * self.cell_padding
        key = (_signature(cell), width, row_style, component_style, post_style)
        segments = self._cells_render.get(key)
        if segments is None:
            if isinstance(cell, str):
                cell = Text(cell, no_wrap=True, end="")
            options = self.app.console_options.update_dimensions(width, 1).update(no_wrap=True)
            lines = self.app.console.render_lines(
                Styled(Padding(cell, (0, self.cell_padding)), pre_style=row_style + component_style, post_style=post_style), options
            )
            segments = lines[0] if lines else [Segment(" " * width, row_style + component_style)]
            if len(self._cells_render) > CACHE_LIMIT:
                self._cells_render.clear()
            self._cells_render[key] = segments
        # the cell's place rides in its style's meta, as in DataTable (and so the same segments on screen)
        meta = Style.from_meta({"row": index, "column": column})
        return [Segment(text, meta if style is None else style + meta, control) for text, style, control in segments]
