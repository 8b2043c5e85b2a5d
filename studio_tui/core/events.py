"""The event union and the JSONL codec: every change to an orchestration is one of these."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, model_validator

FailureCategory = Literal["transient", "code_error", "design_flaw", "blocker", "critical"]
RecoveryAction = Literal["retry", "replan", "escalate", "halt"]
DecisionKind = Literal["escalation", "routing", "question", "confidence", "permission"]


class _Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    seq: int = 0
    ts: float = 0.0
    orch_id: str = ""

    if TYPE_CHECKING:
        # Every concrete event declares `type` as a Literal field; the base only promises there is one
        # (declared for the type checker only, so the base model's fields and their order stay as they are).
        type: str


class SlotSpec(BaseModel):
    """One entry of a routed agent sequence."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str
    agent: str
    task_id: str | None = None
    title: str | None = None
    """What this slot is for, when it is not the orchestration's goal (a listed item)."""


class PoolSpec(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    used: int
    soft: int


class OrchestrationStarted(_Event):
    type: Literal["orchestration_started"] = "orchestration_started"
    goal: str
    mode: Literal["implicit", "explicit"] = "implicit"
    workspace: str = ""
    parent_orch_id: str | None = None
    """A fork: the orchestration it was started from."""
    parent_checkpoint_id: str | None = None
    """A fork: the checkpoint of the parent it starts from."""


class StatusChanged(_Event):
    type: Literal["status_changed"] = "status_changed"
    status: str
    reason: str = ""


class RoutingDecided(_Event):
    type: Literal["routing_decided"] = "routing_decided"
    workflow: str
    complexity: str
    confidence: float
    signals: list[str] = []
    reason: str = ""
    sequence: list[SlotSpec] = []


class SequenceExtended(_Event):
    """Slots added to the routed sequence (decompose_first adds a Planner and a Builder per task)."""

    type: Literal["sequence_extended"] = "sequence_extended"
    sequence: list[SlotSpec]
    insert_before: str | None = None


class DecisionRequested(_Event):
    type: Literal["decision_requested"] = "decision_requested"
    decision_id: str
    kind: DecisionKind
    agent: str | None = None
    prompt: str
    details: dict[str, Any] = {}
    options: list[str] = []


class DecisionAnswered(_Event):
    type: Literal["decision_answered"] = "decision_answered"
    decision_id: str
    kind: DecisionKind
    answer: str
    by: Literal["person", "policy"] = "person"
    reason: str = ""
    """Why a policy answered as it did, when that is not obvious (a path outside the project root)."""


class BudgetAllocated(_Event):
    type: Literal["budget_allocated"] = "budget_allocated"
    pools: dict[str, PoolSpec]
    warning: float = 0.8
    critical: float = 0.95


class TokensUsed(_Event):
    type: Literal["tokens_used"] = "tokens_used"
    agent: str
    pool: str
    tokens: int
    estimated: bool = False
    """The agent reported no usage: an estimate from the prompt and reply sizes."""


class BudgetReleased(_Event):
    type: Literal["budget_released"] = "budget_released"
    pool: str
    tokens: int
    reason: str = ""
    agent: str | None = None
    """Whose tokens these were (its own count drops too)."""


class OptimizationApplied(_Event):
    type: Literal["optimization_applied"] = "optimization_applied"
    step: str
    pool: str
    before: int
    after: int
    detail: str = ""
    kept_agent: str | None = None
    """For clear_context7: the running agent, whose docs stay; every other agent's are cleared."""


class AgentStarted(_Event):
    type: Literal["agent_started"] = "agent_started"
    agent: str
    role: str
    attempt: int = 1
    task_id: str | None = None
    total_steps: int = 0
    input: dict[str, Any] = {}
    restart_steps: bool = False
    """The agent starts over (a Planner's replan): earlier step progress no longer counts."""
    mode: str = ""
    """plan | replan | build | decompose: what it was asked to do (empty in logs written before it was recorded)."""


class AgentStep(_Event):
    type: Literal["agent_step"] = "agent_step"
    agent: str
    step: int
    total: int = 0
    description: str = ""
    status: Literal["started", "completed", "skipped"] = "started"


class AgentLog(_Event):
    type: Literal["agent_log"] = "agent_log"
    agent: str
    level: str = "info"
    message: str


class AgentCompleted(_Event):
    type: Literal["agent_completed"] = "agent_completed"
    agent: str
    output: dict[str, Any] = {}


class AgentFailed(_Event):
    type: Literal["agent_failed"] = "agent_failed"
    agent: str
    step: int | None = None
    category: FailureCategory
    message: str
    details: str = ""


class AgentStatus(_Event):
    """An agent's status set directly: skipped, waiting, pending again on resume."""

    type: Literal["agent_status"] = "agent_status"
    agent: str
    status: str
    reason: str = ""


class RecoveryDecided(_Event):
    type: Literal["recovery_decided"] = "recovery_decided"
    agent: str
    step: int | None = None
    category: FailureCategory
    action: RecoveryAction
    retries_used: int = 0
    replans_used: int = 0
    reason: str = ""


class HandoffRecorded(_Event):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    type: Literal["handoff"] = "handoff"
    from_agent: str = Field(alias="from")
    to_agent: str = Field(alias="to")
    context: dict[str, Any] = {}
    tokens: int = 0


class CheckpointSaved(_Event):
    type: Literal["checkpoint_saved"] = "checkpoint_saved"
    checkpoint_id: str
    name: str
    after_agent: str | None = None
    reason: str = "manual"


class Resumed(_Event):
    """Resets the state to a checkpoint's snapshot, so the log alone reproduces the state."""

    type: Literal["resumed"] = "resumed"
    checkpoint_id: str
    snapshot: dict[str, Any]
    rewind: bool = False
    """True when the run went back to an older checkpoint (work after it is done again); False when it
    continues after the last step its log records as completed."""

    _state: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _a_state(self) -> Resumed:
        """A resumed line whose snapshot is not a state is a bad line, not a crash in the reducer. The
        state built to check it is kept for the reducer's first use (a multi-MB snapshot costs tens of
        milliseconds to validate: once, not twice)."""
        from .state import OrchestrationState

        self._state = OrchestrationState.from_dict(self.snapshot)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resumed):
            return NotImplemented
        return self.__dict__ == other.__dict__  # fields only: the kept state is a cache

    def take_state(self) -> Any:
        """The snapshot as a new `OrchestrationState`: the one validated at decoding, handed out once
        (the reducer adopts its lists), then a fresh one each later call."""
        from .state import OrchestrationState

        state, self._state = self._state, None
        return state if state is not None else OrchestrationState.from_dict(self.snapshot)


