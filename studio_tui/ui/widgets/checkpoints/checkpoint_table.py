"""Checkpoints of the shown orchestration, newest first: name, after which agent, time."""

from __future__ import annotations

from rich.text import Text

from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.table import Rows, StateTable
from studio_tui.ui.widgets.tones import tone


class CheckpointTable(StateTable):
    COLUMNS = (("time", "Time"), ("name", "Name"), ("after", "After"))
    COMPONENT_CLASSES = StateTable.COMPONENT_CLASSES | {"checkpoints--name", "checkpoints--muted"}

    def show(self, *args: object) -> None:
        """Newest first; a cursor on the newest row follows each new checkpoint, so the newest stays in view."""
        following = self.cursor_row <= 0 or not self._shown
        super().show(*args)
        if following and self.row_count and self.cursor_row != 0:
            self.move_cursor(row=0, animate=False, scroll=self.is_mounted and self.display)

    def yank_text(self) -> str | None:
        """The highlighted checkpoint's id (the row key is `id@seq`)."""
        key = self.highlighted_key
        return key.split("@", 1)[0] if key else None

    def state_rows(self, state: OrchestrationState) -> Rows:
        name_style = tone(self, "checkpoints--name")
        muted = tone(self, "checkpoints--muted")
        return [
            (
                f"{cp.id}@{cp.seq}",
                (
                    Text(fmt.clock_time(cp.ts), muted),
                    Text(fmt.crop(fmt.literal(cp.name), 28), name_style),
                    Text(fmt.literal(cp.after_agent or "-", max_chars=30)),
                ),
            )
            for cp in reversed(state.checkpoints)
        ]
