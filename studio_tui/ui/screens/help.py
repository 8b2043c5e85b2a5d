"""`?`: every key binding of every screen, with what it does."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="Back to where you were"),
    ]

    def __init__(self, sections: list[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help") as dialog:
            dialog.border_title = "Keys"
            dialog.border_subtitle = "Esc closes · ctrl+p opens the command palette"
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Where", "Key", "Does", "Details")
        for title, bindings in self.sections:
            shown = [b for b in bindings if isinstance(b, Binding)]
            for index, binding in enumerate(shown):
                keys = ", ".join(self.app.get_key_display(binding.with_key(k)) for k in binding.key.split(","))
                where = Text(title if index == 0 else "", "bold")
                table.add_row(where, Text(keys), Text(binding.description or binding.action), Text(binding.tooltip))
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
