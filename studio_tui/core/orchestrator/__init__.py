"""Runs a workflow: routes, runs agents, checkpoints, recovers, keeps budgets; every change is an event.

One job per module: `engine` (the Orchestrator and its entry points), `base` (state, log, emit),
`workflow` (routing and the agent sequence), `slots` (running one agent), `recovery_flow`,
`decisions` (asking the person), `budget_relief`, `checkpointing`, `finalize` (learnings, backlog),
`reporter` (what an agent reports through).
"""

from .base import STATE_WRITE_INTERVAL
from .common import AgentFactory, RunStopped, Subscriber, new_orch_id, preflight
from .engine import Orchestrator

__all__ = ["STATE_WRITE_INTERVAL", "AgentFactory", "Orchestrator", "RunStopped", "Subscriber", "new_orch_id", "preflight"]
