"""The command palette's entries: resume, help, inbox, export, replays, themes and panes."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import SystemCommand
from textual.screen import Screen

from studio_tui.ui.actions import STUDIO_THEMES, KeyActions
from studio_tui.ui.screens.dashboard import PANES


class PaletteCommands(KeyActions):
    """Adds the dashboard's own commands to Textual's palette (ctrl+p)."""

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from studio_tui.core.export import FORMATS

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
