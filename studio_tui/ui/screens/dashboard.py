"""The one dashboard screen: header, agents, budget, checkpoints, failures, event log, footer.

Wide terminals show every pane at once; small ones (80x24 and below) show one pane at a time under tabs.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Tab, Tabs

from studio_tui.ui.feed import Feed
from studio_tui.ui.footer import CoalescingFooter
from studio_tui.ui.widgets.agents.agent_detail import AgentDetail
from studio_tui.ui.widgets.agents.agent_table import AgentTable
from studio_tui.ui.widgets.budget.budget_pane import BudgetPane
from studio_tui.ui.widgets.checkpoints.checkpoint_table import CheckpointTable
from studio_tui.ui.widgets.eventlog.event_log import EventLogPane
from studio_tui.ui.widgets.failures.failure_table import FailureTable
from studio_tui.ui.widgets.header.status_header import StatusHeader
from studio_tui.ui.widgets.table import StateTable

COMPACT_WIDTH = 100
COMPACT_HEIGHT = 30
"""Below either, panes go under tabs: 120x40 fits every pane, 80x24 cannot show a useful table beside another."""

PANES: dict[str, str] = {
    "agents": "Agents",
    "budget": "Budget",
    "checkpoints": "Checkpoints",
    "failures": "Failures",
    "log": "Event log",
}
"""Pane name -> title, in tab order (keys 1-5)."""

ROWS: dict[str, tuple[str, ...]] = {"top": ("agents", "budget"), "middle": ("checkpoints", "failures"), "bottom": ("log",)}


def is_compact(size: Size) -> bool:
    """Panes go under tabs on a terminal this size."""
    return size.width < COMPACT_WIDTH or size.height < COMPACT_HEIGHT


def new_pane_tabs() -> Tabs:
    return Tabs(*(Tab(f"{i} {title}", id=f"tab-{name}") for i, (name, title) in enumerate(PANES.items(), start=1)), id="pane-tabs")


class Pane(Vertical):
    """A titled box around a pane's widgets."""

    def __init__(self, *children: Widget, name: str) -> None:
        super().__init__(*children, id=f"{name}-pane", classes="pane")
        self.border_title = PANES[name]


