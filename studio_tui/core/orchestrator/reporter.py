"""The Reporter an agent is given: each of its calls becomes an event of its slot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..agents.base import Failure, PermissionOption
from ..decider import PERMISSION_CANCELLED

if TYPE_CHECKING:
    from .engine import Orchestrator


class SlotReporter:
    """The Reporter an agent gets: each call becomes an event of its slot."""

    def __init__(self, orchestrator: Orchestrator, key: str) -> None:
        self.orchestrator = orchestrator
        self.key = key

    async def step(self, step: int, total: int, description: str, *, risky: bool = False) -> None:
        orch = self.orchestrator
        orch._take_requests()
        if risky:
            orch.checkpoint(f"before_{self.key.replace(':', '_')}_step_{step}", after_agent=self.key, reason="risky_step", again=True)
        orch.emit(ev.AgentStep, agent=self.key, step=step, total=total, description=description, status="started")

    async def step_done(self, step: int) -> None:
        orch = self.orchestrator
        orch.emit(ev.AgentStep, agent=self.key, step=step, status="completed")
        done = len(orch.state.agent(self.key).steps_completed)  # type: ignore[union-attr]
        every = orch.config.checkpoints.every_steps
        if every and done % every == 0:
            orch.checkpoint(f"{self.key.replace(':', '_')}_step_{step}", after_agent=self.key, reason="progress")

    async def step_skipped(self, step: int) -> None:
        self.orchestrator.emit(ev.AgentStep, agent=self.key, step=step, status="skipped")

    async def gate_passed(self, gate: str, command: str) -> None:
        agent = self.orchestrator.state.agent(self.key)
        self.orchestrator.emit(ev.GatePassed, agent=self.key, gate=gate, command=command, attempt=agent.attempts if agent else 0)

    async def tokens(self, pool: str, tokens: int, *, estimated: bool = False) -> None:
        await self.orchestrator.add_tokens(self.key, pool, tokens, estimated=estimated)

    async def session(self, session_id: str | None, **info: Any) -> None:
        self.orchestrator.emit(ev.AgentSession, agent=self.key, session_id=session_id, **info)

    async def retry_in_session(self, failure: Failure) -> bool:
        return await self.orchestrator._retry_in_session(self.key, failure)

    async def activity(self, cls: type[ev.ToolCallRecorded] | type[ev.TerminalOutput], **fields: Any) -> None:
        """A tool call or terminal output the agent reports (scripted agents; ACP ones through their client)."""
        if cls not in (ev.ToolCallRecorded, ev.TerminalOutput):
            raise TypeError(f"activity() takes tool calls and terminal output, not {cls.__name__}")
        self.orchestrator.emit(cls, agent=self.key, **fields)

    async def log(self, message: str, level: str = "info") -> None:
        self.orchestrator.emit(ev.AgentLog, agent=self.key, level=level, message=message)

    async def record(self, event: type[ev._Event], **fields: Any) -> None:
        """An event of this agent beyond the Reporter's calls (ACP tool calls, terminals, stderr, session)."""
        self.orchestrator.emit(event, agent=self.key, **fields)

    def files_dir(self) -> Path | None:
        """The orchestration's folder: an agent's stderr streams and blobs are kept there, beside the log."""
        orch_id = self.orchestrator.state.id
        return self.orchestrator.workspace.orch_dir(orch_id) if orch_id else None

    async def permission(self, title: str, options: list[PermissionOption], *, details: dict[str, Any] | None = None) -> str | None:
        orch = self.orchestrator
        offered = {"options": [{"id": o.id, "name": o.name, "kind": o.kind} for o in options], **(details or {})}
        answer = await orch._ask(
            "permission",
            title,
            agent=self.key,
            options=(*tuple(o.id for o in options), PERMISSION_CANCELLED),
            details=offered,
        )
        return None if answer == PERMISSION_CANCELLED else answer

    async def ask(self, question: str, *, default: str = "") -> str:
        orch = self.orchestrator
        agent = orch.state.agent(self.key)
        for earlier in reversed(orch.state.decisions):
            if earlier.kind == "question" and earlier.agent == self.key and earlier.prompt == question and earlier.by == "person":
                # Asked and answered before a resume (or a retry): the person is not asked twice.
                await self.log(f"answer reused from decision {earlier.id}: {earlier.answer}")
                return earlier.answer or ""
        asked = sum(1 for d in orch.state.decisions if d.kind == "question" and d.agent == self.key)
        if asked >= orch.config.planner.max_question_rounds:
            await self.log(f"question round limit reached; assuming: {default or 'no answer'}", "warning")
            return default
        return await orch._ask(
            "question",
            question,
            agent=self.key,
            details={"round": asked + 1, "max_rounds": orch.config.planner.max_question_rounds, "role": agent.role if agent else ""},
            default=default,
        )
