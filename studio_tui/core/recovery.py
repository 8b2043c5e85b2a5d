"""Failure category -> retry | replan | escalate | halt: the seed's decision tree, with a loop guard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .config import RecoveryConfig

CATEGORY_ACTION = {
    "transient": "retry",
    "code_error": "retry",
    "design_flaw": "replan",
    "blocker": "escalate",
    "critical": "halt",
}
"""The seed's category table: what each category asks for first."""

_VOLATILE = re.compile(r"0x[0-9a-f]+|\d+(?:\.\d+)?", re.IGNORECASE)


def error_signature(category: str, message: str) -> str:
    """What makes two errors "the same" for the loop guard: category and message, numbers masked."""
    return f"{category}:{_VOLATILE.sub('#', message.strip().lower())}"


@dataclass(frozen=True)
class RecoveryDecision:
    action: str
    reason: str


@dataclass
class RecoveryTracker:
    """Counts an agent's retries, replans and repeated errors, and decides what a failure gets."""

    config: RecoveryConfig
    retries_used: int = 0
    replans_used: int = 0
    tries_this_step: int = 0
    last_step: int | None = None
    recent: tuple[str, ...] = ()

    def decide(self, category: str, message: str, step: int | None, *, can_replan: bool = True) -> RecoveryDecision:
        """Record a failure and return the action (the counters move as if it is carried out)."""
        if step != self.last_step:
            self.tries_this_step = 0
            self.last_step = step
        self.tries_this_step += 1
        signature = error_signature(category, message)
        self.recent = (*self.recent, signature)[-self.config.loop_guard :]

        if category == "critical":
            return RecoveryDecision("halt", "critical failure: halting at once")
        if category == "blocker":
            return RecoveryDecision("escalate", "blocker: a person must decide")
        if len(self.recent) == self.config.loop_guard and len(set(self.recent)) == 1:
            self.recent = ()
            return RecoveryDecision("escalate", f"loop guard: the same error {self.config.loop_guard} times in a row")
        retry_ok = self.retries_used < self.config.max_retries and self.tries_this_step < self.config.max_tries_per_step
        if category in ("transient", "code_error") and retry_ok:
            self.retries_used += 1
            what = "retry" if category == "transient" else "retry with fix"
            return RecoveryDecision("retry", f"{category.replace('_', ' ')}: {what} ({self.retries_used}/{self.config.max_retries})")
        if can_replan and self.replans_used < self.config.max_replans:
            self.replans_used += 1
            self.tries_this_step = 0
            self.recent = ()
            why = "design flaw" if category == "design_flaw" else "retries exhausted"
            return RecoveryDecision("replan", f"{why}: replan ({self.replans_used}/{self.config.max_replans})")
        return RecoveryDecision("escalate", "retries and replans exhausted")

    def restore(self, retries_used: int, replans_used: int, failures: list[Any]) -> None:
        """Rebuild the counters after a resume from what the state recorded, so no limit is exceeded."""
        self.retries_used = retries_used
        self.replans_used = replans_used
        if not failures:
            return
        self.last_step = failures[-1].step
        trailing = 0
        for failure in reversed(failures):
            if failure.step != self.last_step or failure.action == "replan":
                break
            trailing += 1
        self.tries_this_step = trailing
        signatures = [error_signature(f.category, f.message) for f in failures]
        self.recent = tuple(signatures[-self.config.loop_guard :])
