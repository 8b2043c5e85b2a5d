"""The handoff inspector: the context an agent received and passed on, with sizes in tokens."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer

from studio_tui.core.state import OrchestrationState
from studio_tui.ui.widgets.handoffs.handoff_view import HandoffView

REFRESH_SECONDS = 0.5
"""How often an open inspector looks for new handoffs during a run."""


class HandoffScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,h,q", "close", "Close", id="handoffs.close", tooltip="Back to the dashboard"),
    ]

    def __init__(self, agent_key: str, source: Callable[[], OrchestrationState]) -> None:
        super().__init__()
        self.agent_key = agent_key
        self.source = source
        """Where the current state comes from (the dashboard's feed), read again while open."""
        self._shown: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog handoffs") as dialog:
            dialog.border_title = "Handoffs"
            dialog.border_subtitle = "Esc close"
            with VerticalScroll():
                yield HandoffView(id="handoff-view")
        yield Footer()

    def on_mount(self) -> None:
        self._refresh_view()
        self.set_interval(REFRESH_SECONDS, self._refresh_view)

    def _refresh_view(self) -> None:
        state = self.source()
        shown = (len(state.handoffs), state.seq)
        if shown != self._shown:
            self._shown = shown
            self.query_one(HandoffView).show(state, self.agent_key)

    def action_close(self) -> None:
        self.dismiss(None)
