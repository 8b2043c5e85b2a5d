"""Context budget: a bar per pool coloured OK / WARNING / CRITICAL, the seed's TOTAL line, history, optimisations."""

from __future__ import annotations

import functools

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from studio_tui.core.budget import budget_table
from studio_tui.core.state import Budget, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tone, tones

NAME_WIDTH = 10
MIN_BAR = 6
"""Narrower than this, a bar says nothing: the numbers and then the status are dropped first."""
OPTIMISATIONS_SHOWN = 3
"""The latest optimisation steps listed under the history; older ones are in the event log."""


class PoolBars(Widget):
    """The seed's pool table drawn as bars, sized to the pane's width."""

    COMPONENT_CLASSES = {
        "pool-bars--ok",
        "pool-bars--warning",
        "pool-bars--critical",
        "pool-bars--empty",
        "pool-bars--name",
        "pool-bars--total",
        "pool-bars--numbers",
    }
    DEFAULT_CSS = "PoolBars { height: auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(Widget.auto_links, False)  # no links here: skip re-styling every segment for them each frame
        self.rows: list[tuple[str, int, int, str]] = []

    def show(self, state: OrchestrationState) -> None:
        rows = budget_table(state) if state.budget.pools else []
        if rows != self.rows:
            grew = len(rows) != len(self.rows)
            self.rows = rows
            self.refresh(layout=grew)

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self.rows))

    def render(self) -> Text:
        style = functools.cache(tones(self))
        if not self.rows:
            return Text(" no budget allocated yet", style("pool-bars--empty"))
        width = self.content_size.width
        numbers = [f"{fmt.tokens(used)}/{fmt.tokens(soft)}" for _, used, soft, _ in self.rows]
        numbers_width = max(map(len, numbers)) + 1
        status_width = max(len(status) for *_, status in self.rows) + 1
        show_status = width >= NAME_WIDTH + numbers_width + status_width + MIN_BAR
        show_numbers = width >= NAME_WIDTH + numbers_width + MIN_BAR
        bar_width = width - NAME_WIDTH - (numbers_width if show_numbers else 0) - (status_width if show_status else 0) - 1
        text = Text(no_wrap=True, overflow="crop")
        for index, (name, used, soft, status) in enumerate(self.rows):
            level = status.split(" ", 1)[0].lower()
            tone = style(f"pool-bars--{level}" if level in ("ok", "warning", "critical") else "pool-bars--ok")
            is_total = name == "TOTAL"
            if index:
                text.append("\n")
            label = fmt.crop(fmt.literal(name, max_chars=40), NAME_WIDTH - 1).ljust(NAME_WIDTH)
            text.append(label, style("pool-bars--total") if is_total else style("pool-bars--name"))
            if bar_width > 0:
                filled, empty = fmt.bar(used / soft if soft else (1.0 if used else 0.0), bar_width)
                text.append(filled, tone)
                text.append(empty, style("pool-bars--empty"))
            if show_numbers:
                text.append(" " + numbers[index].rjust(numbers_width - 1), style("pool-bars--numbers"))
            if show_status:
                text.append(" " + status, tone)
        return text