class LearningCaptured(_Event):
    type: Literal["learning_captured"] = "learning_captured"
    path: str
    summary: str = ""


class BacklogUpdated(_Event):
    type: Literal["backlog_updated"] = "backlog_updated"
    task_id: str
    status: str


class OrchestrationFinished(_Event):
    type: Literal["orchestration_finished"] = "orchestration_finished"
    status: Literal["completed", "failed", "aborted", "halted", "cancelled", "interrupted"]
    summary: str = ""


class ToolContent(BaseModel):
    """One piece of a tool call's content: a file diff, a terminal's output, or text."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["diff", "terminal", "text"]
    path: str | None = None
    """diff: the file changed, relative to the project root when inside it."""
    old_text: str | None = None
    new_text: str | None = None
    text: str | None = None
    terminal_id: str | None = None
    blob: str | None = None
    """sha256 of content too large to keep inline, stored beside the log in `blobs/<sha256>`."""
    git_patch: str | None = None
    """ACP v2 draft: a unified patch the agent sent with a structured file change."""


class ToolCallRecorded(_Event):
    """An ACP tool call as it stands after an update: what it is, where it acts, and its content."""

    type: Literal["tool_call"] = "tool_call"
    agent: str
    tool_call_id: str
    title: str = ""
    kind: str | None = None
    status: str | None = None
    raw_input: Any = None
    locations: list[str] = []
    content: list[ToolContent] = []


class TerminalOutput(_Event):
    """Output of a terminal the client runs for an agent (ACP `terminal/*`), one chunk at a time."""

    type: Literal["terminal_output"] = "terminal_output"
    agent: str
    terminal_id: str
    command: str = ""
    output: str = ""
    exit_code: int | None = None
    signal: str | None = None
    truncated: bool = False
    done: bool = False


class AgentStderr(_Event):
    """An agent process's stderr went to its own stream file; this says where and how much."""

    type: Literal["agent_stderr"] = "agent_stderr"
    agent: str
    path: str
    """Relative to the orchestration folder."""
    lines: int = 0
    dropped: int = 0


class AgentSession(_Event):
    """What an ACP agent offered at `initialize` / `session/new`, and later changes (mode, commands)."""

    type: Literal["agent_session"] = "agent_session"
    agent: str
    session_id: str | None = None
    protocol_version: int | None = None
    auth_methods: list[str] = []
    modes: list[str] = []
    current_mode: str | None = None
    commands: list[str] = []
    capabilities: dict[str, Any] = {}


