"""How the orchestrator asks a person: one interface, answered by modals, a prompt or a fixed policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ESCALATION_OPTIONS = ("retry", "skip", "abort")
ROUTING_OPTIONS = ("proceed", "cancel")
PERMISSION_CANCELLED = "cancelled"
"""The answer when a permission request is withdrawn (abort, skip) rather than answered."""
CONFIDENCE_OPTIONS = ("proceed", "abort")


@dataclass(frozen=True)
class DecisionRequest:
    id: str
    kind: Literal["escalation", "routing", "question", "confidence", "permission"]
    prompt: str
    agent: str | None = None
    options: tuple[str, ...] = ()
    """The answers allowed; empty for a free-text question."""
    details: dict[str, Any] = field(default_factory=dict)
    default: str = ""


@dataclass(frozen=True)
class Answer:
    value: str
    by: Literal["person", "policy"] = "person"
    reason: str = ""
    """Why a policy answered so (recorded with the answer), when it is not just the policy."""


def option_keys(request: DecisionRequest) -> list[str]:
    """One key per option, never ambiguous: first letters when they differ (retry/skip/abort), numbers
    otherwise, and always numbers for a permission (its option ids are the agent's, and Claude's
    allow_always/allow/reject/cancelled would share `a`)."""
    options = list(request.options)
    firsts = [option[:1].lower() for option in options]
    if request.kind != "permission" and all(firsts) and len(set(firsts)) == len(firsts):
        return firsts
    return [str(number) for number in range(1, len(options) + 1)]


class Decider(Protocol):
    async def decide(self, request: DecisionRequest) -> Answer:
        """Return the answer; for a request with options, one of them."""
        ...


def permission_choice(request: DecisionRequest, policy: Literal["allow", "deny"]) -> str:
    """The offered option a fixed policy picks: allow once (else always), or reject once (else always).
    `allow` still refuses a request naming paths outside the project root (`details.outside_root`,
    the ones `permissions.allow_outside` does not cover)."""
    if policy == "allow" and request.details.get("outside_root"):
        policy = "deny"
    wanted = ("allow_once", "allow_always") if policy == "allow" else ("reject_once", "reject_always")
    offered = request.details.get("options", [])
    for kind in wanted:
        for option in offered:
            if option.get("kind") == kind:
                return str(option["id"])
    return PERMISSION_CANCELLED


@dataclass
class PolicyDecider:
    """Answers without a person: escalations by a fixed choice, routing proceeds, questions take their default,
    permissions by `permissions` (deny unless told otherwise: fail closed)."""

    on_escalation: Literal["retry", "skip", "abort"] = "abort"
    permissions: Literal["allow", "deny"] = "deny"

    async def decide(self, request: DecisionRequest) -> Answer:
        if request.kind == "escalation":
            choice = self.on_escalation
            if choice not in request.options:
                choice = "abort"
            return Answer(choice, "policy")
        if request.kind == "question":
            return Answer(request.default or "(no answer: proceed with stated assumptions)", "policy")
        if request.kind == "permission":
            outside = request.details.get("outside_root") or []
            reason = ""
            if self.permissions == "allow" and outside:
                reason = (
                    "refused under --permissions allow: outside the project root: "
                    + ", ".join(str(path) for path in outside[:5])
                    + " (permissions.allow_outside in config.yaml lists folders that may be allowed)"
                )
            return Answer(permission_choice(request, self.permissions), "policy", reason)
        return Answer(request.options[0] if request.options else "proceed", "policy")
