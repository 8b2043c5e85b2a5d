"""Messages the dashboard app posts to itself from its workers (a run ended, a log read, a watched item)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from studio_tui.core import events as ev
    from studio_tui.core.state import OrchestrationState
    from studio_tui.core.watch import WatchItem
    from studio_tui.ui.feed import LogTail


class RunEnded(Message):
    """The orchestrator worker is done (any way); `state` is its final state."""

    def __init__(self, state: OrchestrationState, error: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.error = error
        """Set when the run could not start (bad goal, no backlog): nothing ran."""


class LogRead(Message):
    """Events read from an orchestration's log in a thread; the first read carries the folded state."""

    def __init__(self, tail: LogTail, events: list[ev.Event], state: OrchestrationState | None = None) -> None:
        super().__init__()
        self.tail = tail
        self.events = events
        self.state = state


class Watched(Message):
    """The watch worker read something from the followed run (or could not attach: `error`)."""

    def __init__(self, item: WatchItem | None, error: str | None = None) -> None:
        super().__init__()
        self.item = item
        self.error = error

    def can_replace(self, message: Message) -> bool:
        """Catch-up progress is only worth its newest figure."""
        from studio_tui.core.watch import CatchingUp

        return isinstance(self.item, CatchingUp) and isinstance(message, Watched) and isinstance(message.item, CatchingUp)