class DashboardScreen(Screen):
    """Draws the feed it is given; the app decides when (`show`, at the frame rate)."""

    BINDINGS = [
        Binding(
            "c",
            "app.checkpoints",
            "Checkpoints",
            id="dashboard.checkpoints",
            tooltip="Browse every checkpoint in the workspace; resume one",
        ),
        Binding("i", "app.inbox", "Inbox", id="dashboard.inbox", tooltip="Every decision waiting in any run of this workspace; answer one"),
        Binding(
            "slash",
            "filter_log",
            "Search log",
            id="dashboard.filter",
            tooltip="Search the event log: words anywhere in a line, a match count, n/N to jump",
        ),
        Binding(
            "1",
            "pane('agents')",
            "Agents",
            id="dashboard.pane.agents",
            tooltip="Show (small terminal) or focus the agent sequence",
            show=False,
        ),
        Binding(
            "2",
            "pane('budget')",
            "Budget",
            id="dashboard.pane.budget",
            tooltip="Show (small terminal) or focus the context budget",
            show=False,
        ),
        Binding(
            "3",
            "pane('checkpoints')",
            "Checkpoints",
            id="dashboard.pane.checkpoints",
            tooltip="Show (small terminal) or focus the checkpoints",
            show=False,
        ),
        Binding(
            "4",
            "pane('failures')",
            "Failures",
            id="dashboard.pane.failures",
            tooltip="Show (small terminal) or focus the failures",
            show=False,
        ),
        Binding("5", "pane('log')", "Log", id="dashboard.pane.log", tooltip="Show (small terminal) or focus the event log", show=False),
    ]

    def __init__(self, feed: Feed) -> None:
        super().__init__(id="dashboard")
        self.feed = feed
        self.compact = False
        self.current = "agents"
        """The pane shown under the tabs when compact."""
        self.hidden: set[str] = set()
        """Panes toggled off from the command palette (wide layout only)."""
        self._subtitles_shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        if is_compact(self.app.size):
            yield new_pane_tabs()
        # else the compact layout's tabs are mounted if the terminal becomes small (pane_tabs): ten widgets fewer
        with Horizontal(id="top", classes="row"):
            yield Pane(AgentTable(id="agents"), AgentDetail(id="agent-detail"), name="agents")
            yield BudgetPane(id="budget-pane", classes="pane")
        with Horizontal(id="middle", classes="row"):
            yield Pane(CheckpointTable(id="checkpoints"), name="checkpoints")
            yield Pane(FailureTable(id="failures"), name="failures")
        yield EventLogPane(id="log-pane", classes="pane")
        yield CoalescingFooter()

    def on_mount(self) -> None:
        self.query_one("#budget-pane").border_title = PANES["budget"]
        self.query_one("#log-pane").border_title = PANES["log"]
        self.query_one(AgentTable).focus()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.forget())

    # ── drawing ──────────────────────────────────────────────────────────

    def show(self, now: float, note: str = "") -> None:
        """Bring every pane up to date with the feed (called at the frame rate inside batch_update)."""
        feed = self.feed
        state = feed.state
        self.query_one(StatusHeader).show(state, now, note)
        self.query_one(AgentTable).show(state, now)
        self.query_one(AgentDetail).show(state)
        self.query_one(BudgetPane).show(state)
        self.query_one(CheckpointTable).show(state)
        self.query_one(FailureTable).show(state)
        log = self.query_one(EventLogPane)
        if feed.reset_log:
            feed.reset_log = False
            feed.drain()
            log.redraw(feed.history)
        else:
            log.append(feed.drain())
        self._subtitles()

    def _subtitles(self) -> None:
        state = self.feed.state
        log = self.query_one(EventLogPane)
        subtitles = {
            "#checkpoints-pane": str(len(state.checkpoints)) if state.checkpoints else "",
            "#failures-pane": str(len(state.failures)) if state.failures else "",
            "#log-pane": log.subtitle(),
        }
        for selector, subtitle in subtitles.items():
            if self._subtitles_shown.get(selector) != subtitle:  # setting one repaints the pane, even unchanged
                self._subtitles_shown[selector] = subtitle
                self.query_one(selector).border_subtitle = subtitle

    def forget(self) -> None:
        """Styles changed (theme): redraw every table and the log on the next frame."""
        for table in self.query(StateTable):
            table.forget()
        self.query_one(BudgetPane).forget()
        self.query_one(StatusHeader).forget()
        self.feed.reset_log = True
        self.feed.dirty = True

    # ── layout ───────────────────────────────────────────────────────────

    def on_resize(self) -> None:
        compact = is_compact(self.size)
        if compact != self.compact:
            self.compact = compact
            self.layout_panes()

    def visible_panes(self) -> set[str]:
        if self.compact:
            return {self.current}
        return (set(PANES) - self.hidden) or set(PANES)

    def pane_tabs(self) -> Tabs:
        """The tabs over the panes of the compact layout: composed when the terminal starts small, else mounted
        the first time it becomes small (a wide first frame has ten widgets fewer)."""
        found = self.query("#pane-tabs")
        if found:
            return found.only_one(Tabs)
        tabs = new_pane_tabs()
        self.mount(tabs, after=self.query_one(StatusHeader))
        return tabs

    def layout_panes(self) -> None:
        visible = self.visible_panes()
        self.set_class(self.compact, "-compact")
        if self.compact:
            self.pane_tabs().display = True
        elif self.query("#pane-tabs"):
            self.pane_tabs().display = False
        for name in PANES:
            self.query_one(f"#{name}-pane").display = name in visible
        shown_rows = [row for row, members in ROWS.items() if any(m in visible for m in members)]
        for row in ROWS:
            widget = self.query_one("#log-pane") if row == "bottom" else self.query_one(f"#{row}")
            widget.display = row in shown_rows
            widget.set_class(bool(shown_rows) and row == shown_rows[-1], "-fill")

    def toggle_pane(self, name: str) -> None:
        self.hidden ^= {name}
        if self.compact:
            self.notify("Small terminal: panes are under the tabs; the toggle applies when it is wider.")
        self.layout_panes()

    def action_pane(self, name: str) -> None:
        if self.compact:
            self.pane_tabs().active = f"tab-{name}"
            return
        if name in self.hidden:
            self.toggle_pane(name)
        self.focus_pane(name)

    def focus_pane(self, name: str) -> None:
        """Put the keyboard in the pane's table or log (the budget has nothing to focus)."""
        focus = {"agents": AgentTable, "checkpoints": CheckpointTable, "failures": FailureTable}.get(name)
        if focus is not None:
            self.query_one(focus).focus()
        elif name == "log":
            self.query_one(EventLogPane).log_widget.focus()

    @on(Tabs.TabActivated, "#pane-tabs")
    def _tab(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab.id:
            self.current = event.tab.id.removeprefix("tab-")
            self.layout_panes()
            self.focus_pane(self.current)

    def action_filter_log(self) -> None:
        if self.compact:
            self.pane_tabs().active = "tab-log"
        elif "log" in self.hidden:
            self.toggle_pane("log")
        self.query_one(EventLogPane).open_filter()

    @on(EventLogPane.Moved)
    def _log_moved(self, event: EventLogPane.Moved) -> None:
        self._subtitles()

    @on(EventLogPane.Stale)
    def _log_stale(self, event: EventLogPane.Stale) -> None:
        self.feed.reset_log = True
        self.feed.dirty = True
