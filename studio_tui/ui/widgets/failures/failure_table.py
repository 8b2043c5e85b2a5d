"""Failures: time, agent, step, category, the action taken, and the message (literal, cut to fit)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from rich.text import Text

from studio_tui.core.state import Failure, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.table import StateTable

ACTIONS_WATCHED = 32
"""A failure's action is filled in when recovery decides, shortly after it is recorded: the newest this many
are watched for that (an older one still undecided shows its action when the table next changes)."""


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
    LAST_COLUMN_MIN = 12

    def yank_text(self) -> str | None:
        """The highlighted failure's whole message (the cell shows it cut)."""
        if not 0 <= self.cursor_row < self.row_count:
            return None
        return fmt.literal(self._source[self.cursor_row].message, max_chars=4000)

    def source(self, state: OrchestrationState) -> Sequence[Failure]:
        return state.failures

    def fingerprint(self, state: OrchestrationState) -> Hashable:
        failures = state.failures
        return (id(failures), len(failures), tuple(failure.action for failure in failures[-ACTIONS_WATCHED:]))

    def row_key(self, failure: Failure) -> str:
        return f"{failure.seq}"

    def row_cells(self, failure: Failure) -> tuple[Text, ...]:
        muted = self.component_tone("failures--muted")
        action = failure.action or "…"
        action_style = self.component_tone(f"failures--{action}") if action in ("retry", "replan", "escalate", "halt") else muted
        return (
            Text(fmt.clock_time(failure.ts), muted),
            Text(fmt.literal(failure.agent, max_chars=30)),
            Text("-" if failure.step is None else str(failure.step), justify="right"),
            Text(fmt.literal(failure.category, max_chars=20)),
            Text(action, action_style),
            Text(fmt.crop(fmt.literal(failure.message), self.crop_width), self.component_tone("failures--message")),
        )
