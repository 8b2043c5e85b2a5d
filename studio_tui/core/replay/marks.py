"""Marks on the replay timeline: checkpoints, failures and escalations, found by byte search then decoding."""

from __future__ import annotations

from dataclasses import dataclass

from .. import events as ev

MARK_KINDS = ("checkpoint", "failure", "escalation")

MARK_PATTERNS: dict[bytes, str] = {
    b'"checkpoint_saved"': "checkpoint",
    b'"agent_failed"': "failure",
    b'"escalation"': "escalation",
}
"""Byte patterns that find mark candidates without decoding: an unescaped quoted token can only be a
JSON key or value (quotes inside strings are escaped), and every candidate is checked by decoding."""

MARK_EVENT_TYPES: dict[bytes, bytes] = {b'"escalation"': b'"decision_requested"'}
"""A second token a candidate must hold to be worth decoding: `"escalation"` is also a decision's kind
inside every `resumed` line's state (megabytes to decode for nothing)."""


@dataclass(frozen=True)
class Mark:
    """A point on the timeline: a checkpoint, a failure or an escalation."""

    kind: str
    position: int
    """The position just after the event, so `state_at(position)` shows it."""
    line: int
    """1-based line number in the file."""
    seq: int
    label: str


def mark_for(index: int, event: ev.Event | None) -> Mark | None:
    """The mark an event on line `index` (0-based) makes, if any."""
    position, line = index + 1, index + 1
    if isinstance(event, ev.CheckpointSaved):
        return Mark("checkpoint", position, line, event.seq, event.name)
    if isinstance(event, ev.AgentFailed):
        where = f" step {event.step}" if event.step is not None else ""
        return Mark("failure", position, line, event.seq, f"{event.agent}{where}: {event.category}: {event.message}")
    if isinstance(event, ev.DecisionRequested) and event.kind == "escalation":
        return Mark("escalation", position, line, event.seq, event.prompt)
    return None
