"""Export preview: the shown run's report, written beside its log as report.md / report.html, and previewed here."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from studio_tui.core.errors import StudioError
from studio_tui.core.export import export_report, report_renderable
from studio_tui.core.reducer import fold
from studio_tui.core.store import Workspace, read_log
from studio_tui.core.store.atomic import atomic_write


class ExportScreen(ModalScreen[None]):
    """Reads the whole log in a thread (the dashboard keeps only its tail), writes the report, shows it."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="export.close", tooltip="Back to the dashboard"),
        Binding("y", "yank_path", "Copy path", id="export.yank", tooltip="Copy the written report's path to the clipboard"),
    ]

    class Written(Message):
        def __init__(self, path: Path | None, preview: object, problem: str = "") -> None:
            super().__init__()
            self.path = path
            self.preview = preview
            self.problem = problem

    def __init__(self, workspace: Workspace, orch_id: str, fmt: str) -> None:
        super().__init__()
        self.workspace = workspace
        self.orch_id = orch_id
        self.fmt = fmt
        self.path: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog export") as dialog:
            dialog.border_title = f"Export {self.fmt}"
            dialog.border_subtitle = "y copy path · Esc close"
            yield Static(Text(f"writing the {self.fmt} report of {self.orch_id}…"), id="export-where", classes="hint")
            with VerticalScroll(id="export-scroll"):
                yield Static(id="export-preview")
        yield Footer()

    def on_mount(self) -> None:
        self._write()

    @work(thread=True, exclusive=True, group="export")
    def _write(self) -> None:
        try:
            read = read_log(self.workspace.events_path(self.orch_id))
            state = fold(read.events) if read.events else self.workspace.load_state(self.orch_id)
            path = self.workspace.orch_dir(self.orch_id) / f"report.{self.fmt}"
            atomic_write(path, export_report(state, read.events, self.fmt))
            self.post_message(self.Written(path, report_renderable(state, read.events)))
        except (StudioError, OSError) as exc:
            self.post_message(self.Written(None, Text(""), str(exc)))

    @on(Written)
    def _written(self, message: Written) -> None:
        where = self.query_one("#export-where", Static)
        if message.path is None:
            where.update(Text(f"Cannot export: {message.problem}"))
            return
        self.path = message.path
        try:  # shown from the project root (`y` copies the whole path)
            shown = message.path.relative_to(self.workspace.root.parent)
        except ValueError:
            shown = message.path
        where.update(Text(f"written: {shown}"))
        self.query_one("#export-preview", Static).update(message.preview)  # type: ignore[arg-type]

    def yank_text(self) -> str | None:
        return str(self.path) if self.path else None

    def action_yank_path(self) -> None:
        self.app.action_yank()  # type: ignore[attr-defined]

    def action_close(self) -> None:
        self.dismiss(None)
