"""One log row per event: who, what kind, a message, and a tone the pane colours by."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from studio_tui.core import events as ev
from studio_tui.ui import fmt

Tone = Literal["plain", "muted", "accent", "success", "warning", "error"]


@dataclass(frozen=True)
class Row:
    agent: str
    kind: str
    message: str
    """Already literal: control characters visible, one line."""
    tone: Tone = "plain"


_FINISH_TONES: dict[str, Tone] = {"completed": "success", "interrupted": "warning"}
_ACTION_TONES: dict[str, Tone] = {"retry": "warning", "replan": "warning", "escalate": "error", "halt": "error"}
_LEVEL_TONES: dict[str, Tone] = {"warning": "warning", "error": "error", "debug": "muted"}


def _pools(pools: dict[str, ev.PoolSpec]) -> str:
    used = sum(p.used for p in pools.values())
    soft = sum(p.soft for p in pools.values())
    return f"{len(pools)} pools, {fmt.tokens(used)} of {fmt.tokens(soft)} tokens"


def describe(event: ev.Event) -> Row:
    """The log row for any event, unknown types included (shown with their raw fields); all of it literal."""
    row = _describe(event)
    return Row(fmt.literal(row.agent, max_chars=60), fmt.literal(row.kind, max_chars=30), row.message, row.tone)


def _describe(event: ev.Event) -> Row:
    text = fmt.literal
    if isinstance(event, ev.OrchestrationStarted):
        return Row("orchestrator", "started", text(f"{event.mode}: {event.goal}"), "accent")
    if isinstance(event, ev.StatusChanged):
        reason = f" ({event.reason})" if event.reason else ""
        return Row("orchestrator", "status", text(event.status + reason), "muted")
    if isinstance(event, ev.RoutingDecided):
        agents = " → ".join(s.key for s in event.sequence)
        return Row(
            "orchestrator", "routing", text(f"{event.workflow} ({event.complexity}, {fmt.percent(event.confidence)}): {agents}"), "accent"
        )
    if isinstance(event, ev.SequenceExtended):
        return Row("orchestrator", "sequence", text("added " + ", ".join(s.key for s in event.sequence)), "muted")
    if isinstance(event, ev.DecisionRequested):
        return Row(event.agent or "orchestrator", "asks", text(f"{event.kind}: {event.prompt}"), "warning")
    if isinstance(event, ev.DecisionAnswered):
        return Row("person" if event.by == "person" else "policy", "answer", text(f"{event.kind}: {event.answer}"), "accent")
    if isinstance(event, ev.BudgetAllocated):
        return Row("orchestrator", "budget", _pools(event.pools), "muted")
    if isinstance(event, ev.TokensUsed):
        estimate = " (estimated)" if event.estimated else ""
        return Row(event.agent, "tokens", text(f"{event.tokens:+,} {event.pool}{estimate}"), "muted")
    if isinstance(event, ev.BudgetReleased):
        return Row("orchestrator", "released", text(f"{fmt.tokens(event.tokens)} {event.pool}: {event.reason}"), "muted")
    if isinstance(event, ev.OptimizationApplied):
        return Row(
            "orchestrator",
            "optimise",
            text(f"{event.step} {event.pool} {fmt.tokens(event.before)} → {fmt.tokens(event.after)}: {event.detail}"),
            "warning",
        )
    if isinstance(event, ev.AgentStarted):
        steps = f", {event.total_steps} steps" if event.total_steps else ""
        return Row(event.agent, "start", text(f"attempt {event.attempt}{steps}"), "accent")
    if isinstance(event, ev.AgentStep):
        if event.status == "started":
            of = f"/{event.total}" if event.total else ""
            return Row(event.agent, "step", text(f"{event.step}{of} {event.description}"))
        return Row(event.agent, "step", text(f"{event.step} {event.status}"), "success" if event.status == "completed" else "warning")
    if isinstance(event, ev.AgentLog):
        return Row(event.agent, "log", text(event.message), _LEVEL_TONES.get(event.level, "plain"))
    if isinstance(event, ev.AgentCompleted):
        return Row(event.agent, "done", "completed", "success")
    if isinstance(event, ev.AgentFailed):
        where = f"step {event.step} " if event.step is not None else ""
        return Row(event.agent, "failed", text(f"{where}{event.category}: {event.message}"), "error")
    if isinstance(event, ev.AgentStatus):
        reason = f" ({event.reason})" if event.reason else ""
        return Row(event.agent, "status", text(event.status + reason), "muted")
    if isinstance(event, ev.RecoveryDecided):
        return Row(event.agent, "recovery", text(f"{event.action}: {event.reason}"), _ACTION_TONES.get(event.action, "plain"))
    if isinstance(event, ev.HandoffRecorded):
        return Row(event.from_agent, "handoff", text(f"→ {event.to_agent}, {fmt.tokens(event.tokens)} tokens"), "accent")
    if isinstance(event, ev.CheckpointSaved):
        return Row(
            event.after_agent or "orchestrator", "checkpoint", text(f"{event.checkpoint_id} {event.name} ({event.reason})"), "success"
        )
    if isinstance(event, ev.Resumed):
        return Row("orchestrator", "rewound" if event.rewind else "resumed", text(f"from {event.checkpoint_id}"), "accent")
    if isinstance(event, ev.StepRerun):
        return Row(event.agent, "re-run", text(f"step {event.step} runs again: {event.reason}"), "warning")
    if isinstance(event, ev.LearningCaptured):
        return Row("orchestrator", "learning", text(f"{event.path}: {event.summary}"), "muted")
    if isinstance(event, ev.BacklogUpdated):
        return Row("orchestrator", "backlog", text(f"{event.task_id} {event.status}"), "muted")
    if isinstance(event, ev.OrchestrationFinished):
        return Row("orchestrator", "finished", text(f"{event.status}: {event.summary}"), _FINISH_TONES.get(event.status, "error"))
    if isinstance(event, ev.TaskWorktree):
        return Row(event.agent, "worktree", text(f"{event.path} on {event.branch} from {event.base[:8]}"), "muted")
    if isinstance(event, ev.TaskDispatched):
        return Row(event.agent, "dispatched", text(f"{event.engine} worker {event.worker} (attempt {event.attempt})"), "accent")
    if isinstance(event, ev.TaskMerged):
        return Row(event.agent, "merged", text(f"{event.branch} ({event.how}) → {event.commit[:8]}"), "success")
    raw = event.model_dump(exclude={"seq", "ts", "orch_id", "type"})
    kind = str(getattr(event, "type", "event"))
    return Row(str(raw.get("agent", "?")), kind, text(f"{kind} {json.dumps(raw, default=str, ensure_ascii=False)}"), "muted")


def matches(row: Row, query: str) -> bool:
    """Whether a row matches a search: every word must be somewhere in its agent, kind or message
    (case-insensitive); `agent:x` and `kind:y` pin a word to that column."""
    agent, kind = row.agent.lower(), row.kind.lower()
    message: str | None = None
    for word in query.lower().split():
        field, _, value = word.partition(":")
        if value and field == "agent":
            if value not in agent:
                return False
        elif value and field == "kind":
            if value not in kind:
                return False
        elif word not in agent and word not in kind:
            if message is None:
                message = row.message.lower()
            if word not in message:
                return False
    return True
