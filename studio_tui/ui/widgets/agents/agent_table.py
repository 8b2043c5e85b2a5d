"""The agent sequence: status glyph, step of total with a bar, tries, duration; the active one stands out."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from studio_tui.core.state import AgentState, OrchestrationState
from studio_tui.core.text import step_count
from studio_tui.ui import fmt
from studio_tui.ui.widgets.table import StateTable

BAR_WIDTH = 10
"""Cells of the per-agent progress bar: six plan steps still read as distinct blocks."""


class AgentTable(StateTable):
    """One row per routed agent, in order; Enter opens the agent's detail, `h` its handoffs."""

    COLUMNS = (
        ("glyph", " "),
        ("agent", "Agent"),
        ("step", "Step"),
        ("progress", "Progress"),
        ("tries", "Tries"),
        ("time", "Time"),
        ("doing", "Doing"),
    )
    COMPONENT_CLASSES = StateTable.COMPONENT_CLASSES | {
        "agents--pending",
        "agents--active",
        "agents--completed",
        "agents--failed",
        "agents--skipped",
        "agents--waiting",
        "agents--bar-empty",
    }
    BINDINGS = [
        Binding(
            "enter",
            "detail",
            "Detail",
            id="agents.detail",
            tooltip="Open the highlighted agent: attempts, steps, tokens, tool calls with diffs, terminal output, log",
        ),
        Binding(
            "h",
            "inspect",
            "Handoffs",
            id="agents.inspect",
            tooltip="Show the context the highlighted agent received and passed on",
        ),
    ]

    class Inspect(Message):
        """The person asked to see an agent's handoffs."""

        def __init__(self, agent_key: str) -> None:
            super().__init__()
            self.agent_key = agent_key

    class Detail(Message):
        """The person asked for an agent's detail screen."""

        def __init__(self, agent_key: str) -> None:
            super().__init__()
            self.agent_key = agent_key

    def action_detail(self) -> None:
        if self.highlighted_key is not None:
            self.post_message(self.Detail(self.highlighted_key))

    def action_inspect(self) -> None:
        if self.highlighted_key is not None:
            self.post_message(self.Inspect(self.highlighted_key))

    def on_state_table_row_selected(self, event: StateTable.RowSelected) -> None:
        event.stop()
        self.action_detail()

    _now = 0.0

    def source(self, state: OrchestrationState, now: float) -> Sequence[AgentState]:
        self._now = now
        return state.agent_states

    def row_key(self, agent: AgentState) -> str:
        return agent.agent

    def row_cells(self, agent: AgentState) -> tuple[Text, ...]:
        now, doing_width = self._now, self.crop_width
        status = agent.status if agent.status in fmt.STATUS_GLYPHS else "pending"
        style = self.component_tone(f"agents--{status}")
        done = len(set(agent.steps_completed) | set(agent.steps_skipped))
        total = agent.total_steps
        fraction = 1.0 if agent.status == "completed" else done / total if total else 0.0
        filled, empty = fmt.bar(fraction, BAR_WIDTH)
        progress = Text(filled, style)
        progress.append(empty, self.component_tone("agents--bar-empty"))
        step = (
            step_count(agent.steps_completed, agent.steps_skipped, total)
            if total
            else (str(agent.current_step) if agent.current_step else "-")
        )
        if agent.started_ts is None:
            took = "-"
        else:
            end = agent.finished_ts if agent.finished_ts else now
            took = fmt.duration(end - agent.started_ts) if agent.status != "pending" or agent.finished_ts else "-"
        doing = "" if agent.status in ("completed", "pending") else agent.step_description
        if agent.status == "failed" and agent.last_error:
            doing = agent.last_error
        elif agent.status == "completed" and agent.merged_commit:
            doing = f"merged {agent.merged_commit[:8]}"
        elif agent.worker and agent.status != "pending":
            doing = f"{doing} · on {agent.worker}" if doing else f"on {agent.worker}"
        return (
            Text(fmt.STATUS_GLYPHS.get(agent.status, "·"), style),
            Text(fmt.literal(agent.agent, max_chars=40), style),
            Text(step, style),
            progress,
            Text(str(agent.attempts) if agent.attempts else "-", style, justify="right"),
            Text(took, style, justify="right"),
            Text(fmt.crop(fmt.literal(doing), doing_width), style),
        )
