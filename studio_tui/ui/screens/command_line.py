"""The `:` command line (k9s style): one line at the bottom, completion from what exists, Enter runs it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

COMMANDS: dict[str, str] = {
    "checkpoints": "browse every checkpoint; resume one",
    "inbox": "every decision waiting in any run",
    "replay": "replay ORCH_ID read-only",
    "theme": "switch to theme NAME",
    "fork": "fork a new run from checkpoint CP_ID",
    "export": "export the shown run as md or html",
    "help": "every key binding",
    "q": "quit (asks first while a run is active)",
}
"""Verb -> what it does (shown under the line and in the help)."""

ALIASES = {"quit": "q", "cp": "checkpoints", "checkpoint": "checkpoints", "i": "inbox"}


@dataclass(frozen=True)
class Command:
    verb: str
    argument: str = ""


def parse_command(line: str) -> Command | None:
    """`:replay orch_1` -> Command("replay", "orch_1"); a leading `:` is allowed; None for an empty line."""
    words = line.strip().removeprefix(":").strip().split(maxsplit=1)
    if not words:
        return None
    verb = ALIASES.get(words[0].lower(), words[0].lower())
    return Command(verb, words[1].strip() if len(words) > 1 else "")


def completions(orch_ids: Iterable[str], checkpoint_ids: Iterable[str], themes: Iterable[str]) -> list[str]:
    """Every full command line worth completing to, most useful first."""
    lines = ["checkpoints", "inbox", "export md", "export html", "help", "q"]
    lines += [f"theme {name}" for name in themes]
    lines += [f"replay {orch_id}" for orch_id in orch_ids]
    lines += [f"fork {cp_id}" for cp_id in checkpoint_ids]
    return lines


class CommandLine(ModalScreen[Command | None]):
    """Dismisses with the parsed command, or None (Esc, empty line)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="command.close", tooltip="Back without running anything"),
        Binding("tab", "complete", "Complete", id="command.complete", tooltip="Take the suggested completion"),
    ]

    def __init__(self, candidates: list[str]) -> None:
        super().__init__(id="command-line-screen")
        self.candidates = candidates

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Static(" · ".join(f":{verb}" for verb in COMMANDS), id="command-help", classes="hint")
            yield Input(
                placeholder="command (Tab completes, Enter runs, Esc closes)",
                suggester=SuggestFromList(self.candidates, case_sensitive=False),
                id="command-input",
            )

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def action_complete(self) -> None:
        field = self.query_one(Input)
        field.cursor_position = len(field.value)
        field.action_cursor_right()  # at the end, Input takes its suggestion

    @on(Input.Submitted, "#command-input")
    def _run(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(parse_command(event.value))

    def action_close(self) -> None:
        self.dismiss(None)
