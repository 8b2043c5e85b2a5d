"""The checkpoint browser (`c`): every checkpoint in the workspace as a tree of runs (parent -> forks), a
preview, resume and fork with confirmation."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from studio_tui.core.errors import StudioError
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import CheckpointRecord, Workspace
from studio_tui.ui import fmt
from studio_tui.ui.screens.confirm import ConfirmScreen
from studio_tui.ui.widgets.checkpoints.preview import CheckpointPreview

COMPACT_WIDTH = 110
"""Narrower than this, the preview goes under the list instead of beside it."""


@dataclass(frozen=True)
class Entry:
    """One checkpoint file and what its orchestration's state says about it: listed without opening the file."""

    cp_id: str
    orch_id: str
    path: Path
    name: str = "?"
    after_agent: str | None = None
    ts: float = 0.0
    seq: int = 0
    depth: int = 0
    """0 for a run started by build; 1 for a fork of it, 2 for a fork of a fork…"""


@dataclass(frozen=True)
class Fork:
    """The browser's answer when the person chose to fork (not resume) a checkpoint."""

    record: CheckpointRecord


@dataclass
class Found:
    """Everything the browser lists, read from disk in a thread."""

    entries: list[Entry] = field(default_factory=list)
    latest: dict[str, OrchestrationState] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    records: dict[Path, CheckpointRecord] = field(default_factory=dict)
    """Checkpoint files already read while listing (those the latest state no longer names)."""


def find_checkpoints(workspace: Workspace, live: OrchestrationState | None) -> Found:
    """Every checkpoint file, newest first, named from its orchestration's latest state (the live one as given).

    Only state files are parsed here, one per orchestration; a checkpoint's own file is read when previewed.
    """
    found = Found()
    for orch_id in workspace.orchestrations():
        if live is not None and live.id == orch_id:
            found.latest[orch_id] = live
            continue
        try:
            found.latest[orch_id] = workspace.load_state(orch_id)
        except Exception as exc:  # a damaged state.yaml is listed as a problem, never a crash
            found.problems.append(
                str(exc) if isinstance(exc, StudioError) else f"{orch_id}: unreadable state ({type(exc).__name__}: {exc})"
            )
    known = {cp.id: cp for state in found.latest.values() for cp in state.checkpoints}
    by_orch: dict[str, list[Entry]] = {}
    for cp_id, path in workspace.checkpoint_paths():
        cp = known.get(cp_id)
        orch_id = path.parent.parent.name
        if cp is None:
            # Saved after the checkpoint a later resume went back to: the state forgot it, its file did not.
            entry = _entry_from_file(workspace, cp_id, orch_id, path, found)
        else:
            entry = Entry(cp_id, orch_id, path, cp.name, cp.after_agent, cp.ts, cp.seq)
        by_orch.setdefault(orch_id, []).append(entry)
    found.entries = _as_tree(by_orch, found.latest)
    return found


def _entry_from_file(workspace: Workspace, cp_id: str, orch_id: str, path: Path, found: Found) -> Entry:
    """An entry named from the checkpoint file itself; a damaged file is listed as `?` (its preview says why)."""
    try:
        record = workspace.load_checkpoint(path)
    except Exception:  # damaged: listed, and the preview reports the problem when highlighted
        try:
            ts = float(cp_id.removeprefix("cp_"))
        except ValueError:
            ts = 0.0
        return Entry(cp_id, orch_id, path, ts=ts)
    found.records[path] = record
    meta = record.meta
    return Entry(cp_id, orch_id, path, meta.name, meta.after_agent, meta.ts, meta.seq)


