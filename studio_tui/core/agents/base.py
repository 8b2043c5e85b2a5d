"""The Agent protocol: `run(task, reporter) -> Outcome`, progress reported through the reporter."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from ..events import FailureCategory

AgentMode = Literal["plan", "replan", "build", "decompose"]


@dataclass(frozen=True)
class AgentTask:
    """What one agent invocation is asked to do."""

    key: str
    """Sequence key: `planner`, `builder`, `builder:T2`."""
    role: str
    """planner | builder | architect"""
    mode: AgentMode
    goal: str
    project_root: Path
    workspace_root: Path
    task_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """The handoff context this agent receives (the seed's handoff `context`)."""
    attempt: int = 1
    completed_steps: frozenset[int] = frozenset()
    """Steps already done (earlier attempt, or before a resume): do not run them again."""
    gates_passed: frozenset[str] = frozenset()
    """Quality gates that passed in this attempt after its last step, before a resume: not run again."""
    skip_steps: frozenset[int] = frozenset()
    """Steps the person chose to skip after an escalation."""
    plan_path: Path | None = None
    """For a builder: the plan.json it executes."""
    step_failures: dict[int, int] = field(default_factory=dict)
    """How often each step has failed so far in this orchestration (survives resume)."""
    failure: Failure | None = None
    """Why the previous attempt failed (on a retry), or the failure that asked for this replan."""
    session_id: str | None = None
    """The agent's own session from an earlier attempt, which an agent able to load it continues."""
    answers: tuple[tuple[str, str], ...] = ()
    """The person's answers to this agent's questions so far, as (question, answer)."""


@dataclass(frozen=True)
class Failure:
    """Why an agent run failed; the category picks the recovery action."""

    category: FailureCategory
    message: str
    step: int | None = None
    details: str = ""
    critical_step: bool = False
    """The failed step is marked critical: an escalation must not offer skip."""


@dataclass(frozen=True)
class Outcome:
    """What an agent run ended with: an output (success) or a failure."""

    output: dict[str, Any] = field(default_factory=dict)
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @classmethod
    def failed(cls, category: FailureCategory, message: str, **kw: Any) -> Outcome:
        return cls(failure=Failure(category=category, message=message, **kw))


@dataclass(frozen=True)
class PermissionOption:
    """One answer an agent offers to a permission request, shown exactly as offered."""

    id: str
    name: str
    kind: Literal["allow_once", "allow_always", "reject_once", "reject_always"]


class Reporter(Protocol):
    """How an agent reports progress; the orchestrator turns each call into an event."""

    async def step(self, step: int, total: int, description: str, *, risky: bool = False) -> None:
        """Step `step` (1-based) of `total` starts; a risky step gets a checkpoint first."""

    async def step_done(self, step: int) -> None:
        """Step `step` finished successfully (counts toward periodic checkpoints)."""

    async def step_skipped(self, step: int) -> None:
        """Step `step` is passed over because the person chose skip."""

    async def tokens(self, pool: str, tokens: int, *, estimated: bool = False) -> None:
        """`tokens` more used in `pool` (negative to release); `estimated` when the agent reported no
        usage and the count is an estimate from the text sizes."""

    async def log(self, message: str, level: str = "info") -> None:
        """A line for the event log (shown literally, never as markup)."""

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        """Ask the person to allow a tool call; returns the chosen option id, or None if cancelled."""
        ...

    async def ask(self, question: str, *, default: str = "") -> str:
        """Ask the person (a Planner's question); returns their answer."""
        ...

    async def retry_in_session(self, failure: Failure) -> bool:
        """A failure the agent may fix in its running session (a failing quality gate): True when the
        recovery policy grants a retry, recorded as a failure and a retry like any other; False when it
        does not, and then nothing is recorded: the agent returns the failure and recovery goes on."""
        ...

    async def session(self, session_id: str | None, **info: Any) -> None:
        """The agent's own session (an ACP session id, and what the agent offered): kept in state, so
        a retry or a resume can continue it (events.AgentSession's fields)."""

    # Optional (an agent checks with getattr): richer events and files kept beside the log.
    #
    # async def record(self, event: type[events._Event], **fields) -> None:
    #     """An event of this agent beyond the calls above (ACP tool calls, terminal output, stderr
    #     streams, session info); `agent` is filled in."""
    #
    # async def gate_passed(self, gate: str, command: str) -> None:
    #     """A quality gate passed (events.GatePassed), so that a resume does not run it again."""
    #
    # def files_dir(self) -> Path | None:
    #     """The orchestration's folder, where an agent keeps streams and blobs beside the log."""


class Agent(Protocol):
    resumes_steps: bool
    """True when a new attempt honours `completed_steps` (skips them); False restarts step progress."""

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        """Do the work; return an Outcome. Cancellation (abort, skip, Ctrl-C) arrives as CancelledError."""
        ...
