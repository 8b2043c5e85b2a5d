"""The dashboard app's shared state: the launch, the workspace, the feed, and what is run or followed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.timer import Timer
from textual.worker import Worker

from studio_tui.core.state import OrchestrationState
from studio_tui.ui.feed import Feed, LogTail
from studio_tui.ui.launch import Launch

if TYPE_CHECKING:
    from studio_tui.ui.screens.dashboard import DashboardScreen
    from studio_tui.ui.screens.decisions import DecisionScreen


class StudioBase(App[int]):
    """The state every job of the dashboard reads (following, running, keys, palette); `StudioApp` puts them together."""

    def __init__(
        self,
        launch: Launch,
        *,
        clock: Callable[[], float] = time.time,
        orchestrator_clock: Callable[[], float] = time.time,
        orchestrator_sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self.launch = launch
        self.workspace = launch.workspace
        self.clock = clock
        """Wall clock for the elapsed times shown; tests pin it."""
        self.orchestrator_clock = orchestrator_clock
        self.orchestrator_sleep = orchestrator_sleep
        self.feed = Feed()
        self.exit_status = 0
        self.active_run: Worker | None = None
        self.last_run: OrchestrationState | None = None
        """Final state of the latest run this dashboard drove."""
        self._tail: LogTail | None = None
        self._stopped_hint: tuple[int, str] = (-1, "")
        """(seq, resume command) shown while a followed run has no writer; recomputed when the log moves."""
        self._tail_timer: Timer | None = None
        self._quitting = False
        self._drawn_second = -1
        self._questions: dict[str, DecisionScreen] = {}
        self._startup_notes: list[tuple[str, str, str]] = []
        """(title, message, severity) to show once mounted."""
        self.watch_note: str | None = None
        """Watch mode's status: "watching (read-only)", then "finished: STATUS"."""
        self.watch_bad_lines = 0
        self.inbox_count = 0
        """Decisions waiting in any run of the workspace (the header shows it)."""
        self.yanked: str | None = None
        """The last text `y` copied (the clipboard itself cannot be read back)."""
        self.dashboard: DashboardScreen
        """The first screen: the dashboard, or a replay of a log; `StudioApp` sets it."""
