"""Compare (`d` in the checkpoint browser): two checkpoints side by side, differences marked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer

from studio_tui.core.compare import compare
from studio_tui.core.store import CheckpointRecord
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tone


class CompareTable(DataTable):
    COMPONENT_CLASSES = DataTable.COMPONENT_CLASSES | {"compare--section", "compare--differs", "compare--same"}


class CompareScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,d", "close", "Close", id="compare.close", tooltip="Back to the checkpoint browser"),
    ]

    def __init__(self, left: CheckpointRecord, right: CheckpointRecord) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.sections = compare(left, right)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog compare") as dialog:
            dialog.border_title = f"Compare {self.left.meta.id} ↔ {self.right.meta.id}"
            dialog.border_subtitle = "● differs · Esc close"
            yield CompareTable(id="compare-table", cursor_type="row", zebra_stripes=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(CompareTable)
        table.add_columns(" ", "What", f"A {self.left.meta.id}", f"B {self.right.meta.id}")
        section_style = tone(table, "compare--section")
        differs = tone(table, "compare--differs")
        same = tone(table, "compare--same")
        label_width = 28 if self.app.size.width >= 110 else 18
        side = max(12, (self.app.size.width - label_width - 20) // 2)  # A and B share what is left, side by side
        for section in self.sections:
            changed = sum(row.differs for row in section.rows)
            title = f"{section.title}: {changed} differ{'s' if changed == 1 else ''}"
            if section.same:
                title += f", {section.same} same"
            table.add_row("", Text(fmt.crop(title, label_width), section_style), "", "")
            for row in section.rows:
                style = differs if row.differs else same
                table.add_row(
                    Text("●" if row.differs else " ", differs),
                    Text(fmt.crop(row.label, label_width), style),
                    Text(fmt.crop(row.left, side), style),
                    Text(fmt.crop(row.right, side), style),
                )
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
