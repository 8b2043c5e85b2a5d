"""A checkpoint's state (agents, budget, failures) and what changed between it and the latest state."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from studio_tui.core.budget import budget_table
from studio_tui.core.state import OrchestrationState
from studio_tui.core.store import CheckpointRecord
from studio_tui.ui import fmt
from studio_tui.ui.widgets.tones import tones

FAILURES_SHOWN = 6
"""Latest failures listed in a preview; the count says how many there are in all."""


def changes(before: OrchestrationState, after: OrchestrationState) -> list[tuple[str, str]]:
    """(tone, line) for what differs from `before` to `after`: status, agents, failures, checkpoints, budget."""
    lines: list[tuple[str, str]] = []
    if before.status != after.status:
        lines.append(("accent", f"status {before.status} → {after.status}"))
    old_agents = {a.agent: a for a in before.agent_states}
    for agent in after.agent_states:
        old = old_agents.get(agent.agent)
        if old is None:
            lines.append(("accent", f"{agent.agent} added ({agent.status})"))
            continue
        moved = []
        if old.status != agent.status:
            moved.append(f"{old.status} → {agent.status}")
        new_steps = len(set(agent.steps_completed) - set(old.steps_completed))
        if new_steps:
            moved.append(f"+{new_steps} step{'s' if new_steps > 1 else ''} done")
        skipped = sorted(set(agent.steps_skipped) - set(old.steps_skipped))
        if skipped:
            moved.append("skipped step " + ", ".join(map(str, skipped)))
        if agent.attempts > old.attempts:
            more = agent.attempts - old.attempts
            moved.append(f"+{more} tr{'y' if more == 1 else 'ies'}")
        if moved:
            lines.append(("plain", f"{agent.agent}: {'; '.join(moved)}"))
    for failure in after.failures[len(before.failures) :]:
        action = f" → {failure.action}" if failure.action else ""
        lines.append(("error", f"failure {failure.agent} step {failure.step}: {failure.category}{action}: {failure.message}"))
    new_checkpoints = len(after.checkpoints) - len(before.checkpoints)
    if new_checkpoints > 0:
        lines.append(("muted", f"+{new_checkpoints} checkpoint{'s' if new_checkpoints > 1 else ''}"))
    for decision in after.decisions[len(before.decisions) :]:
        if decision.answer is not None:
            lines.append(("accent", f"{decision.kind} answered: {decision.answer} ({decision.by})"))
    if before.budget.used != after.budget.used:
        lines.append(("muted", f"budget total {fmt.tokens(before.budget.used)} → {fmt.tokens(after.budget.used)}"))
    for opt in after.budget.optimizations[len(before.budget.optimizations) :]:
        lines.append(("warning", f"optimised {opt.pool}: {opt.step}"))
    return lines


class CheckpointPreview(Static):
    COMPONENT_CLASSES = {
        "preview--title",
        "preview--section",
        "preview--plain",
        "preview--muted",
        "preview--accent",
        "preview--warning",
        "preview--error",
        "preview--success",
    }

    def show(self, record: CheckpointRecord | None, latest: OrchestrationState | None) -> None:
        self.update(self.build(record, latest))

    def build(self, record: CheckpointRecord | None, latest: OrchestrationState | None) -> Text:
        style = tones(self)
        text = Text()
        if record is None:
            text.append("No checkpoint selected.", style("preview--muted"))
            return text
        meta, state = record.meta, record.state

        def section(title: str) -> None:
            gap = "\n" if text.plain.endswith("\n") else "\n\n"
            text.append(f"{gap}{title}\n", style("preview--section"))

        text.append(f"{meta.id}  {fmt.literal(meta.name)}", style("preview--title"))
        text.append(
            f"\n{meta.orch_id} · after {fmt.literal(meta.after_agent or '-')} · {fmt.clock_time(meta.ts)} · seq {meta.seq} · {fmt.literal(meta.reason)}",
            style("preview--muted"),
        )
        text.append("\n" + fmt.literal(state.goal), style("preview--plain"))

        section("Agents")
        for agent in state.agent_states:
            total = f"/{agent.total_steps}" if agent.total_steps else ""
            tone = {"completed": "success", "failed": "error", "waiting": "warning", "active": "accent"}.get(agent.status, "muted")
            text.append(f" {fmt.STATUS_GLYPHS.get(agent.status, '·')} ", style(f"preview--{tone}"))
            text.append(
                f"{fmt.literal(agent.agent, max_chars=30):<14}{agent.status:<10} step {agent.current_step}{total}", style("preview--plain")
            )
            if agent.steps_skipped:
                text.append(f"  skipped {', '.join(map(str, agent.steps_skipped))}", style("preview--warning"))
            text.append("\n")
        if not state.agent_states:
            text.append(" none routed yet\n", style("preview--muted"))

        section("Budget")
        for name, used, soft, status in budget_table(state) if state.budget.pools else []:
            level = status.split(" ", 1)[0]
            tone = {"CRITICAL": "error", "WARNING": "warning"}.get(level, "plain")
            text.append(f" {fmt.literal(name, max_chars=20):<10}{fmt.tokens(used):>9}/{fmt.tokens(soft):<9}", style("preview--plain"))
            text.append(f" {status}\n", style(f"preview--{tone}"))

        section(f"Failures ({len(state.failures)})")
        for failure in state.failures[-FAILURES_SHOWN:]:
            action = f" → {failure.action}" if failure.action else ""
            text.append(" " + fmt.literal(f"{failure.agent} step {failure.step}: {failure.category}{action}: "), style("preview--error"))
            text.append(fmt.literal(failure.message) + "\n", style("preview--plain"))
        if not state.failures:
            text.append(" none\n", style("preview--muted"))

        if latest is not None and latest.id == meta.orch_id:
            section("Since then")
            found = changes(state, latest)
            for tone, line in found:
                text.append(" " + fmt.literal(line) + "\n", style(f"preview--{tone}"))
            if not found:
                text.append(" nothing: this is the latest state\n", style("preview--muted"))
        return text