class StepRerun(_Event):
    """A step that was in flight when the run stopped runs again on resume (the only work done twice)."""

    type: Literal["step_rerun"] = "step_rerun"
    agent: str
    step: int
    reason: str = ""


class TaskWorktree(_Event):
    """A parallel Builder task got its own git worktree, on its own branch, from `base`."""

    type: Literal["task_worktree"] = "task_worktree"
    agent: str
    task_id: str
    branch: str
    path: str
    """Relative to the project root."""
    base: str


class TaskDispatched(_Event):
    """A Builder task was handed to an execution engine's worker (Dask), or moved to another one."""

    type: Literal["task_dispatched"] = "task_dispatched"
    agent: str
    task_id: str
    engine: str
    worker: str
    attempt: int = 1


class TaskMerged(_Event):
    """A parallel task's branch is merged back into the project's branch, in task order."""

    type: Literal["task_merged"] = "task_merged"
    agent: str
    task_id: str
    branch: str
    how: str
    """fast-forward, rebase+fast-forward, merge, already merged."""
    commit: str
    """HEAD after the merge."""


class GatePassed(_Event):
    """A quality gate passed in a builder's attempt: a resume does not run it again unless a step ran since."""

    type: Literal["gate_passed"] = "gate_passed"
    agent: str
    gate: str
    command: str = ""
    attempt: int = 0


class UnknownEvent(_Event):
    """An event type this version does not know (a newer writer): kept and shown, never a crash."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str


_KNOWN_CLASSES = (
    OrchestrationStarted,
    StatusChanged,
    RoutingDecided,
    SequenceExtended,
    DecisionRequested,
    DecisionAnswered,
    BudgetAllocated,
    TokensUsed,
    BudgetReleased,
    OptimizationApplied,
    AgentStarted,
    AgentStep,
    AgentLog,
    AgentCompleted,
    AgentFailed,
    AgentStatus,
    RecoveryDecided,
    HandoffRecorded,
    CheckpointSaved,
    Resumed,
    LearningCaptured,
    BacklogUpdated,
    OrchestrationFinished,
    ToolCallRecorded,
    TerminalOutput,
    AgentStderr,
    AgentSession,
    StepRerun,
    TaskWorktree,
    TaskDispatched,
    TaskMerged,
    GatePassed,
)
# Union over a tuple of classes has no PEP 604 spelling, hence Union[...] here.
KnownEvent = Annotated[Union[_KNOWN_CLASSES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
Event = _Event
"""Any event, known or `UnknownEvent`; narrow with isinstance."""

_ADAPTER: TypeAdapter[_Event] = TypeAdapter(KnownEvent)
KNOWN_TYPES: frozenset[str] = frozenset(cls.model_fields["type"].default for cls in _KNOWN_CLASSES)


class EventDecodeError(ValueError):
    """A line that is not a valid event; the message says why."""


def encode(event: _Event) -> str:
    """One JSON line (no newline) for an event; aliases (`from`, `to`) as in the seed."""
    return event.model_dump_json(by_alias=True)


MAX_NESTING = 40
"""Deepest nesting an event's payload keeps; real handoff contexts and outputs stay far below it."""


def make_encodable(value: Any, depth: int = 0) -> Any:
    """A copy JSON can always carry: lone surrogates replaced, nesting past MAX_NESTING cut to a note."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if depth >= MAX_NESTING and isinstance(value, (dict, list, tuple)):
        return "(nested too deeply; cut)"
    if isinstance(value, dict):
        return {make_encodable(k, depth + 1): make_encodable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [make_encodable(v, depth + 1) for v in value]
    return value


def decode(line: str | bytes) -> _Event:
    """Parse one JSONL line into an event; unknown types become `UnknownEvent`."""
    try:
        raw = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:  # ValueError: also a 5,000-digit integer
        raise EventDecodeError(f"not JSON: {exc.msg if hasattr(exc, 'msg') else str(exc)[:120]}") from None
    except RecursionError:
        raise EventDecodeError("not JSON: nested too deeply") from None
    return decode_obj(raw)


def decode_obj(raw: Any) -> _Event:
    """Validate an already-parsed JSON object as an event."""
    if not isinstance(raw, dict):
        raise EventDecodeError("not a JSON object")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise EventDecodeError("missing 'type'")
    try:
        if kind in KNOWN_TYPES:
            return _ADAPTER.validate_python(raw)
        return UnknownEvent.model_validate(raw)
    except RecursionError:
        raise EventDecodeError(f"{kind}: nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:] if p != kind) or "event"
        raise EventDecodeError(f"{kind}: field '{where}': {first['msg']}") from None
