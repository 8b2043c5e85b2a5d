"""A yes/no question of the dashboard's own (quit during a run, resume a checkpoint)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True for yes; Esc and `n` say no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Go back without doing it"),
    ]

    def __init__(self, title: str, question: Text | str, *, yes: str = "Yes", no: str = "No", purpose: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.question = question if isinstance(question, Text) else Text(question)
        self.yes_label = yes
        self.no_label = no
        self.purpose = purpose
        """What the confirmation is for (`quit`, `resume`), so a repeated request can recognise it."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Static(self.question, classes="prompt")
            with Horizontal(classes="buttons"):
                yield Button(Text(f"[y] {self.yes_label}"), id="yes", variant="warning", compact=True)
                yield Button(Text(f"[n] {self.no_label}"), id="no", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")
