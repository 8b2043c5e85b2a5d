"""OrchestrationState and its parts, shaped field for field like the seed's `orchestration_state`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's safe dumper when installed: state.yaml is rewritten often, and it is ~10x faster."""

TERMINAL_STATUSES = frozenset({"completed", "failed", "aborted", "halted", "cancelled", "interrupted"})
"""Orchestration statuses after which nothing runs until a resume."""

BUDGET_HISTORY_LEN = 120
"""Totals kept for the budget sparkline: two minutes at one sample a second is plenty to read a trend."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


_T = TypeVar("_T")


class KeyIndex:
    """Where each key first appears in a list, so a lookup by key costs a dict probe, not a scan.

    Lists in the state are public and changed in place (appended, inserted into, replaced whole), so
    the index keeps the list it was built over and its length, and is rebuilt when either changed; a
    hit is checked against the entry it points at (and the index rebuilt if that entry moved or was
    renamed). A miss is confirmed by a scan (misses are rare: a new key is usually appended next), so
    an entry swapped in place for one with another key is still found. Keys are unique in a state (the
    reducer never adds one twice); were one doubled in place, the entry found is the first as of indexing.
    """

    __slots__ = ("items", "length", "where")

    def __init__(self, items: Sequence[Any], key: Callable[[Any], str]) -> None:
        self.items = items
        self.length = len(items)
        where: dict[str, int] = {}
        for position in range(len(items) - 1, -1, -1):
            where[key(items[position])] = position
        self.where = where

    def fits(self, items: Sequence[Any]) -> bool:
        return self.items is items and self.length == len(items)

    def grew(self, items: Sequence[Any], key: Callable[[Any], str]) -> bool:
        """Index the entries past the old end when `items` is the same list, only longer (the usual
        change: an append), rather than all of them again; False if that does not apply. An entry
        inserted earlier instead shifts the others: a hit is checked against its entry anyway."""
        if self.items is not items or len(items) <= self.length:
            return False
        where = self.where
        for position in range(self.length, len(items)):
            where.setdefault(key(items[position]), position)
        self.length = len(items)
        return True

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None  # a copied state builds its own index on its first lookup

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(None), ())  # not pickled either: rebuilt on demand


def find_by_key(index: KeyIndex | None, items: Sequence[_T], wanted: str, key: Callable[[_T], str]) -> tuple[KeyIndex, _T | None]:
    """The first entry of `items` whose key is `wanted` (or None), and the index to keep for next time."""
    if index is None or not (index.fits(items) or index.grew(items, key)):
        index = KeyIndex(items, key)
    position = index.where.get(wanted)
    if position is None:
        if not any(key(entry) == wanted for entry in items):
            return index, None
        index = KeyIndex(items, key)  # an entry was swapped in place: index again
        position = index.where[wanted]
    entry = items[position]
    if key(entry) != wanted:
        index = KeyIndex(items, key)
        position = index.where.get(wanted)
        entry = items[position] if position is not None else None  # type: ignore[assignment]
    return index, entry


def _agent_key(entry: AgentState) -> str:
    return entry.agent


def _sequence_key(entry: SequenceEntry) -> str:
    return entry.key


def _checkpoint_key(entry: Checkpoint) -> str:
    return entry.id


class SequenceEntry(_Model):
    agent: str
    status: str = "pending"
    key: str = ""
    task_id: str | None = None


class Routing(_Model):
    workflow: str = ""
    agent_sequence: list[SequenceEntry] = []
    confidence: float = 0.0
    complexity: str = ""
    signals: list[str] = []
    reason: str = ""
    _sequence_index: KeyIndex | None = PrivateAttr(default=None)

    def entry(self, key: str) -> SequenceEntry | None:
        """The sequence entry for a key (`builder:T2`), if any: found through a key index, not a scan."""
        looked_up = find_by_key(
            self._sequence_index, self.agent_sequence, key, _sequence_key
        )  # two steps: mypy infers the entry type from the call alone
        self._sequence_index, found = looked_up
        return found

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Routing):
            return NotImplemented
        return self.__dict__ == other.__dict__  # fields only: the key index is a cache


class AgentState(_Model):
    agent: str
    role: str = ""
    task_id: str | None = None
    title: str | None = None
    status: str = "pending"
    current_step: int = 0
    total_steps: int = 0
    step_description: str = ""
    output: dict[str, Any] = {}
    attempts: int = 0
    retries: int = 0
    replans: int = 0
    steps_completed: list[int] = []
    steps_skipped: list[int] = []
    gates_passed: list[str] = []
    """Quality gates passed in the current attempt since its last step: a resume does not run them again."""
    input: dict[str, Any] = {}
    tokens: dict[str, int] = {}
    """Tokens this agent holds per pool (released when it finishes; Context7 docs in use)."""
    tokens_estimated: dict[str, int] = {}
    """The part of `tokens` charged by estimate (the agent reported no usage)."""
    started_ts: float | None = None
    finished_ts: float | None = None
    last_error: str = ""
    session_id: str | None = None
    """The agent's own (ACP) session, continued by a retry or a resume where the agent can load it."""
    mode: str = ""
    """plan | replan | build | decompose, as last started: a resume runs it in the same mode."""
    reruns: list[int] = []
    """Steps run again on a resume because they were in flight when the run stopped."""
    branch: str | None = None
    """Parallel Builders: the git branch this task works on (`studio/<orch_id>/<task_id>`)."""
    worker: str | None = None
    """The execution engine's worker running it (a Dask worker address), when not this process."""
    merged_commit: str | None = None
    """Parallel Builders: HEAD after this task's branch was merged back; None until then."""


