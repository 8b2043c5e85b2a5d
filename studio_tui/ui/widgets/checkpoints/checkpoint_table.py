"""Checkpoints of the shown orchestration, newest first: name, after which agent, time."""

from __future__ import annotations

from rich.text import Text

from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tone
from studio_tui.ui.widgets.table import Rows, StateTable


class CheckpointTable(StateTable):
    COLUMNS = (("time", "Time"), ("name", "Name"), ("after", "After"))
    COMPONENT_CLASSES = StateTable.COMPONENT_CLASSES | {"checkpoints--name", "checkpoints--muted"}

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
