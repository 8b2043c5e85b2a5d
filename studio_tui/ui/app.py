"""The live dashboard: watches a build, runs one in-process as a worker, and steers it from the keyboard.

The app is built in layers, one job each: `app_base` (shared state), `following` (logs on disk, watch),
`run_control` (runs in this process and their questions), `actions` (keys and `:` commands), `palette`
(command palette); `StudioApp` here adds start-up, drawing and the header's notes.
"""

from __future__ import annotations

import gc

# Start-up (issue 14): the imports below build ~90,000 objects that live as long as the process (modules,
# classes, pydantic schemas, Textual's widgets and CSS). Collections while they are built are wasted time,
# and so is every later collection walking them again: the collector is paused while they are imported, and
# what exists then is frozen out of later collections (gc.freeze; once, as a module runs once per process).
# Measured in fresh processes: about a sixth less CPU to the dashboard's first frame.
_collecting = gc.isenabled()
gc.disable()
try:
    import asyncio
    import time
    from collections.abc import Awaitable, Callable
    from typing import TYPE_CHECKING, Any

    from textual import work
    from textual.app import App
    from textual.binding import Binding
    from textual.css.query import NoMatches
    from textual.screen import Screen

    from studio_tui.core.errors import StudioError
    from studio_tui.core.state import OrchestrationState
    from studio_tui.ui.actions import STUDIO_THEMES
    from studio_tui.ui.heap import freeze_startup_heap
    from studio_tui.ui.launch import EXIT_BAD_LAUNCH, EXIT_INTERRUPTED, Launch, exit_code_for
    from studio_tui.ui.palette import PaletteCommands
    from studio_tui.ui.screens.dashboard import DashboardScreen
    from studio_tui.ui.themes import choose_theme, load_themes
    from studio_tui.ui.widgets.tones import PILL_DEFAULTS
finally:
    if _collecting:
        gc.enable()
gc.freeze()

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_BAD_LAUNCH",
    "EXIT_INTERRUPTED",
    "FRAME_RATE",
    "STUDIO_THEMES",
    "Launch",
    "StudioApp",
    "exit_code_for",
    "print_exit_outcome",
    "run_dashboard",
]

FRAME_RATE = 20
"""Pane refreshes a second: smooth to the eye, and a flood of events costs one redraw per frame, not per event."""

INBOX_INTERVAL = 2.0
"""Seconds between two looks for decisions waiting in any run of the workspace (the header's count)."""