class Checkpoint(_Model):
    id: str
    name: str
    after_agent: str | None = None
    seq: int = 0
    ts: float = 0.0
    reason: str = "manual"


class Failure(_Model):
    ts: float
    seq: int
    agent: str
    step: int | None = None
    category: str
    action: str = ""
    message: str
    details: str = ""
    attempt: int = 1


class Handoff(_Model):
    from_agent: str = Field(alias="from")
    to_agent: str = Field(alias="to")
    context: dict[str, Any] = {}
    tokens: int = 0
    ts: float = 0.0
    seq: int = 0


class Pool(_Model):
    used: int = 0
    soft: int = 0
    estimated: int = 0
    """Tokens charged by estimate (an agent reporting no usage), counted in `used` too."""


class Optimization(_Model):
    step: str
    pool: str
    before: int
    after: int
    detail: str = ""
    ts: float = 0.0


class Budget(_Model):
    pools: dict[str, Pool] = {}
    warning: float = 0.8
    critical: float = 0.95
    history: list[int] = []
    optimizations: list[Optimization] = []

    @property
    def used(self) -> int:
        return sum(p.used for p in self.pools.values())

    @property
    def soft(self) -> int:
        return sum(p.soft for p in self.pools.values())

    def level(self, used: int, soft: int) -> str:
        """OK / WARNING / CRITICAL for a used-of-soft pair, by this budget's thresholds."""
        if soft <= 0:
            return "OK" if used <= 0 else "CRITICAL"
        ratio = used / soft
        if ratio >= self.critical:
            return "CRITICAL"
        if ratio >= self.warning:
            return "WARNING"
        return "OK"

    @property
    def total_level(self) -> str:
        return self.level(self.used, self.soft)


class Decision(_Model):
    id: str
    kind: str
    agent: str | None = None
    prompt: str
    details: dict[str, Any] = {}
    options: list[str] = []
    answer: str | None = None
    by: str | None = None
    asked_ts: float = 0.0
    answered_ts: float | None = None


