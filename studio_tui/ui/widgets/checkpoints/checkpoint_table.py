"""Checkpoints of the shown orchestration, newest first: name, after which agent, time."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from rich.text import Text

from studio_tui.core.state import Checkpoint, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.table import StateTable


class NewestFirst(Sequence[Any]):
    """A list read from its end, without a copy (19,000 checkpoints stay one list)."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self.items)
        return self.items[len(self.items) - 1 - index]


class CheckpointTable(StateTable):
    COLUMNS = (("time", "Time"), ("name", "Name"), ("after", "After"))
    COMPONENT_CLASSES = StateTable.COMPONENT_CLASSES | {"checkpoints--name", "checkpoints--muted"}

    def show(self, *args: object) -> None:
        """Newest first; a cursor on the newest row follows each new checkpoint, so the newest stays in view."""
        following = self.cursor_row <= 0 or not self.row_count
        super().show(*args)
        if following and self.row_count and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False, scroll=self.is_mounted and self.display)

    def yank_text(self) -> str | None:
        """The highlighted checkpoint's id (the row key is `id@seq`)."""
        key = self.highlighted_key
        return key.split("@", 1)[0] if key else None

    def source(self, state: OrchestrationState) -> Sequence[Checkpoint]:
        return NewestFirst(state.checkpoints)

    def fingerprint(self, state: OrchestrationState) -> Hashable:
        """A saved checkpoint never changes: the rows change only when one is added (or another run is shown)."""
        checkpoints = state.checkpoints
        return (id(checkpoints), len(checkpoints), checkpoints[-1].seq if checkpoints else None)

    def row_key(self, cp: Checkpoint) -> str:
        return f"{cp.id}@{cp.seq}"

    def row_cells(self, cp: Checkpoint) -> tuple[Text, ...]:
        return (
            Text(fmt.clock_time(cp.ts), self.component_tone("checkpoints--muted")),
            Text(fmt.crop(fmt.literal(cp.name), 28), self.component_tone("checkpoints--name")),
            Text(fmt.literal(cp.after_agent or "-", max_chars=30)),
        )