def _as_tree(by_orch: dict[str, list[Entry]], latest: dict[str, OrchestrationState]) -> list[Entry]:
    """Runs newest first, each followed by its forks (indented), each run's checkpoints newest first."""
    parent_of = {o: s.parent_orch_id for o, s in latest.items() if s.parent_orch_id in by_orch or s.parent_orch_id in latest}
    children: dict[str | None, list[str]] = {}
    for orch_id in by_orch:
        children.setdefault(parent_of.get(orch_id), []).append(orch_id)
    ordered: list[Entry] = []

    def newest(orch_id: str) -> float:
        return max((e.ts for e in by_orch.get(orch_id, [])), default=0.0)

    def visit(orch_id: str, depth: int, seen: set[str]) -> None:
        if orch_id in seen:
            return
        seen.add(orch_id)
        entries = sorted(by_orch.get(orch_id, []), key=lambda e: (e.ts, e.seq, e.cp_id), reverse=True)
        ordered.extend(Entry(e.cp_id, e.orch_id, e.path, e.name, e.after_agent, e.ts, e.seq, depth) for e in entries)
        for child in sorted(children.get(orch_id, []), key=newest, reverse=True):
            visit(child, depth + 1, seen)

    seen: set[str] = set()
    for root in sorted(children.get(None, []), key=newest, reverse=True):
        visit(root, 0, seen)
    for orch_id in by_orch:  # a cycle or a missing parent: still listed
        visit(orch_id, 0, seen)
    return ordered


