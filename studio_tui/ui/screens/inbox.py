"""The inbox (`i`): every decision waiting in any run of the workspace, with its age; answer one from here."""

from __future__ import annotations

import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Static

from studio_tui.core.errors import StudioError
from studio_tui.core.inbox import Inbox, InboxItem, post_answer, waiting_decisions
from studio_tui.core.store import Workspace
from studio_tui.ui import fmt

REFRESH_SECONDS = 1.0
"""How often an open inbox looks again (runs elsewhere ask and get answered)."""


class InboxScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,i,q", "close", "Close", id="inbox.close", tooltip="Back to the dashboard"),
        Binding("enter", "answer", "Answer", id="inbox.answer", tooltip="Answer the highlighted decision: that run's own process takes it"),
        Binding(
            "y",
            "app.yank",
            "Copy",
            id="inbox.yank",
            tooltip="Copy the `studio-tui answer` command for the highlighted decision",
            show=False,
        ),
    ]

    class Found(Message):
        def __init__(self, inbox: Inbox) -> None:
            super().__init__()
            self.inbox = inbox

    def __init__(self, workspace: Workspace, clock=time.time) -> None:
        super().__init__()
        self.workspace = workspace
        self.clock = clock
        self.items: list[InboxItem] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog inbox") as dialog:
            dialog.border_title = "Inbox: who needs me"
            dialog.border_subtitle = "Enter answer · y copy command · Esc close"
            yield DataTable(id="inbox-list", cursor_type="row")
            yield Static(id="inbox-detail")
            yield Input(placeholder="answer, then Enter (Esc cancels)", id="inbox-answer")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Age", "Run", "Kind", "Agent", "Question")
        self.query_one("#inbox-answer", Input).display = False
        self._look()
        self.set_interval(REFRESH_SECONDS, self._look)

    @work(thread=True, exclusive=True, group="inbox")
    def _look(self) -> None:
        self.post_message(self.Found(waiting_decisions(self.workspace)))

    @on(Found)
    def _found(self, message: Found) -> None:
        table = self.query_one(DataTable)
        keep = self.highlighted
        self.items = message.inbox.items
        now = self.clock()
        table.clear()
        for item in self.items:
            table.add_row(
                Text(fmt.duration(item.age(now))),
                Text(item.orch_id),
                Text(fmt.literal(item.kind, max_chars=20)),
                Text(fmt.literal(item.agent or "-", max_chars=30)),
                Text(fmt.crop(fmt.literal(item.prompt), 48)),
            )
        if keep in self.items:
            table.move_cursor(row=self.items.index(keep), animate=False)
        count = len(self.items)
        self.query_one(".inbox").border_title = f"Inbox: who needs me ({count} waiting)"
        self._detail()

    @property
    def highlighted(self) -> InboxItem | None:
        row = self.query_one(DataTable).cursor_row
        return self.items[row] if self.items and 0 <= row < len(self.items) else None

    @on(DataTable.RowHighlighted, "#inbox-list")
    def _detail(self) -> None:
        item = self.highlighted
        detail = self.query_one("#inbox-detail", Static)
        if item is None:
            detail.update(Text("Nothing is waiting for you in this workspace."))
            return
        text = Text()
        text.append(f"{item.orch_id} · {fmt.literal(item.goal, max_chars=120)}\n", "bold")
        text.append(fmt.literal(item.prompt, max_chars=1000, one_line=False) + "\n")
        for key, value in list(item.details.items())[:8]:
            if key != "options":
                text.append(f"{fmt.literal(key, max_chars=30)}: ", "bold")
                text.append(fmt.literal(value, max_chars=200) + "\n")
        if item.options:
            text.append("answers: " + " · ".join(fmt.literal(o, max_chars=40) for o in item.options))
        else:
            text.append("a free-text answer")
        detail.update(text)

    def yank_text(self) -> str | None:
        item = self.highlighted
        if item is None:
            return None
        answer = item.options[0] if item.options else "ANSWER"
        return f"studio-tui answer {item.orch_id} {item.decision_id} {answer}"

    @on(DataTable.RowSelected, "#inbox-list")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_answer()

    def action_answer(self) -> None:
        if self.highlighted is None:
            return
        field = self.query_one("#inbox-answer", Input)
        field.display = True
        field.value = ""
        field.focus()

    @on(Input.Submitted, "#inbox-answer")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        item = self.highlighted
        field = self.query_one("#inbox-answer", Input)
        if item is None:
            return
        try:
            post_answer(self.workspace, item.orch_id, item.decision_id, event.value.strip())
        except StudioError as exc:
            self.notify(str(exc), title="Not sent", severity="warning", markup=False)
            return
        field.display = False
        self.query_one(DataTable).focus()
        self.notify(f"{item.orch_id} takes it at its next look (a fraction of a second).", title="Answer sent", timeout=5, markup=False)
        self._look()

    def action_close(self) -> None:
        field = self.query_one("#inbox-answer", Input)
        if field.display:
            field.display = False
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)