class StudioApp(PaletteCommands):
    """One dashboard over one workspace; at most one run in this process at a time."""

    TITLE = "studio-tui"
    CSS_PATH = ["styles/app.tcss", "styles/dashboard.tcss", "styles/dialogs.tcss"]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (asks first while a run is active; the run is checkpointed)"),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            id="app.quit_anywhere",
            tooltip="Quit from anywhere, even a dialog: same as q",
            show=False,
            priority=True,
        ),
        Binding(
            "ctrl+c",
            "copy_or_quit",
            "Copy",
            id="app.interrupt",
            tooltip="Copy the selected text; with nothing selected, interrupt like ctrl+q",
            show=False,
            priority=True,
        ),
        Binding(
            "colon",
            "command_line",
            "Command",
            id="app.command_line",
            tooltip="Open the : command line (checkpoints, replay ID, theme NAME, fork CP, inbox, export, q)",
        ),
        Binding(
            "y", "yank", "Yank", id="app.yank", tooltip="Copy the highlighted id, message or command to the clipboard (OSC 52)", show=False
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="List every key binding"),
    ]

    def __init__(
        self,
        launch: Launch,
        *,
        clock: Callable[[], float] = time.time,
        orchestrator_clock: Callable[[], float] = time.time,
        orchestrator_sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        super().__init__(launch, clock=clock, orchestrator_clock=orchestrator_clock, orchestrator_sleep=orchestrator_sleep)
        self.replaying = launch.action == "replay" and launch.log_path is not None and launch.log_path.is_file()
        """The first screen is a replay of a log (it draws itself from its player), not the dashboard."""
        if self.replaying:
            from studio_tui.ui.screens.replay import ReplayScreen  # only a replay pays for the replay package

            assert launch.log_path is not None
            self.dashboard = ReplayScreen(launch.log_path, max_gap=launch.replay_max_gap(), feed=self.feed)
        else:
            self.dashboard = DashboardScreen(self.feed)
            if launch.action == "replay":
                self._startup_notes.append(("Cannot replay it", f"{launch.log_path}: no such log", "error"))
                self.exit_status = EXIT_BAD_LAUNCH
        self._choose_theme()

    # ── start-up ─────────────────────────────────────────────────────────

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **PILL_DEFAULTS}

    def _choose_theme(self) -> None:
        found = load_themes()
        for theme in found.themes.values():
            self.register_theme(theme)
        self._startup_notes += [("Broken theme file", problem, "error") for problem in found.problems]
        config_theme = None
        try:
            config_theme = self.workspace.config().theme
        except StudioError as exc:
            self._startup_notes.append(("Unreadable config.yaml", str(exc), "error"))
        name, why = choose_theme(self.launch.theme or config_theme, set(self.available_themes))
        if why:
            self._startup_notes.append(("Theme", why, "warning"))
        self._start_with_theme(name)

    def _start_with_theme(self, name: str) -> None:
        """Use theme `name` from the first frame. Setting `self.theme` here would run Textual's theme watcher,
        which re-parses every stylesheet and restyles every widget once the app runs; nothing is parsed or
        mounted yet, so the watcher's other work is done here and the stylesheet simply gets the variables."""
        self.set_reactive(App.theme, name)
        theme = self.current_theme
        classes = {cls: False for cls in self.classes if cls.startswith("-theme-")}
        self.update_classes(
            {**classes, f"-theme-{theme.name}": True, "-dark-mode": theme.dark, "-light-mode": not theme.dark}, update=False
        )
        self._refresh_truecolor_filter(self.ansi_theme)
        self.stylesheet.set_variables(self.get_css_variables())

    def get_default_screen(self) -> Screen:
        return self.dashboard

    def on_mount(self) -> None:
        for title, note, severity in self._startup_notes:
            self.notify(note, title=title, severity=severity, timeout=10, markup=False)  # type: ignore[arg-type]
        self.set_interval(1 / FRAME_RATE, self.draw)
        self.call_after_refresh(freeze_startup_heap)  # ui/heap.py: full collections skip the start-up heap
        self.set_interval(INBOX_INTERVAL, self._count_inbox)
        self._count_inbox()
        launch = self.launch
        if launch.action == "build":
            self.start_build(launch.goal or "", launch.mode, launched=True)
        elif launch.action == "resume":
            self.start_resume_id(launch.checkpoint_id or "", launched=True)
        elif launch.action == "run_backlog":
            self.start_backlog(launched=True)
        elif launch.action == "replay":
            if not self.replaying:
                self.feed.reset(OrchestrationState(), [])
            # else the ReplayScreen indexes and draws itself
        elif launch.action == "watch":
            self.watch(launch.orch_id, follow_latest=launch.follow_latest)
        else:
            self.view(launch.orch_id or self.workspace.latest(), launched=True)

    # ── drawing ──────────────────────────────────────────────────────────

    def draw(self) -> None:
        """Refresh the panes from the feed: at most once a frame, and once a second for the clocks."""
        if self.replaying:
            return  # it draws itself from its player
        now = self.clock()
        second = int(now)
        if not self.feed.dirty and second == self._drawn_second:
            return
        if not self.is_running or not self.dashboard.is_attached or not self.dashboard.children:
            return  # shutting down (the app stops running before its screens are taken apart): draw nothing
        self._drawn_second = second
        self.feed.dirty = False
        with self.batch_update():
            try:
                self.dashboard.show(now, self._note())
            except NoMatches:  # shutting down: its panes are being removed one by one
                self.feed.dirty = True

    def _count_inbox(self) -> None:
        if not any(w.group == "inbox-count" and w.is_running for w in self.workers):
            self._inbox_worker()

    @work(thread=True, group="inbox-count", exit_on_error=False)
    def _inbox_worker(self) -> None:
        # the run this dashboard drives asks in its own dialog: the header counts what waits elsewhere
        from studio_tui.core.inbox import waiting_decisions

        own = self.feed.state.id if self.active_run is not None else None
        count = sum(1 for item in waiting_decisions(self.workspace).items if item.orch_id != own)
        self.call_from_thread(self._inbox_counted, count)

    def _inbox_counted(self, count: int) -> None:
        if count != self.inbox_count:
            self.inbox_count = count
            self.feed.dirty = True

    def _note(self) -> str:
        inbox = f"  ✉ {self.inbox_count} waiting (i)" if self.inbox_count else ""
        return self._run_note() + inbox

    def _run_note(self) -> str:
        if self.active_run is not None:
            return "● live"
        if self.watch_note is not None:
            bad = f" · {self.watch_bad_lines} unreadable line(s) skipped" if self.watch_bad_lines else ""
            return self.watch_note + bad
        if self._tail is not None and self._tail_timer is not None:
            stopped = self._stopped_note()
            if stopped:
                return stopped
            if self.feed.state.waiting_for_person:
                return "◌ following the log: answer where the run is"
            return "◌ following the log"
        if self._tail is not None and self._tail.bad_lines:
            return f"{self._tail.bad_lines} unreadable log line(s) skipped"
        return ""


def run_dashboard(launch: Launch) -> int:
    """Run the app; return the exit code: 0 completed (or view mode quit), 1 failed/aborted/halted/cancelled, 130 interrupted."""
    app = StudioApp(launch)
    result = app.run()
    print_exit_outcome(app)
    if isinstance(result, int):
        return result
    return 1 if app.return_code else app.exit_status


def print_exit_outcome(app: StudioApp, console: Console | None = None) -> None:
    """Once the screen is restored: how the run driven here ended and the command to resume it, as headless prints."""
    from rich.console import Console

    from studio_tui.core.outcome import outcome_lines

    state = app.last_run
    if state is None or not state.id:
        return
    out = console or Console(highlight=False)
    for line in outcome_lines(app.workspace.root, state, app.workspace.events_path(state.id)):
        out.print(line)
