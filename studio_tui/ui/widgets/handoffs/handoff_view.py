"""What an agent received and what it passed on: each handoff's context, literal, with its size in tokens."""

from __future__ import annotations

from functools import lru_cache

from rich.text import Text
from textual.widgets import Static

from studio_tui.core.state import Handoff, OrchestrationState
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tones

CONTEXT_CHARS = 6000
"""A context longer than this is cut in the view (the full text is in the event log on disk)."""


@lru_cache(maxsize=1)
def _context_dumper() -> type:
    """A SafeDumper writing multi-line strings (a plan summary) as `|` blocks, as the seed writes them.

    Built on first use: PyYAML is only needed once a handoff is inspected, not for the dashboard's first frame.
    """
    import yaml

    class _ContextDumper(yaml.SafeDumper):
        pass

    def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    _ContextDumper.add_representer(str, _string)
    return _ContextDumper


def context_text(context: dict) -> str:
    """The handoff context as YAML, the seed's handoff shape; control characters made visible."""
    import yaml

    body = yaml.dump(context, Dumper=_context_dumper(), sort_keys=False, allow_unicode=True, width=90, default_flow_style=False)
    return fmt.literal(body.rstrip(), max_chars=CONTEXT_CHARS, one_line=False)


class HandoffView(Static):
    COMPONENT_CLASSES = {"handoffs--title", "handoffs--section", "handoffs--meta", "handoffs--context", "handoffs--muted"}

    def show(self, state: OrchestrationState, agent_key: str) -> None:
        self.update(self.build(state, agent_key))

    def build(self, state: OrchestrationState, agent_key: str) -> Text:
        style = tones(self)
        text = Text()
        agent = state.agent(agent_key)
        text.append(fmt.literal(agent_key, max_chars=60), style("handoffs--title"))
        if agent is not None:
            task = f" · task {agent.task_id}" if agent.task_id else ""
            text.append(fmt.literal(f"  role {agent.role}{task} · {agent.status} · {agent.attempts} tries"), style("handoffs--meta"))
        else:
            text.append("  not routed", style("handoffs--muted"))
        received = [h for h in state.handoffs if h.to_agent == agent_key]
        passed = [h for h in state.handoffs if h.from_agent == agent_key]
        text.append(
            f"\nreceived {len(received)} ({fmt.tokens(sum(h.tokens for h in received))} tokens)"
            f" · passed on {len(passed)} ({fmt.tokens(sum(h.tokens for h in passed))} tokens)",
            style("handoffs--meta"),
        )
        self._section(text, "Received", received)
        self._section(text, "Passed on", passed)
        return text

    def _section(self, text: Text, title: str, handoffs: list[Handoff]) -> None:
        style = tones(self)
        total = sum(h.tokens for h in handoffs)
        text.append(
            f"\n\n{title}: {len(handoffs)} handoff{'s' if len(handoffs) != 1 else ''}, {fmt.tokens(total)} tokens\n",
            style("handoffs--section"),
        )
        if not handoffs:
            text.append("  none yet\n", style("handoffs--muted"))
        for handoff in handoffs:
            text.append(
                fmt.literal(
                    f"  {handoff.from_agent} → {handoff.to_agent}  {fmt.tokens(handoff.tokens)} tokens  {fmt.clock_time(handoff.ts)}  seq {handoff.seq}"
                )
                + "\n",
                style("handoffs--meta"),
            )
            for line in context_text(handoff.context).splitlines():
                text.append(f"    {line}\n", style("handoffs--context"))
