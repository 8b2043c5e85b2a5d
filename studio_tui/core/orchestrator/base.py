"""The orchestrator's state and event log: every change is an event, appended, reduced, then told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .. import events as ev
from ..agents import groups
from ..agents.base import Agent
from ..config import StudioConfig
from ..decider import Decider
from ..reducer import apply
from ..state import OrchestrationState
from ..store import EventLogWriter, Workspace, read_log
from .common import AgentFactory, Subscriber

if TYPE_CHECKING:
    from ..agents.base import Outcome
    from ..plan import Plan
    from ..routing import RoutingDecision
    from .slots import _Slot

E = TypeVar("E", bound=ev._Event)

STATE_WRITE_INTERVAL = 0.25
"""Seconds between non-essential state.yaml rewrites: a reader is never more than this behind, and a
flood of token events does not become a flood of fsyncs."""

_ESSENTIAL = (
    ev.OrchestrationStarted,
    ev.StatusChanged,
    ev.RoutingDecided,
    ev.SequenceExtended,
    ev.DecisionRequested,
    ev.DecisionAnswered,
    ev.AgentCompleted,
    ev.AgentFailed,
    ev.AgentStatus,
    ev.CheckpointSaved,
    ev.Resumed,
    ev.OrchestrationFinished,
)
"""Events after which state.yaml is rewritten at once and durably."""


class OrchestratorBase:
    """What every part of the Orchestrator shares: its workspace, state, log and run-time bookkeeping."""

    def __init__(
        self,
        workspace: Workspace,
        config: StudioConfig,
        decider: Decider,
        agent_factory: AgentFactory,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.workspace = workspace
        self.config = config
        self.decider = decider
        self.agent_factory = agent_factory
        self.clock = clock
        self.sleep = sleep
        self.state = OrchestrationState()
        self.subscribers: list[Subscriber] = []
        self._log: EventLogWriter | None = None
        self._slots: dict[str, _Slot] = {}
        self._agents: dict[str, Agent] = {}
        self._last_state_write = 0.0
        self._optimized_for: frozenset[str] = frozenset()
        self._pruned_tasks: set[str] = set()
        self._unknown_pools: set[str] = set()
        self._orch_id = ""
        self._damaged_state: Path | None = None
        self._answered_by = "the person"
        self._next_checkpoint = 0
        self._chosen_plan: str | None = None
        """`build --plan TASK_ID`: the pending plan the person chose to build."""
        self._git_project: bool | None = None
        """Whether the project is a git work tree (asked once, at the first checkpoint)."""
        self._unsettled: set[str] = set()
        """Agents a resume found complete whose handoff and checkpoint were not written yet."""
        self._pending_replans: dict[str, Any] = {}
        """Builder -> failure whose replan a resume must still run."""

    if TYPE_CHECKING:
        # The other parts of the Orchestrator (engine.Orchestrator combines them all) call one
        # another through self: their signatures, for the type checker only.
        @property
        def sessions_dir(self) -> Path: ...
        def _route(self) -> RoutingDecision: ...
        def checkpoint(self, name: str, *, after_agent: str | None = None, reason: str = "manual", again: bool = False) -> str: ...
        def _take_requests(self) -> None: ...
        def _slot(self, key: str) -> _Slot: ...
        def _handoff(self, from_key: str, to_key: str, context: dict[str, Any], *, once: bool = False) -> ev.HandoffRecorded | None: ...
        def _after_decompose(self, output: dict[str, Any]) -> None: ...
        async def _after_plan(self, key: str, plan: Plan, mode: str) -> None: ...
        async def _ask(
            self,
            kind: str,
            prompt: str,
            *,
            agent: str | None = None,
            options: tuple[str, ...] = (),
            details: dict[str, Any] | None = None,
            default: str = "",
        ) -> str: ...
        async def _recover(self, key: str, role: str, outcome: Outcome) -> bool: ...
        async def _replan(self, builder_key: str, failure: Any) -> None: ...
        async def _run_slot(self, key: str, *, mode: str | None = None) -> None: ...
        async def _settle(self, key: str) -> None: ...
        async def _finalize(self) -> None: ...

    # ── events ────────────────────────────────────────────────────────────

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def emit(self, cls: type[E], *, ts: float | None = None, **fields: Any) -> E:
        """Append an event to the log, reduce it into the state, write state.yaml, tell subscribers."""
        when = round(self.clock(), 3) if ts is None else ts
        event = cls(seq=self.state.seq + 1, ts=when, orch_id=self._orch_id, **fields)
        assert self._log is not None, "emit before the log is open"
        try:
            line = ev.encode(event)
        except (ValueError, RecursionError):
            # Text an agent sent that JSON cannot carry (lone surrogates, absurd nesting): keep a safe copy.
            event = type(event).model_validate(ev.make_encodable(event.model_dump(mode="python", by_alias=True)))
            line = ev.encode(event)
        self._log.append_line(line)
        apply(self.state, event)
        essential = isinstance(event, _ESSENTIAL)
        now = time.monotonic()
        if essential or now - self._last_state_write >= STATE_WRITE_INTERVAL:
            if isinstance(event, (ev.CheckpointSaved, ev.DecisionRequested, ev.OrchestrationFinished)):
                self._log.sync()
            self.workspace.write_state(self.state, durable=essential)
            self._last_state_write = now
        for subscriber in list(self.subscribers):
            subscriber(event, self.state)
        return event

    def _open(self, orch_id: str) -> None:
        self._orch_id = orch_id
        self._damaged_state = self.workspace.set_aside_damaged_state(orch_id)
        self._log = EventLogWriter(self.workspace.events_path(orch_id), root=self.workspace.root)
        self.workspace.lock().note(orch_id=orch_id)
        groups.record_groups_in(self.processes_dir)

    @property
    def processes_dir(self) -> Path:
        """Where the process groups of this run's agents are recorded while they run."""
        return self.workspace.orch_dir(self._orch_id) / "processes"

    def _end_survivors(self) -> list[str]:
        """End what a stopped run's agents left running, before any step runs again; one line per group."""
        return groups.end_survivors(self.processes_dir)

    def close(self) -> None:
        """Flush the final state.yaml and close the log (closed even if the disk refuses the state)."""
        if self._log is None:
            return
        try:
            if self.state.id:
                self.workspace.write_state(self.state)
        finally:
            self._log.close()
            self._log = None
            groups.record_groups_in(None)

    def _last_seq(self, orch_id: str) -> int:
        path = self.workspace.events_path(orch_id)
        if not path.exists():
            return 0
        found = read_log(path).events
        return found[-1].seq if found else 0
