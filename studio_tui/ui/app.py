"""The live dashboard: watches a build, runs one in-process as a worker, and steers it from the keyboard."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console
from rich.text import Text
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker

from studio_tui.core import events as ev
from studio_tui.core.agents import agent_factory
from studio_tui.core.config import StudioConfig
from studio_tui.core.errors import StudioError, WorkspaceBusy
from studio_tui.core.export import FORMATS
from studio_tui.core.inbox import InboxDecider, waiting_decisions
from studio_tui.core.liveness import resume_hint, stopped_label
from studio_tui.core.orchestrator import Orchestrator
from studio_tui.core.outcome import outcome_lines
from studio_tui.core.replay import MAX_GAP_S
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import CheckpointRecord, Workspace, WorkspaceLock
from studio_tui.core.text import command_hint
from studio_tui.core.watch import Attached, Batch, CatchingUp, CaughtUp, Finished, Switched, Waiting, WatchItem, follow
from studio_tui.ui import fmt
from studio_tui.ui.decider import DecisionNeeded, DecisionWithdrawn, TuiDecider
from studio_tui.ui.feed import TAIL_CHUNK, Feed, LogTail
from studio_tui.ui.heap import freeze_startup_heap
from studio_tui.ui.screens.agent_detail import AgentScreen
from studio_tui.ui.screens.checkpoints import CheckpointBrowser, Fork
from studio_tui.ui.screens.command_line import COMMANDS, Command, CommandLine, completions
from studio_tui.ui.screens.compare import CompareScreen
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.screens.dashboard import PANES, DashboardScreen
from studio_tui.ui.screens.decisions import (
    ConfidenceScreen,
    DecisionScreen,
    EscalationScreen,
    QuestionScreen,
    RoutingScreen,
    decision_screen,
)
from studio_tui.ui.screens.export import ExportScreen
from studio_tui.ui.screens.handoffs import HandoffScreen
from studio_tui.ui.screens.help import HelpScreen
from studio_tui.ui.screens.inbox import InboxScreen
from studio_tui.ui.screens.replay import BadLinesScreen, ReplayScreen
from studio_tui.ui.themes import choose_theme, load_themes
from studio_tui.ui.widgets.agents.agent_table import AgentTable
from studio_tui.ui.widgets.eventlog.event_log import FilterInput
from studio_tui.ui.widgets.header.status_header import BAD
from studio_tui.ui.widgets.tones import PILL_DEFAULTS

FRAME_RATE = 20
"""Pane refreshes a second: smooth to the eye, and a flood of events costs one redraw per frame, not per event."""

TAIL_INTERVAL = 0.25
"""Seconds between reads of another process's growing events.jsonl (a later issue swaps in watchfiles)."""

INBOX_INTERVAL = 2.0
"""Seconds between two looks for decisions waiting in any run of the workspace (the header's count)."""

STUDIO_THEMES = ("studio-dark", "studio-light", "studio-high-contrast")

EXIT_INTERRUPTED = 130
EXIT_BAD_LAUNCH = 2


@dataclass
class Launch:
    """What the command line asks the dashboard to do first."""

    workspace: Workspace
    action: Literal["view", "build", "resume", "run_backlog", "replay", "watch"]
    goal: str | None = None
    """For build."""
    mode: Literal["implicit", "explicit"] = "implicit"
    checkpoint_id: str | None = None
    """For resume."""
    speed: float = 1.0
    """Scripted agents' speed (0 = no waiting)."""
    theme: str | None = None
    """--theme NAME; overrides config.yaml's theme."""
    orch_id: str | None = None
    """For view and watch: which orchestration (default: the latest)."""
    log_path: Path | None = None
    """For replay: the events.jsonl to replay."""
    max_gap: float = MAX_GAP_S
    """For replay: the longest idle gap played between two events, in log seconds."""
    follow_latest: bool = False
    """For watch: switch to a newer orchestration when one starts."""
    read_only: bool = False
    """Served read-only to a browser (`studio-tui serve`): no run is started and no checkpoint resumed here."""
    execution: dict[str, Any] | None = None
    """--parallel / --engine / --address, over config.yaml's `execution:`."""


