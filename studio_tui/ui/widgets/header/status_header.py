"""The two header lines: goal; orchestration id, workflow and mode, confidence, status, elapsed time."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import pill, tones

RUNNING = frozenset({"initializing", "analyzing", "allocating", "planning", "executing", "finalizing", "resuming", "waiting"})
BAD = frozenset({"failed", "aborted", "halted", "cancelled"})
INBOX_MARK = "✉"
"""Starts the note's inbox part ("✉ 2 waiting (i)"): shown right after the clock, as a pill."""
PILLS = frozenset({"waiting", "done", "bad", "warn"})
"""Tones drawn as a filled pill (their background kept); the others are coloured text on the header."""


def status_label(state: OrchestrationState) -> tuple[str, str]:
    """(label, tone) for the status pill; a pending decision always reads WAITING FOR YOU."""
    if state.waiting_for_person:
        return "WAITING FOR YOU", "waiting"
    if state.status in BAD:
        return state.status.upper(), "bad"
    if state.status == "completed":
        return "COMPLETED", "done"
    if state.status == "interrupted":
        return "INTERRUPTED", "warn"
    if state.status in RUNNING:
        return state.status.upper(), "running"
    return state.status.upper() or "IDLE", "muted"


class StatusHeader(Static):
    """Goal on the first line; who, how and how long on the second."""

    COMPONENT_CLASSES = {
        "status-header--goal",
        "status-header--meta",
        "status-header--running",
        "status-header--waiting",
        "status-header--done",
        "status-header--bad",
        "status-header--warn",
        "status-header--muted",
        "status-header--note",
    }

    _shown: tuple | None = None

    def show(self, state: OrchestrationState, now: float, note: str = "") -> None:
        text = self.build(state, now, note)
        signature = (text.plain, tuple(text.spans))
        if signature == self._shown:
            return
        self._shown = signature
        self.update(text, layout=False)  # always two lines (height: 2): no reflow of the screen per second

    def forget(self) -> None:
        """Styles changed (theme): draw again on the next `show`."""
        self._shown = None

    def build(self, state: OrchestrationState, now: float, note: str = "") -> Text:
        style = tones(self)
        meta = style("status-header--meta")
        line = Text(no_wrap=True, overflow="ellipsis")
        if not state.id:
            line.append(" No orchestration yet", style("status-header--goal"))
            line.append("\n")
            line.append(' Start one with  studio-tui build "GOAL"  or try  studio-tui demo', meta)
            return line
        line.append(" ◆ ", style("status-header--running"))
        line.append(fmt.literal(state.goal, max_chars=300), style("status-header--goal"))
        line.append("\n ")
        label, tone = status_label(state)
        line.append(f" {label} ", pill(self, f"status-header--{tone}") if tone in PILLS else style(f"status-header--{tone}"))
        if state.started_ts:
            end = state.finished_ts if state.finished and state.finished_ts else now
            began = state.resumed_ts or state.started_ts  # a resumed run's clock counts from the resume
            line.append(f" {fmt.elapsed_clock(end - began)}", style("status-header--goal"))
        if INBOX_MARK in note:  # the inbox count goes first, where a narrow terminal never cuts it
            note, _, count = note.partition(INBOX_MARK)
            note = note.strip()
            line.append("  ")
            line.append(f" {INBOX_MARK}{count.rstrip()} ", pill(self, "status-header--waiting"))
        parts = [state.id, state.routing.workflow or "routing…", state.mode]
        if state.routing.confidence:
            parts.append(f"confidence {fmt.percent(state.routing.confidence)}")
        line.append("  " + " · ".join(fmt.literal(p, max_chars=80) for p in parts), meta)
        if note:
            line.append(f"  {note}", style("status-header--note"))
        return line
