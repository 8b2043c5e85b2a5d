"""Under the agent table: the agent at work now, its whole current step, tries and the context it was handed."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from studio_tui.core.state import AgentState, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tones


def current_agent(state: OrchestrationState) -> AgentState | None:
    """The agent waiting for a person or working; else the last one that ran."""
    agents = state.agent_states
    statuses = [agent.status for agent in agents]  # thousands of agents, every frame: the searches below run in C
    for wanted in ("waiting", "active"):
        if wanted in statuses:
            return agents[statuses.index(wanted)]
    for index in range(len(statuses) - 1, -1, -1):
        if statuses[index] != "pending":
            return agents[index]
    return None


class AgentDetail(Static):
    COMPONENT_CLASSES = {"agent-detail--name", "agent-detail--meta", "agent-detail--step", "agent-detail--error"}

    _state: OrchestrationState | None = None
    _shown: tuple | None = None
    """The text last shown (plain, spans) and the width it was cut to."""

    def on_resize(self) -> None:
        """The first line is cut to the width: draw it again for the new one."""
        self._shown = None
        if self._state is not None:
            self.show(self._state)

    def show(self, state: OrchestrationState) -> None:
        self._state = state
        agent = current_agent(state)
        self.display = agent is not None
        if agent is None:
            return
        text = self.build(state, agent)
        shown = (text.plain, tuple(text.spans), self.content_size.width)
        if shown == self._shown and self.screen.is_current:
            return  # the same text on the screen in front: no update, so no reflow of the whole screen each frame
        self._shown = shown
        self.update(text)  # height: auto (its lines wrap): a new text may move the panes

    _handoffs_counted: tuple[int, str, int, int] | None = None

    def _received(self, state: OrchestrationState, key: str) -> int:
        """Tokens handed to this agent (summed again only when the agent or the handoff count changes)."""
        handoffs = state.handoffs
        counted = self._handoffs_counted
        if counted is None or counted[:3] != (id(handoffs), key, len(handoffs)):
            total = sum(h.tokens for h in handoffs if h.to_agent == key)
            counted = self._handoffs_counted = (id(handoffs), key, len(handoffs), total)
        return counted[3]

    def build(self, state: OrchestrationState, agent: AgentState) -> Text:
        style = tones(self)
        text = Text()
        text.append(f"{fmt.STATUS_GLYPHS.get(agent.status, '·')} {fmt.literal(agent.agent, max_chars=40)}", style("agent-detail--name"))
        received = self._received(state, agent.agent)
        facts = [agent.status, f"try {agent.attempts}" if agent.attempts else "not started"]
        if agent.retries or agent.replans:
            facts.append(
                f"{agent.retries} retr{'y' if agent.retries == 1 else 'ies'}, {agent.replans} replan{'' if agent.replans == 1 else 's'}"
            )
        if received:
            facts.append(f"{fmt.tokens(received)}-token handoff")
        width = self.content_size.width or 80
        text.append(fmt.crop("  " + " · ".join(facts), max(0, width - text.cell_len)), style("agent-detail--meta"))
        if agent.current_step and agent.status not in ("completed",):
            total = f"/{agent.total_steps}" if agent.total_steps else ""
            text.append(f"\nstep {agent.current_step}{total}  ", style("agent-detail--meta"))
            text.append(fmt.literal(agent.step_description), style("agent-detail--step"))
        if agent.last_error and agent.status in ("failed", "waiting", "active"):
            text.append("\nlast error  ", style("agent-detail--meta"))
            text.append(fmt.crop(fmt.literal(agent.last_error), max(8, width - 12)), style("agent-detail--error"))
        return text
