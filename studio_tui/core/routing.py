"""Goal -> workflow, complexity, confidence, and the signals that decided it (the seed's signal table)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WORKFLOWS = ("build_only", "plan_then_build", "multi_task", "decompose_first")

COMPLEXITY = {
    "build_only": "simple",
    "plan_then_build": "complex",
    "multi_task": "complex",
    "decompose_first": "huge",
}

SIGNAL_WORDS: dict[str, tuple[str, ...]] = {
    "build_only": ("fix", "bug", "error", "typo"),
    "plan_then_build": ("add", "create", "implement", "refactor", "restructure"),
    "decompose_first": ("project", "system", "platform"),
}
"""The seed's signal table; a word also matches its plural and -ed/-ing/-es forms."""

SCOPE_ORDER = ("decompose_first", "plan_then_build", "build_only")
"""Tie-break between equally many signals: the larger scope wins, since under-planning costs more."""

BASE_CONFIDENCE = 0.5
"""Confidence with no signal at all: a coin toss, so explicit mode is worth offering."""

_ENUMERATION = re.compile(r"(?:^|\n|;)\s*(?:\d+[.)]|[-*•])\s+(?P<item>[^\n;]+)")


def _word_pattern(word: str) -> re.Pattern[str]:
    stem = word[:-1] if word.endswith("e") else word
    return re.compile(rf"\b(?:{word}|{stem}(?:e?s|e?d|ing|ed))\b", re.IGNORECASE)


_PATTERNS = {wf: [(w, _word_pattern(w)) for w in words] for wf, words in SIGNAL_WORDS.items()}


@dataclass(frozen=True)
class RoutingDecision:
    workflow: str
    complexity: str
    confidence: float
    signals: list[str] = field(default_factory=list)
    reason: str = ""
    task_ids: list[str] = field(default_factory=list)
    """For multi_task: the tasks to run, in order."""
    items: list[str] = field(default_factory=list)
    """For multi_task from an enumerated goal: each item's text, the goal of its Builder."""


def route(
    goal: str,
    *,
    pending_plan_tasks: list[str] | None = None,
    backlog_task_ids: list[str] | None = None,
    chosen_plan: str | None = None,
) -> RoutingDecision:
    """Route a goal by the seed's table.

    Precedence: the plan the person chose (`build --plan TASK_ID`) -> build_only on it; several
    tasks -> multi_task; a pending plan whose task the goal names -> build_only; otherwise the
    keyword family with most matches (ties go to the larger scope). A pending plan the goal does not
    name is never picked: a leftover plan must not hijack an unrelated goal. Confidence grows with
    the winning family's matches and shrinks with matches for other families.
    """
    signals: list[str] = []
    if chosen_plan:
        signals.append(f"plan chosen: build --plan {chosen_plan}")
        return RoutingDecision("build_only", "simple", 1.0, signals, f"building the chosen plan of {chosen_plan}", task_ids=[chosen_plan])
    mentioned = [t for t in (backlog_task_ids or []) if re.search(rf"\b{re.escape(t)}\b", goal)]
    items = [m.group("item").strip() for m in _ENUMERATION.finditer(goal)]
    enumerated = len(items)
    if len(mentioned) >= 2:
        signals.append(f"tasks named: {', '.join(mentioned)}")
        return RoutingDecision("multi_task", "complex", 0.9, signals, "several backlog tasks specified", task_ids=mentioned)
    if enumerated >= 2:
        signals.append(f"{enumerated} tasks enumerated in the goal")
        return RoutingDecision(
            "multi_task",
            "complex",
            0.8,
            signals,
            "several tasks specified",
            task_ids=[f"item{n}" for n in range(1, enumerated + 1)],
            items=items,
        )
    named_plans = [t for t in (pending_plan_tasks or []) if re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", goal)]
    if named_plans:
        signals.append(f"goal names the pending plan in .studio/tasks/{named_plans[0]}/")
        return RoutingDecision(
            "build_only", "simple", 0.9, signals, "the goal names a plan that is ready to build", task_ids=named_plans[:1]
        )

    hits: dict[str, list[str]] = {wf: [] for wf in SIGNAL_WORDS}
    for workflow, patterns in _PATTERNS.items():
        for _word, pattern in patterns:
            for match in pattern.finditer(goal):
                hits[workflow].append(match.group(0).lower())
    total = sum(len(v) for v in hits.values())
    if total == 0:
        return RoutingDecision("plan_then_build", "complex", BASE_CONFIDENCE, [], "no routing signal: planning first is the safe default")
    winner = max(SCOPE_ORDER, key=lambda wf: (len(hits[wf]), -SCOPE_ORDER.index(wf)))
    won = len(hits[winner])
    others = total - won
    confidence = min(0.95, 0.6 + 0.15 * won) - 0.1 * others
    confidence = round(max(0.3, confidence), 2)
    for workflow in SCOPE_ORDER:
        signals += [f'"{word}" -> {workflow}' for word in hits[workflow]]
    reason = f"{won} signal{'s' if won != 1 else ''} for {winner}"
    if others:
        reason += f", {others} for other workflows"
    return RoutingDecision(winner, COMPLEXITY[winner], confidence, signals, reason)