class CheckpointBrowser(ModalScreen["CheckpointRecord | Fork | None"]):
    """Dismisses with the checkpoint to resume, a Fork of one (confirmed), or None."""

    BINDINGS = [
        Binding("r", "resume", "Resume", id="checkpoints.resume", tooltip="Resume the highlighted checkpoint here (asks first)"),
        Binding(
            "f",
            "fork",
            "Fork",
            id="checkpoints.fork",
            tooltip="Start a new run from the highlighted checkpoint's state and files (asks first)",
        ),
        Binding("m", "mark", "Mark", id="checkpoints.mark", tooltip="Mark the highlighted checkpoint for compare (two at most)"),
        Binding(
            "d",
            "compare",
            "Compare",
            id="checkpoints.compare",
            tooltip="Compare the two marked checkpoints (or the marked one and the highlighted) side by side",
        ),
        Binding(
            "y", "app.yank", "Copy", id="checkpoints.yank", tooltip="Copy the command that resumes the highlighted checkpoint", show=False
        ),
        Binding("escape,c,q", "close", "Close", id="checkpoints.close", tooltip="Back to the dashboard"),
    ]

    class Loaded(Message):
        def __init__(self, found: Found) -> None:
            super().__init__()
            self.found = found

    class PreviewRead(Message):
        def __init__(self, entry: Entry, record: CheckpointRecord | None, problem: str = "") -> None:
            super().__init__()
            self.entry = entry
            self.record = record
            self.problem = problem

    def __init__(
        self, workspace: Workspace, live: OrchestrationState | None, *, can_resume: bool = True, read_only: str | None = None
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.live = live
        self.can_resume = can_resume
        self.read_only = read_only
        """Why nothing can be resumed from here (watch, replay): Resume is disabled and this is shown up front."""
        self.found = Found()
        self.records: dict[Path, CheckpointRecord] = {}
        """Checkpoint files read so far (for previews and resume)."""
        self.problems: dict[Path, str] = {}
        self.marked: list[Entry] = []
        """Checkpoints marked for compare, in the order marked (two at most)."""
        self._resume_when_read: Entry | None = None
        """Resume was asked for before the highlighted checkpoint was read: confirm once it is."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog browser") as dialog:
            dialog.border_title = "Checkpoints"
            dialog.border_subtitle = "read-only · Esc close" if self.read_only else "Enter/r resume · f fork · Esc close"
            if self.read_only:
                yield Static(Text(self.read_only), id="browser-read-only", classes="hint")
            with Horizontal(id="browser-body"):
                yield DataTable(id="checkpoint-list", cursor_type="row")
                with VerticalScroll(id="checkpoint-preview-scroll"):
                    yield CheckpointPreview(id="checkpoint-preview")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        self._columns = table.add_columns("Time", "Name", "After", "Orchestration", "Checkpoint")  # the id last: the preview names it too
        table.loading = True
        live = self.live.model_copy(deep=True) if self.live is not None else None
        self._read(live)

    def on_resize(self) -> None:
        self.set_class(self.size.width < COMPACT_WIDTH, "-compact")

    @work(thread=True, exclusive=True, group="checkpoint-list")
    def _read(self, live: OrchestrationState | None) -> None:
        self.post_message(self.Loaded(find_checkpoints(self.workspace, live)))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.found = message.found
        self.records.update(message.found.records)
        if self.live is not None and self.live.id in self.found.latest:
            self.found.latest[self.live.id] = self.live  # the live object, so "since then" keeps up
        table = self.query_one(DataTable)
        table.loading = False
        for entry in self.found.entries:
            table.add_row(
                Text(fmt.clock_time(entry.ts)),
                Text(fmt.crop(fmt.literal(entry.name), 26)),
                Text(fmt.literal(entry.after_agent or "-", max_chars=30)),
                Text(("  " * entry.depth + "↳ " if entry.depth else "") + entry.orch_id),
                Text(entry.cp_id),
                key=str(entry.path),
            )
        count, runs = len(self.found.entries), len(self.found.latest)
        self.query_one(".browser").border_title = f"Checkpoints ({count} in {runs} orchestration{'s' if runs != 1 else ''})"
        for problem in self.found.problems:
            self.notify(problem, title="Unreadable state", severity="warning", markup=False)
        if not count:
            self.query_one(CheckpointPreview).update(Text("No checkpoints in this workspace yet: a run saves one after each agent."))
        table.focus()
        self._preview()

    @property
    def highlighted(self) -> Entry | None:
        table = self.query_one(DataTable)
        if not self.found.entries or not 0 <= table.cursor_row < len(self.found.entries):
            return None
        return self.found.entries[table.cursor_row]

    @property
    def previewed(self) -> CheckpointRecord | None:
        """The highlighted checkpoint's contents, once read."""
        entry = self.highlighted
        return self.records.get(entry.path) if entry else None

    @on(DataTable.RowHighlighted, "#checkpoint-list")
    def _preview(self) -> None:
        entry = self.highlighted
        preview = self.query_one(CheckpointPreview)
        if entry is None:
            return
        if entry.path in self.records:
            preview.show(self.records[entry.path], self.found.latest.get(entry.orch_id))
        elif entry.path in self.problems:
            preview.update(Text(self.problems[entry.path]))
        else:
            preview.update(Text(f"reading {entry.cp_id}…"))
            self._read_checkpoint(entry)

    @work(thread=True, exclusive=True, group="checkpoint-preview")
    def _read_checkpoint(self, entry: Entry) -> None:
        try:
            self.post_message(self.PreviewRead(entry, self.workspace.load_checkpoint(entry.path)))
        except Exception as exc:  # a damaged checkpoint is shown as such, never a crash
            problem = str(exc) if isinstance(exc, StudioError) else f"{entry.path}: unreadable ({type(exc).__name__}: {exc})"
            self.post_message(self.PreviewRead(entry, None, f"{problem}\n\nThe file is kept as it is; resume from another checkpoint."))

    @on(PreviewRead)
    def _preview_read(self, message: PreviewRead) -> None:
        if message.record is not None:
            self.records[message.entry.path] = message.record
        else:
            self.problems[message.entry.path] = message.problem
        if self.highlighted == message.entry:
            self._preview()
        if self._resume_when_read == message.entry:
            self._resume_when_read = None
            self.action_resume()

    @on(DataTable.RowSelected, "#checkpoint-list")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_resume()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("resume", "fork") and self.read_only:
            return None  # shown disabled in the footer: the reason is on screen
        return True

    def action_resume(self) -> None:
        entry = self.highlighted
        if entry is None:
            return
        if self.read_only:
            self.notify(self.read_only, title="Cannot resume here", severity="warning", markup=False)
            return
        if not self.can_resume:
            self.notify("A run is active in this dashboard: let it finish or quit it first.", severity="warning")
            return
        if entry.path in self.problems:
            self.notify(self.problems[entry.path], title="Cannot resume", severity="warning", markup=False)
            return
        record = self.records.get(entry.path)
        if record is None:
            self._resume_when_read = entry  # being read in a thread: ask as soon as it is
            return
        question = Text()
        question.append(f"Resume {record.meta.orch_id}\nfrom {record.meta.id} ")
        question.append(fmt.literal(record.meta.name), "bold")
        question.append(f" (after {fmt.literal(record.meta.after_agent or '-')})?\n\n")
        latest = self.found.latest.get(record.meta.orch_id)
        newest = latest.checkpoints[-1].id if latest is not None and latest.checkpoints else record.meta.id
        if latest is not None and (latest.status == "completed" or newest != record.meta.id):
            question.append("This is a REWIND: ", "bold")
            question.append(
                "the work recorded after this checkpoint is done again, from its files as they were then "
                f"(the newest checkpoint of this run is {newest}).\n"
            )
        else:
            question.append(
                "The run continues in this dashboard after the last step its log records as completed, appending to the same log."
            )

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(record)

        self.app.push_screen(ConfirmScreen("Resume from checkpoint", question, yes="Resume", purpose="resume"), confirmed)

    def action_fork(self) -> None:
        entry = self.highlighted
        if entry is None:
            return
        if self.read_only:
            self.notify(self.read_only, title="Cannot fork here", severity="warning", markup=False)
            return
        if not self.can_resume:
            self.notify("A run is active in this dashboard: let it finish or quit it first.", severity="warning")
            return
        record = self.records.get(entry.path)
        if record is None:
            self.notify(self.problems.get(entry.path, f"{entry.cp_id} is still being read"), severity="warning", markup=False)
            return
        question = Text()
        question.append(f"Fork {record.meta.orch_id}\nat {record.meta.id} ")
        question.append(fmt.literal(record.meta.name), "bold")
        question.append("?\n\nA new run starts from this checkpoint's state, with its plans, backlog and learnings put back; ")
        question.append("the original run is kept as it is.")

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.dismiss(Fork(record))

        self.app.push_screen(ConfirmScreen("Fork from checkpoint", question, yes="Fork", purpose="fork"), confirmed)

    def action_mark(self) -> None:
        entry = self.highlighted
        if entry is None:
            return
        if entry in self.marked:
            self.marked.remove(entry)
        else:
            self.marked = [*self.marked, entry][-2:]
        table = self.query_one(DataTable)
        for each in self.found.entries:
            label = ("● " if each in self.marked else "") + fmt.clock_time(each.ts)
            table.update_cell(str(each.path), self._columns[0], Text(label), update_width=True)

    def action_compare(self) -> None:
        pair = list(self.marked)
        if len(pair) == 1 and self.highlighted is not None and self.highlighted not in pair:
            pair.append(self.highlighted)
        if len(pair) != 2:
            self.notify("Mark two checkpoints with m (or one, then highlight the other), then d.", title="Compare", severity="warning")
            return
        older, newer = sorted(pair, key=lambda e: (e.ts, e.seq))
        self._compare(older, newer)

    @work(thread=True, exclusive=True, group="checkpoint-compare")
    def _compare(self, left: Entry, right: Entry) -> None:
        try:
            records = [self.records.get(e.path) or self.workspace.load_checkpoint(e.path) for e in (left, right)]
        except Exception as exc:  # a damaged checkpoint cannot be compared: say which
            self.app.call_from_thread(self.notify, str(exc), title="Cannot compare", severity="warning", markup=False)
            return
        from studio_tui.ui.screens.compare import CompareScreen

        self.app.call_from_thread(self.app.push_screen, CompareScreen(records[0], records[1]))

    def yank_text(self) -> str | None:
        """`y` here copies the command that resumes the highlighted checkpoint."""
        entry = self.highlighted
        return f"studio-tui --workspace {shlex.quote(str(self.workspace.root))} resume {entry.cp_id}" if entry else None

    def action_close(self) -> None:
        self.dismiss(None)
