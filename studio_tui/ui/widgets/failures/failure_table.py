"""Failures: time, agent, step, category, the action taken, and the message (literal, cut to fit)."""

from __future__ import annotations

from rich.text import Text

from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.table import Rows, StateTable
from studio_tui.ui.widgets.tones import tones


class FailureTable(StateTable):
    COLUMNS = (
        ("time", "Time"),
        ("agent", "Agent"),
        ("step", "Step"),
        ("category", "Category"),
        ("action", "Action"),
        ("message", "Message"),
    )
    COMPONENT_CLASSES = StateTable.COMPONENT_CLASSES | {
        "failures--muted",
        "failures--retry",
        "failures--replan",
        "failures--escalate",
        "failures--halt",
        "failures--message",
    }

    _messages: dict[str, str] = {}

    def yank_text(self) -> str | None:
        """The highlighted failure's whole message (the cell shows it cut)."""
        key = self.highlighted_key
        return self._messages.get(key) if key else None

    def state_rows(self, state: OrchestrationState) -> Rows:
        style = tones(self)
        muted = style("failures--muted")
        width = self.last_column_width(12)
        rows: Rows = []
        self._messages = {f"{failure.seq}": fmt.literal(failure.message, max_chars=4000) for failure in state.failures}
        for failure in state.failures:
            action = failure.action or "…"
            action_style = style(f"failures--{action}") if action in ("retry", "replan", "escalate", "halt") else muted
            rows.append(
                (
                    f"{failure.seq}",
                    (
                        Text(fmt.clock_time(failure.ts), muted),
                        Text(fmt.literal(failure.agent, max_chars=30)),
                        Text("-" if failure.step is None else str(failure.step), justify="right"),
                        Text(fmt.literal(failure.category, max_chars=20)),
                        Text(action, action_style),
                        Text(fmt.crop(fmt.literal(failure.message), width), style("failures--message")),
                    ),
                )
            )
        return rows