def exit_code_for(status: str) -> int:
    """0 completed, 130 interrupted, 1 failed/aborted/halted/cancelled."""
    if status == "interrupted":
        return EXIT_INTERRUPTED
    return 1 if status in BAD else 0


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
        return isinstance(self.item, CatchingUp) and isinstance(message, Watched) and isinstance(message.item, CatchingUp)


class StudioApp(App[int]):
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
        if launch.action == "replay" and launch.log_path is not None and launch.log_path.is_file():
            self.dashboard = ReplayScreen(launch.log_path, max_gap=launch.max_gap, feed=self.feed)
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
        self.theme = name

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
            if not isinstance(self.dashboard, ReplayScreen):
                self.feed.reset(OrchestrationState(), [])
            # else the ReplayScreen indexes and draws itself
        elif launch.action == "watch":
            self.watch(launch.orch_id, follow_latest=launch.follow_latest)
        else:
            self.view(launch.orch_id or self.workspace.latest(), launched=True)

    # ── drawing ──────────────────────────────────────────────────────────

    def draw(self) -> None:
        """Refresh the panes from the feed: at most once a frame, and once a second for the clocks."""
        if isinstance(self.dashboard, ReplayScreen):
            return  # it draws itself from its player
        now = self.clock()
        second = int(now)
        if not self.feed.dirty and second == self._drawn_second:
            return
        if not self.dashboard.is_attached or not self.dashboard.children:
            return  # shutting down: a last frame tick after the panes were removed draws nothing
        self._drawn_second = second
        self.feed.dirty = False
        with self.batch_update():
            self.dashboard.show(now, self._note())

    def _count_inbox(self) -> None:
        if not any(w.group == "inbox-count" and w.is_running for w in self.workers):
            self._inbox_worker()

    @work(thread=True, group="inbox-count", exit_on_error=False)
    def _inbox_worker(self) -> None:
        # the run this dashboard drives asks in its own dialog: the header counts what waits elsewhere
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

    def _stopped_note(self) -> str:
        """`STOPPED (no writer since HH:MM) · resume: …` for a followed run nobody writes any more."""
        state = self.feed.state
        label = stopped_label(self.workspace, state)
        if label is None:
            return ""
        if self._stopped_hint[0] != state.seq:
            self._stopped_hint = (state.seq, resume_hint(self.workspace, state))
        return f"{label} · {self._stopped_hint[1]}"

    # ── viewing an orchestration from disk ───────────────────────────────

    def view(self, orch_id: str | None, *, launched: bool = False) -> None:
        """Show an orchestration's log folded into state; follow it while another process runs it."""
        self._stop_following()
        if orch_id is None:
            self.feed.reset(OrchestrationState(), [])
            return
        try:
            path = self.workspace.events_path(self.workspace.resolve_orch(orch_id))
        except StudioError as exc:
            self.notify(str(exc), title="Cannot show it", severity="error", timeout=15, markup=False)
            if launched:
                self.exit_status = EXIT_BAD_LAUNCH
            self.feed.reset(OrchestrationState(), [])
            return
        self._tail = LogTail(path)
        self._read_log(self._tail, first=True)

    @work(thread=True, group="log-read")
    def _read_log(self, tail: LogTail, first: bool = False) -> None:
        if first:
            # The log already written: folded from its nearest snapshot, never held whole (issue 14).
            from studio_tui.core.replay.catchup import CatchUp

            try:
                with CatchUp(tail.path) as caught:
                    state = caught.run()
                    events = caught.recent_events()
                    tail.offset, tail.partial = caught.offset, b""
                    tail.bad_lines += len(caught.bad_lines)
            except (OSError, StudioError) as exc:
                state, events = OrchestrationState(), []
                if not isinstance(exc, FileNotFoundError) and os.path.lexists(tail.path):
                    tail.problem = str(exc)
            self.post_message(LogRead(tail, events, state))
            return
        events = tail.read_new(TAIL_CHUNK)
        self.post_message(LogRead(tail, events, None))

    @on(LogRead)
    def _log_read(self, message: LogRead) -> None:
        if message.tail is not self._tail:
            return  # an orchestration no longer shown
        if message.state is not None:
            self.feed.reset(message.state, message.events)
            if not message.state.finished and self._tail_timer is None:
                self._tail_timer = self.set_interval(TAIL_INTERVAL, self._poll_tail)
            return
        for event in message.events:
            self.feed.apply(event)
        if self.feed.state.finished:
            self._stop_following(keep_tail=True)

    def _poll_tail(self) -> None:
        if self._tail is not None and not any(w.group == "log-read" and w.is_running for w in self.workers):
            self._read_log(self._tail)

    def _stop_following(self, keep_tail: bool = False) -> None:
        if self.watch_note is not None:
            self.workers.cancel_group(self, "watch")
            self.watch_note = None
        if self._tail_timer is not None:
            self._tail_timer.stop()
            self._tail_timer = None
        if not keep_tail:
            self._tail = None

    # ── watching a run another process drives ────────────────────────────

    def watch(self, orch_id: str | None, *, follow_latest: bool = False) -> None:  # type: ignore[override]  # `studio-tui watch`; Textual's watch(obj, attr, cb) is not used on the app
        """Follow an orchestration's log read-only (never the workspace lock), as it is written."""
        self._stop_following()
        self.watch_note = "◌ watching (read-only)"
        self._follow(orch_id, follow_latest)

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def _follow(self, orch_id: str | None, follow_latest: bool) -> None:
        try:
            async for item in follow(self.workspace, orch_id, follow_latest=follow_latest, catch_up=True):
                self.post_message(Watched(item))
        except StudioError as exc:
            self.post_message(Watched(None, str(exc)))

    @on(Watched)
    def _watched(self, message: Watched) -> None:
        item = message.item
        if message.error is not None:
            self.watch_note = "not watching"
            self.notify(message.error, title="Cannot watch", severity="error", timeout=15, markup=False)
            if self.launch.action == "watch":
                self.exit_status = EXIT_BAD_LAUNCH
            self.feed.reset(OrchestrationState(), [])
        elif isinstance(item, Attached):
            self.watch_note = "◌ watching (read-only)"
            self.watch_bad_lines = 0
            self.feed.reset(OrchestrationState(), [])
        elif isinstance(item, CatchingUp):
            self.watch_note = f"◌ catching up {item.fraction:.0%} (read-only)"
            self.feed.dirty = True
        elif isinstance(item, CaughtUp):
            self.watch_note = "◌ watching (read-only)"
            self.watch_bad_lines += len(item.bad_lines)
            self.feed.reset(item.state, item.recent)
        elif isinstance(item, Batch):
            for event in item.events:
                self.feed.apply(event)
            self.watch_bad_lines += len(item.bad_lines)
            self.feed.dirty = True
        elif isinstance(item, Finished):
            self.watch_note = f"finished: {item.status} (read-only)"
            self.feed.dirty = True
            self.notify(fmt.literal(item.summary) or item.status, title=f"Watched run {item.status}", timeout=10, markup=False)
        elif isinstance(item, Switched):
            self.notify(f"A newer orchestration started: {item.to_id}", title="Following the latest", timeout=8, markup=False)
        elif isinstance(item, Waiting):
            self.watch_note = "◌ waiting for a run to start (read-only)"
            self.feed.dirty = True

    # ── runs in this process ─────────────────────────────────────────────

    def start_build(self, goal: str, mode: str = "implicit", *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.build(goal, mode=mode), launched=launched)

    def start_backlog(self, *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.run_backlog(), launched=launched)

    def start_resume_id(self, checkpoint_id: str, *, launched: bool = False) -> bool:
        try:
            record = self.workspace.find_checkpoint(checkpoint_id)
        except StudioError as exc:
            self._launch_failed(str(exc), launched)
            return False
        return self.start_resume(record, launched=launched)

    def start_resume(self, record: CheckpointRecord, *, launched: bool = False) -> bool:
        return self._start(lambda orch: orch.resume(record), launched=launched)

    def _launch_failed(self, reason: str, launched: bool) -> None:
        self.notify(reason, title="Cannot start the run", severity="error", timeout=15, markup=False)
        if launched:
            self.exit_status = EXIT_BAD_LAUNCH
            self.view(self.workspace.latest())

    def _start(self, begin: Callable[[Orchestrator], Awaitable[OrchestrationState]], *, launched: bool) -> bool:
        if self.active_run is not None:
            self.notify("A run is already active in this dashboard.", severity="warning")
            return False
        if self.launch.read_only:
            self.notify(
                "This dashboard is served read-only: it starts no run (serve --allow-control to drive one).",
                severity="warning",
                markup=False,
            )
            return False
        lock = self.workspace.lock()
        try:
            lock.acquire()
        except WorkspaceBusy as exc:
            self._launch_failed(str(exc), launched)
            return False
        try:
            config = self.workspace.config()
            if self.launch.execution:
                config = config.model_copy(update={"execution": config.execution.model_copy(update=self.launch.execution)})
            agents = agent_factory(self.workspace, config, speed=self.launch.speed)
        except StudioError as exc:
            lock.release()
            self._launch_failed(str(exc), launched)
            return False
        orchestrator = self._orchestrator(config, agents)
        self._stop_following()
        self.feed.reset(orchestrator.state, [])
        self.active_run = self.run_worker(
            self._drive(orchestrator, begin, lock, launched), name="orchestrator", group="run", exit_on_error=False
        )
        return True

    def _orchestrator(self, config: StudioConfig, agents: Callable[[str], Any]) -> Orchestrator:
        decider = InboxDecider(TuiDecider(self), self.workspace)  # an answer from the inbox (any process) counts too
        orchestrator = Orchestrator(
            self.workspace,
            config,
            decider=decider,
            agent_factory=agents,
            clock=self.orchestrator_clock,
            sleep=self.orchestrator_sleep,
        )
        decider.orch_id = lambda: orchestrator.state.id
        orchestrator.subscribe(self.feed.record)
        return orchestrator

    async def _drive(
        self,
        orchestrator: Orchestrator,
        begin: Callable[[Orchestrator], Awaitable[OrchestrationState]],
        lock: WorkspaceLock,
        launched: bool,
    ) -> None:
        """The worker: run the orchestrator; whatever happens, release the lock and say so."""
        error: str | None = None
        try:
            await begin(orchestrator)
        except StudioError as exc:
            error = str(exc)
            if launched:
                self.exit_status = EXIT_BAD_LAUNCH
        except Exception as exc:  # a bug before the orchestrator's own guard: say it, keep the dashboard
            error = f"{type(exc).__name__}: {exc}"
            self.exit_status = 1
        finally:
            lock.release()
            self.post_message(RunEnded(orchestrator.state, error))

    @on(RunEnded)
    def _run_ended(self, message: RunEnded) -> None:
        self.active_run = None
        state = message.state
        self.feed.dirty = True
        if message.error is not None:
            self.notify(message.error, title="Cannot start the run", severity="error", timeout=15, markup=False)
            if self._quitting:
                self.exit(self.exit_status)
            return
        self.last_run = state
        self.exit_status = exit_code_for(state.status)
        severity = "information" if state.status == "completed" else "warning" if state.status == "interrupted" else "error"
        self.notify(fmt.literal(state.summary) or state.status, title=f"Run {state.status}", severity=severity, timeout=10, markup=False)  # type: ignore[arg-type]
        if self._quitting:
            self.exit(self.exit_status)

    # ── questions from the orchestrator ──────────────────────────────────

    @on(DecisionNeeded)
    def _ask(self, message: DecisionNeeded) -> None:
        request, answer = message.request, message.answer
        screen = decision_screen(request)
        self._questions[request.id] = screen

        def answered(value: str | None) -> None:
            self._questions.pop(request.id, None)
            self.clear_notifications()  # the "waiting for you" toast is stale now
            if not answer.done():
                answer.set_result(value or "")

        self.clear_notifications()  # the dialog is the notice; a toast over it would hide its buttons on a small terminal
        self.push_screen(screen, answered)
        self.bell()

    @on(DecisionWithdrawn)
    def _withdrawn(self, message: DecisionWithdrawn) -> None:
        screen = self._questions.pop(message.decision_id, None)
        if screen is not None and screen is self.screen:
            self.pop_screen()

    # ── keys and commands ────────────────────────────────────────────────

    async def action_quit(self) -> None:
        """Quit; with a run active, ask first, then interrupt it (it saves a checkpoint) and exit 130."""
        if self.active_run is None:
            self.exit(self.exit_status)
            return
        if self._quitting:
            return  # already interrupting: the app exits when the run has saved its checkpoint
        top = self.screen
        if isinstance(top, ConfirmScreen) and top.purpose == "quit":
            top.dismiss(True)  # a second ctrl+c confirms
            return
        question = Text("A run is active. Interrupt it and quit?\n\n")
        question.append("The orchestrator saves an 'interrupted' checkpoint; resume it later with `c` or `studio-tui resume`.")
        self.push_screen(ConfirmScreen("Quit", question, yes="Interrupt and quit", no="Keep running", purpose="quit"), self._quit_confirmed)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes and self.active_run is not None:
            self._quitting = True
            self.active_run.cancel()
        elif yes:
            self.exit(self.exit_status)

    async def action_copy_or_quit(self) -> None:
        """ctrl+c: copy the mouse selection when there is one (terminal habit), else interrupt as before."""
        selected = self.screen.get_selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            self.screen.clear_selection()
            self.notify(f"Copied {len(selected)} character(s)", title="Copied", timeout=3)
            return
        await self.action_quit()

    def action_yank(self) -> None:
        """`y`: copy what is highlighted (agent key, checkpoint id, failure message, resume command)."""
        for holder in (self.focused, self.screen):
            text = getattr(holder, "yank_text", lambda: None)()
            if text:
                self.copy_to_clipboard(text)
                self.yanked = text
                self.notify(fmt.literal(text, max_chars=120), title="Copied to the clipboard", timeout=3, markup=False)
                return
        self.notify("Nothing to copy here: highlight an agent, checkpoint or failure.", severity="warning", timeout=4)

    def action_command_line(self) -> None:
        if isinstance(self.screen, CommandLine):
            return
        orch_ids = list(reversed(self.workspace.orchestrations()))
        cp_ids = [cp.id for cp in reversed(self.feed.state.checkpoints)]
        themes = [name for name in STUDIO_THEMES if name in self.available_themes]
        self.push_screen(CommandLine(completions(orch_ids, cp_ids, themes)), self.run_command)

    async def run_command(self, command: Command | None) -> None:
        """Run one `:` command; an unknown one or a missing argument says what is known."""
        if command is None:
            return
        verb, argument = command.verb, command.argument
        if verb == "q":
            await self.action_quit()
        elif verb == "checkpoints":
            self.action_checkpoints()
        elif verb == "help":
            self.action_help()
        elif verb == "inbox":
            self.action_inbox()
        elif verb == "theme" and argument in self.available_themes:
            self.theme = argument
        elif verb == "replay" and argument:
            self.open_replay(argument)
        elif verb == "export":
            self.action_export(argument or "md")
        elif verb == "fork" and argument:
            self.fork(argument)
        else:
            known = " ".join(f":{name}" for name in COMMANDS)
            what = f"{verb} {argument}".strip()
            needs = {"theme": "a theme name", "replay": "an orchestration id", "fork": "a checkpoint id"}.get(verb)
            why = (
                f":{verb} needs {needs}"
                if needs and (not argument or verb != "theme")
                else f"unknown command :{fmt.literal(what, max_chars=60)}"
            )
            if verb == "theme" and argument:
                why = f"no theme {fmt.literal(argument, max_chars=40)!r}"
            self.notify(f"{why}. Known: {known}", title="Command", severity="warning", timeout=8, markup=False)

    def action_export(self, fmt: str = "md") -> None:
        """Write the shown run's report (md or html) beside its log and preview it."""
        if fmt not in FORMATS:
            self.notify(f"export format {fmt!r}: use md or html", title="Export", severity="warning", markup=False)
            return
        if not self.feed.state.id:
            self.notify("No orchestration shown: nothing to export.", title="Export", severity="warning")
            return
        self.push_screen(ExportScreen(self.workspace, self.feed.state.id, fmt))

    def action_inbox(self) -> None:
        self.push_screen(InboxScreen(self.workspace, clock=self.clock))

    def fork(self, checkpoint_id: str) -> None:
        """`:fork CP`: a new orchestration from a checkpoint, run here (the original is left as it is)."""
        why = self.why_read_only()
        if why:
            self.notify(why, title="Cannot fork here", severity="warning", markup=False)
            return
        try:
            record = self.workspace.find_checkpoint(checkpoint_id)
        except StudioError as exc:
            self.notify(str(exc), title="Cannot fork", severity="error", markup=False)
            return
        self._start(lambda orch: orch.fork(record), launched=False)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.binding_sections()))

    def binding_sections(self) -> list[tuple[str, Iterable[Any]]]:
        palette = Binding(
            self.COMMAND_PALETTE_BINDING,
            "command_palette",
            "Commands",
            id="app.palette",
            tooltip="Resume a checkpoint, open a replay, switch theme, toggle panes",
        )
        return [
            ("Everywhere", [*self.BINDINGS, palette]),
            ("Dashboard", DashboardScreen.BINDINGS),
            ("Replay", ReplayScreen.BINDINGS),
            ("Bad lines", BadLinesScreen.BINDINGS),
            ("Agents", AgentTable.BINDINGS),
            ("Log filter", FilterInput.BINDINGS),
            ("Escalation", EscalationScreen.BINDINGS),
            ("Routing", RoutingScreen.BINDINGS),
            ("Question", QuestionScreen.BINDINGS),
            ("Low confidence", ConfidenceScreen.BINDINGS),
            ("Agent detail", AgentScreen.BINDINGS),
            ("Checkpoints", CheckpointBrowser.BINDINGS),
            ("Compare", CompareScreen.BINDINGS),
            ("Inbox", InboxScreen.BINDINGS),
            ("Export", ExportScreen.BINDINGS),
            ("Command line", CommandLine.BINDINGS),
            ("Handoffs", HandoffScreen.BINDINGS),
            ("Confirm", ConfirmScreen.BINDINGS),
            ("Help", HelpScreen.BINDINGS),
        ]

    def action_checkpoints(self) -> None:
        live = self.feed.state if self.feed.state.id else None
        browser = CheckpointBrowser(self.workspace, live, can_resume=self.active_run is None, read_only=self.why_read_only())
        self.push_screen(browser, self._resume_chosen)

    def why_read_only(self) -> str | None:
        """Why this dashboard cannot resume a checkpoint right now (said before anyone confirms), or None."""
        if any(isinstance(screen, ReplayScreen) for screen in self.screen_stack):
            return "A replay is read-only: resume from the dashboard or with `studio-tui resume CP_ID`."
        if self.launch.read_only:
            return "This dashboard is served read-only: resume from a terminal with `studio-tui resume CP_ID`."
        if self.watch_note is not None:
            return "Watch mode is read-only: another process drives this run; resume with `studio-tui resume CP_ID` once it ends."
        if self._tail_timer is not None:
            return "Another process is running this orchestration: resume once it ends (or from its own dashboard)."
        return None

    def _resume_chosen(self, record: CheckpointRecord | Fork | None) -> None:
        if isinstance(record, Fork):
            chosen = record.record
            self._start(lambda orch: orch.fork(chosen), launched=False)
            return
        if record is not None and any(isinstance(screen, ReplayScreen) for screen in self.screen_stack):
            hint = command_hint("--workspace", str(self.workspace.root), "resume", record.meta.id)
            self.notify(f"A replay is read-only: resume from the dashboard or `{hint}`.", severity="warning", markup=False)
        elif record is not None:
            self.start_resume(record)

    @on(AgentTable.Inspect)
    def open_handoffs(self, message: AgentTable.Inspect) -> None:
        self.push_screen(HandoffScreen(message.agent_key, lambda: self.feed.state))

    @on(AgentTable.Detail)
    def open_agent(self, message: AgentTable.Detail) -> None:
        """The agent detail over whatever shows it: the dashboard's feed, or a replay's own (live in both)."""
        feed = getattr(self.screen, "feed", None) or self.feed

        def folder() -> Path | None:
            return self.workspace.orch_dir(feed.state.id) if feed.state.id else None

        self.push_screen(AgentScreen(message.agent_key, lambda: (feed.state, list(feed.history)), folder, self.clock))

    def open_replay(self, orch_id: str) -> None:
        """Replay a past orchestration over the dashboard, read-only (Esc goes back)."""
        try:
            path = self.workspace.events_path(self.workspace.resolve_orch(orch_id))
        except StudioError as exc:
            self.notify(str(exc), title="Cannot replay it", severity="error", timeout=15, markup=False)
            return
        if not path.is_file():
            self.notify(f"{orch_id} has no events.jsonl yet.", title="Cannot replay it", severity="warning", markup=False)
            return
        self.push_screen(ReplayScreen(path, max_gap=self.launch.max_gap, closable=True))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Resume checkpoint", "Browse every checkpoint in the workspace and resume one", self.action_checkpoints)
        yield SystemCommand("Help: keys", "List every key binding", self.action_help)
        yield SystemCommand("Inbox: who needs me", "Every decision waiting in any run of this workspace; answer one", self.action_inbox)
        yield SystemCommand(
            "Command line", "The : command line (checkpoints, replay ID, theme NAME, fork CP, inbox, export)", self.action_command_line
        )
        for name in FORMATS:
            yield SystemCommand(
                f"Export report: {name}",
                f"Write the shown run's report as {name} beside its log and preview it",
                lambda f=name: self.action_export(f),
            )
        for orch_id in reversed(self.workspace.orchestrations()):
            yield SystemCommand(
                f"Open replay: {orch_id}",
                "Replay that orchestration read-only: play, step, jump to failures",
                lambda o=orch_id: self.open_replay(o),
            )
        for name in STUDIO_THEMES:
            if name in self.available_themes:
                yield SystemCommand(
                    f"Switch theme: {name}", "Use this theme for the rest of the session", lambda n=name: setattr(self, "theme", n)
                )
        for name, title in PANES.items():
            yield SystemCommand(f"Toggle pane: {title}", "Hide or show this pane", lambda n=name: self.dashboard.toggle_pane(n))


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
    state = app.last_run
    if state is None or not state.id:
        return
    out = console or Console(highlight=False)
    for line in outcome_lines(app.workspace.root, state, app.workspace.events_path(state.id)):
        out.print(line)