class OrchestrationState(_Model):
    id: str = ""
    mode: str = "implicit"
    status: str = "pending"
    goal: str = ""
    workspace: str = ""
    routing: Routing = Field(default_factory=Routing)
    agent_states: list[AgentState] = []
    checkpoints: list[Checkpoint] = []
    failures: list[Failure] = []
    handoffs: list[Handoff] = []
    budget: Budget = Field(default_factory=Budget)
    decisions: list[Decision] = []
    pending_decision: str | None = None
    status_before_wait: str | None = None
    learnings: list[str] = []
    backlog_updates: dict[str, str] = {}
    resumed_from: list[str] = []
    resumed_ts: float | None = None
    """When the latest resume began (the dashboard's elapsed clock counts from it)."""
    parent_orch_id: str | None = None
    """A fork: the orchestration (and checkpoint) it was started from."""
    parent_checkpoint_id: str | None = None
    unknown_events: int = 0
    seq: int = 0
    started_ts: float | None = None
    updated_ts: float | None = None
    finished_ts: float | None = None
    summary: str = ""
    _agent_index: KeyIndex | None = PrivateAttr(default=None)
    _checkpoint_index: KeyIndex | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrchestrationState):
            return NotImplemented
        return self.__dict__ == other.__dict__  # fields only: the key indexes are caches

    def agent(self, key: str) -> AgentState | None:
        """The agent state for a sequence key (`builder`, `builder:T2`), if routed.

        A dict probe through a key index, not a scan: a run with thousands of agents folds in linear time."""
        looked_up = find_by_key(
            self._agent_index, self.agent_states, key, _agent_key
        )  # two steps: mypy infers the entry type from the call alone
        self._agent_index, found = looked_up
        return found

    def checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, if the state holds it (found by key)."""
        looked_up = find_by_key(
            self._checkpoint_index, self.checkpoints, checkpoint_id, _checkpoint_key
        )  # two steps: mypy infers the entry type from the call alone
        self._checkpoint_index, found = looked_up
        return found

    def decision(self, decision_id: str | None) -> Decision | None:
        if decision_id is None:
            return None
        for entry in reversed(self.decisions):
            if entry.id == decision_id:
                return entry
        return None

    @property
    def waiting_for_person(self) -> bool:
        return self.pending_decision is not None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the seed's shape (`from`/`to` spelled as in the seed)."""
        return self.model_dump(mode="json", by_alias=True)

    def seed_view(self) -> dict[str, Any]:
        """Just the seed's `orchestration_state` fields, in the seed's order (the `status` command)."""
        agents: list[dict[str, Any]] = []
        for agent in self.agent_states:
            entry: dict[str, Any] = {"agent": agent.agent, "status": agent.status}
            if agent.status in ("active", "waiting", "failed") or agent.current_step:
                entry["current_step"] = agent.current_step
            if agent.output:
                entry["output"] = agent.output
            agents.append(entry)
        return {
            "orchestration_state": {
                "id": self.id,
                "mode": self.mode,
                "status": self.status,
                "goal": self.goal,
                "routing": {
                    "workflow": self.routing.workflow,
                    "agent_sequence": [{"agent": e.key or e.agent, "status": e.status} for e in self.routing.agent_sequence],
                    "confidence": self.routing.confidence,
                },
                "agent_states": agents,
                "checkpoints": [{"id": c.id, "name": c.name, "after_agent": c.after_agent} for c in self.checkpoints],
                "failures": [
                    {"agent": f.agent, "step": f.step, "category": f.category, "action": f.action, "message": f.message}
                    for f in self.failures
                ],
            }
        }

    def to_yaml(self) -> str:
        """The `state.yaml` text: the seed's `orchestration_state` root, keys in model order."""
        return yaml.dump(
            {"orchestration_state": self.to_dict()},
            Dumper=_DUMPER,
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrchestrationState:
        if "orchestration_state" in data and len(data) == 1:
            data = data["orchestration_state"]
        return cls.model_validate(data)
