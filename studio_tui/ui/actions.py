"""The dashboard's keys and `:` commands: quit, copy, help, checkpoints, export, inbox, fork, replay, agent detail."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.binding import Binding

from studio_tui.core.errors import StudioError
from studio_tui.ui import fmt
from studio_tui.ui.run_control import RunControl
from studio_tui.ui.widgets.agents.agent_table import AgentTable

if TYPE_CHECKING:
    from studio_tui.core.store import CheckpointRecord
    from studio_tui.ui.screens.checkpoints import Fork
    from studio_tui.ui.screens.command_line import Command

# Every screen here is imported where it is opened: the first frame needs none of them (issue 14, startup).

STUDIO_THEMES = ("studio-dark", "studio-light", "studio-high-contrast")


class KeyActions(RunControl):
    """What the app's keys, the `:` command line and the agent table's messages do."""

    # ── keys and commands ────────────────────────────────────────────────

    async def action_quit(self) -> None:
        """Quit; with a run active, ask first, then interrupt it (it saves a checkpoint) and exit 130."""
        if self.active_run is None:
            self.exit(self.exit_status)
            return
        if self._quitting:
            return  # already interrupting: the app exits when the run has saved its checkpoint
        from studio_tui.ui.screens.confirm import ConfirmScreen

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
        from studio_tui.ui.screens.command_line import CommandLine, completions

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
        from studio_tui.ui.screens.command_line import COMMANDS

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
        from studio_tui.core.export import FORMATS
        from studio_tui.ui.screens.export import ExportScreen

        if fmt not in FORMATS:
            self.notify(f"export format {fmt!r}: use md or html", title="Export", severity="warning", markup=False)
            return
        if not self.feed.state.id:
            self.notify("No orchestration shown: nothing to export.", title="Export", severity="warning")
            return
        self.push_screen(ExportScreen(self.workspace, self.feed.state.id, fmt))

    def action_inbox(self) -> None:
        from studio_tui.ui.screens.inbox import InboxScreen

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
        from studio_tui.ui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.binding_sections()))

    def binding_sections(self) -> list[tuple[str, Iterable[Any]]]:
        from studio_tui.ui.screens.agent_detail import AgentScreen
        from studio_tui.ui.screens.checkpoints import CheckpointBrowser
        from studio_tui.ui.screens.command_line import CommandLine
        from studio_tui.ui.screens.compare import CompareScreen
        from studio_tui.ui.screens.confirm import ConfirmScreen
        from studio_tui.ui.screens.dashboard import DashboardScreen
        from studio_tui.ui.screens.decisions import ConfidenceScreen, EscalationScreen, QuestionScreen, RoutingScreen
        from studio_tui.ui.screens.export import ExportScreen
        from studio_tui.ui.screens.handoffs import HandoffScreen
        from studio_tui.ui.screens.help import HelpScreen
        from studio_tui.ui.screens.inbox import InboxScreen
        from studio_tui.ui.screens.replay import BadLinesScreen, ReplayScreen
        from studio_tui.ui.widgets.eventlog.event_log import FilterInput

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
        from studio_tui.ui.screens.checkpoints import CheckpointBrowser

        live = self.feed.state if self.feed.state.id else None
        browser = CheckpointBrowser(self.workspace, live, can_resume=self.active_run is None, read_only=self.why_read_only())
        self.push_screen(browser, self._resume_chosen)

    def why_read_only(self) -> str | None:
        """Why this dashboard cannot resume a checkpoint right now (said before anyone confirms), or None."""
        if self.replay_shown():
            return "A replay is read-only: resume from the dashboard or with `studio-tui resume CP_ID`."
        if self.launch.read_only:
            return "This dashboard is served read-only: resume from a terminal with `studio-tui resume CP_ID`."
        if self.watch_note is not None:
            return "Watch mode is read-only: another process drives this run; resume with `studio-tui resume CP_ID` once it ends."
        if self._tail_timer is not None:
            return "Another process is running this orchestration: resume once it ends (or from its own dashboard)."
        return None

    def replay_shown(self) -> bool:
        """A replay (read-only) is on the screen stack."""
        from studio_tui.ui.screens.replay import ReplayScreen

        return any(isinstance(screen, ReplayScreen) for screen in self.screen_stack)

    def _resume_chosen(self, record: CheckpointRecord | Fork | None) -> None:
        from studio_tui.core.text import command_hint
        from studio_tui.ui.screens.checkpoints import Fork

        if isinstance(record, Fork):
            chosen = record.record
            self._start(lambda orch: orch.fork(chosen), launched=False)
            return
        if record is not None and self.replay_shown():
            hint = command_hint("--workspace", str(self.workspace.root), "resume", record.meta.id)
            self.notify(f"A replay is read-only: resume from the dashboard or `{hint}`.", severity="warning", markup=False)
        elif record is not None:
            self.start_resume(record)

    @on(AgentTable.Inspect)
    def open_handoffs(self, message: AgentTable.Inspect) -> None:
        from studio_tui.ui.screens.handoffs import HandoffScreen

        self.push_screen(HandoffScreen(message.agent_key, lambda: self.feed.state))

    @on(AgentTable.Detail)
    def open_agent(self, message: AgentTable.Detail) -> None:
        """The agent detail over whatever shows it: the dashboard's feed, or a replay's own (live in both)."""
        from studio_tui.ui.screens.agent_detail import AgentScreen

        feed = getattr(self.screen, "feed", None) or self.feed

        def folder() -> Path | None:
            return self.workspace.orch_dir(feed.state.id) if feed.state.id else None

        self.push_screen(AgentScreen(message.agent_key, lambda: (feed.state, list(feed.history)), folder, self.clock))

    def open_replay(self, orch_id: str) -> None:
        """Replay a past orchestration over the dashboard, read-only (Esc goes back)."""
        from studio_tui.ui.screens.replay import ReplayScreen

        try:
            path = self.workspace.events_path(self.workspace.resolve_orch(orch_id))
        except StudioError as exc:
            self.notify(str(exc), title="Cannot replay it", severity="error", timeout=15, markup=False)
            return
        if not path.is_file():
            self.notify(f"{orch_id} has no events.jsonl yet.", title="Cannot replay it", severity="warning", markup=False)
            return
        self.push_screen(ReplayScreen(path, max_gap=self.launch.replay_max_gap(), closable=True))