class BudgetHistory(Widget):
    """The total's history as a sparkline scaled from zero to the soft limit, each bar coloured by its level.

    Textual's Sparkline scales between the data's own min and max, which makes a flat 60% look like 100%.
    """

    BLOCKS = " ▁▂▃▄▅▆▇█"
    COMPONENT_CLASSES = {"budget-history--ok", "budget-history--warning", "budget-history--critical", "budget-history--baseline"}
    DEFAULT_CSS = "BudgetHistory { height: 2; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(Widget.auto_links, False)  # no links here: skip re-styling every segment for them each frame
        self.values: list[int] = []
        self.budget = Budget()

    def show(self, values: list[int], budget: Budget) -> None:
        """The totals to draw; each bar's level comes from `budget`'s own thresholds."""
        self.values, self.budget = values, budget
        self.refresh()

    def columns(self, width: int) -> list[int]:
        """One value per cell, newest at the right: the max of each bucket when there are more values than cells."""
        values = self.values
        if len(values) <= width:
            return list(values)
        step = len(values) / width
        return [max(values[int(i * step) : max(int(i * step) + 1, int((i + 1) * step))]) for i in range(width)]

    def render(self) -> Text:
        width, height = self.content_size.width, max(1, self.content_size.height)
        found: dict[str, Style] = {}

        def style(name: str) -> Style:  # a handful of tones, asked for once per bar: build each once per render
            if name not in found:
                found[name] = tone(self, name)
            return found[name]

        columns = self.columns(width)
        soft = self.budget.soft
        top = max(soft, max(columns, default=0), 1)
        levels = len(self.BLOCKS) - 1
        rows = [Text(no_wrap=True) for _ in range(height)]
        for value in columns:
            level_style = style(f"budget-history--{self.budget.level(value, soft).lower()}")
            eighths = round(value / top * levels * height)
            for row_index, row in enumerate(rows):
                floor = (height - 1 - row_index) * levels
                cell = min(levels, max(0, eighths - floor))
                row.append(
                    self.BLOCKS[cell] if cell or row_index < height - 1 else "▁", level_style if cell else style("budget-history--baseline")
                )
        return Text("\n").join(rows)


class BudgetPane(Vertical):
    """Pools, the total's history as a sparkline, and the optimisation steps as they run."""

    COMPONENT_CLASSES = {"budget-pane--optimisation", "budget-pane--muted"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple = ()
        self._state: OrchestrationState | None = None
        self._optimisations_shown: tuple | None = None

    def compose(self) -> ComposeResult:
        yield PoolBars(id="pool-bars")
        yield Static(id="budget-history-label")
        yield BudgetHistory(id="budget-history")
        yield Static(id="budget-optimisations")

    def show(self, state: OrchestrationState) -> None:
        self._state = state
        self.query_one(PoolBars).show(state)
        budget = state.budget
        signature = (tuple(budget.history), len(budget.optimizations), budget.soft)
        if signature == self._shown:
            return
        self._shown = signature
        muted = tone(self, "budget-pane--muted")
        history = list(budget.history)
        label = Text()
        if history:
            words = f"TOTAL over time · now {fmt.tokens(history[-1])} · peak {fmt.tokens(max(history))}"
            label.append(fmt.crop(words, self.content_size.width), muted)
        self.query_one("#budget-history-label", Static).update(label, layout=False)  # one fixed line
        self.query_one(BudgetHistory).show(history, budget)
        width = max(10, self.query_one("#budget-optimisations").content_size.width or self.content_size.width)
        lines = Text()
        for index, opt in enumerate(budget.optimizations[-OPTIMISATIONS_SHOWN:]):
            if index:
                lines.append("\n")
            lines.append("⚙ ", tone(self, "budget-pane--optimisation"))
            detail = fmt.literal(f"{opt.step} {opt.pool} {fmt.tokens(opt.before)}→{fmt.tokens(opt.after)}: {opt.detail}")
            lines.append(fmt.crop(detail, width - 2), muted)
        optimisations = self.query_one("#budget-optimisations", Static)
        drawn = (lines.plain, tuple(lines.spans))
        if drawn != self._optimisations_shown:
            grew = self._optimisations_shown is None or len(lines.plain.split("\n")) != len(self._optimisations_shown[0].split("\n"))
            self._optimisations_shown = drawn
            optimisations.update(lines, layout=grew)  # height: auto (one line per step, cut): only a new count moves the pane
        if optimisations.display != bool(budget.optimizations):
            optimisations.display = bool(budget.optimizations)

    def on_resize(self) -> None:
        """Lines are cut to the width: draw them again for the new one."""
        self._shown = ()
        self._optimisations_shown = None
        if self._state is not None:
            self.show(self._state)

    def forget(self) -> None:
        self._shown = ()
        self._optimisations_shown = None
        self.query_one(PoolBars).rows = []
