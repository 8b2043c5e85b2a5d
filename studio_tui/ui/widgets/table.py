"""A DataTable filled from state: unchanged cells are left alone, the cursor stays on its row key."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

Rows = list[tuple[str, tuple[Any, ...]]]
"""(row key, cells) in display order."""


def _signature(cell: Any) -> Any:
    """What makes two cells look the same (Rich's Text equality ignores the base style)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return cell


class StateTable(DataTable):
    """Subclasses name their columns and call `set_rows` with the rows the state says."""

    COLUMNS: tuple[tuple[str, str], ...] = ()
    """(column key, label)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("cursor_type", "row")
        kwargs.setdefault("zebra_stripes", False)
        super().__init__(**kwargs)
        self._shown: list[tuple[str, tuple[Any, ...]]] = []
        self._column_keys: list[ColumnKey] = [self.add_column(label, key=key) for key, label in self.COLUMNS]
        self._drawn_from: tuple[Any, ...] | None = None

    def on_resize(self) -> None:
        """The last column is cut to the width: draw the rows again for the new one."""
        if self._drawn_from is not None:
            self.show(*self._drawn_from)

    def show(self, *args: Any) -> None:
        """Draw from state; subclasses build their rows in `state_rows(*args)`."""
        self._drawn_from = args
        self.set_rows(self.state_rows(*args))

    def state_rows(self, *args: Any) -> Rows:
        raise NotImplementedError

    def last_column_width(self, minimum: int = 8) -> int:
        """Cells left for the last column once the others take theirs, so its text can be cut to fit."""
        others = sum(column.get_render_width(self) for column in self.ordered_columns[:-1])
        return max(minimum, self.scrollable_content_region.width - others - 2 * self.cell_padding)

    def yank_text(self) -> str | None:
        """What `y` copies from this table: the highlighted row's key unless a subclass says better."""
        return self.highlighted_key

    @property
    def highlighted_key(self) -> str | None:
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row][0]

    def forget(self) -> None:
        """Redraw every cell on the next `set_rows` (styles changed with the theme)."""
        self._shown = [(key, ()) for key, _ in self._shown]

    def set_rows(self, rows: Rows) -> None:
        signed = [(key, tuple(_signature(c) for c in cells)) for key, cells in rows]
        if signed == self._shown:
            return
        keys = [k for k, _ in signed]
        old_keys = [k for k, _ in self._shown]
        if keys[: len(old_keys)] == old_keys:
            # Same rows, maybe more at the end: change the cells that differ, add the new rows.
            for (key, cells), (_, new), (_, old) in zip(rows, signed, self._shown, strict=False):
                if new == old:
                    continue
                for index, cell in enumerate(cells):
                    if index >= len(old) or new[index] != old[index]:
                        self.update_cell(key, self._column_keys[index], cell, update_width=True)
            for key, cells in rows[len(old_keys) :]:
                self.add_row(*cells, key=key)
        else:
            keep = self.highlighted_key
            self.clear()
            for key, cells in rows:
                self.add_row(*cells, key=key)
            keys = [key for key, _ in rows]
            if keep in keys:
                self.move_cursor(row=keys.index(keep), animate=False)
        self._shown = signed
