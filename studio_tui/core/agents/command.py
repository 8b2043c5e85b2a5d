"""The `command` agent: an external process speaking JSON lines (see docs/command-agent-protocol.md)."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..config import CommandAgentConfig
from ..events import FailureCategory
from .base import AgentTask, Outcome, Reporter
from .builtin import resolve_self
from .process import (
    MAX_LINE_BYTES,
    ChildProcess,
    LogThrottle,
    OutputLine,
    OutputTail,
    RunClock,
    StreamName,
    clip,
    describe_command,
    describe_exit,
)


class _Message(BaseModel):
    # Extra fields are ignored, so a newer agent can add some without breaking an older orchestrator.
    model_config = ConfigDict(extra="ignore")


class ProgressMessage(_Message):
    type: Literal["progress"]
    step: int = Field(ge=1)
    total: int = Field(ge=1)
    description: str = ""
    risky: bool = False
    done: bool = False


class TokensMessage(_Message):
    type: Literal["tokens"]
    pool: str = Field(min_length=1)
    tokens: int


class LogMessage(_Message):
    type: Literal["log"]
    message: str
    level: Literal["debug", "info", "warning", "error"] = "info"


class QuestionMessage(_Message):
    type: Literal["question"]
    question: str = Field(min_length=1)
    default: str = ""


class ResultMessage(_Message):
    type: Literal["result"]
    output: dict[str, Any] = {}


class FailureMessage(_Message):
    type: Literal["failure"]
    category: FailureCategory
    message: str
    step: int | None = Field(None, ge=1)
    details: str = ""
    critical: bool = False


AgentMessage = Annotated[
    ProgressMessage | TokensMessage | LogMessage | QuestionMessage | ResultMessage | FailureMessage,
    Field(discriminator="type"),
]
_MESSAGE = TypeAdapter(AgentMessage)


def parse_message(text: str) -> AgentMessage | str | None:
    """A protocol message from one stdout line; None for plain text; a str saying what is wrong."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        data = json.loads(stripped)
    except ValueError as exc:
        return f"invalid JSON: {exc}"
    except RecursionError:
        return "invalid JSON: nested too deeply"
    try:
        return _MESSAGE.validate_python(data)
    except RecursionError:
        return "nested too deeply"
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        return f"{field}: {first['msg']}" if field else first["msg"]


def handoff_line(task: AgentTask) -> str:
    """The first stdin line: the task and its handoff context, as one JSON object."""
    return json.dumps(
        {
            "role": task.role,
            "mode": task.mode,
            "goal": task.goal,
            "task_id": task.task_id,
            "attempt": task.attempt,
            "context": task.context,
            "completed_steps": sorted(task.completed_steps),
            "skip_steps": sorted(task.skip_steps),
            "plan_path": str(task.plan_path) if task.plan_path is not None else None,
            "project_root": str(task.project_root),
            "workspace_root": str(task.workspace_root),
            "failure": dataclasses.asdict(task.failure) if task.failure is not None else None,
            "answers": [{"question": question, "answer": answer} for question, answer in task.answers],
        },
        default=str,
    )


class _Session:
    """One run of a command agent: turns its stdout lines into reporter calls and remembers the end."""

    def __init__(self, child: ChildProcess, reporter: Reporter, clock: RunClock) -> None:
        self.child = child
        self.reporter = reporter
        self.clock = clock
        self.logs = LogThrottle(reporter)
        self.stderr_tail = OutputTail()
        self.final: ResultMessage | FailureMessage | None = None

    async def on_line(self, stream: StreamName, line: OutputLine) -> None:
        if stream == "stderr":
            self.stderr_tail.add(line.shown())
            return
        if not line.text.strip():
            return
        message: AgentMessage | str | None
        if line.truncated:
            message = f"longer than {MAX_LINE_BYTES} bytes" if line.text.lstrip().startswith("{") else None
        else:
            message = parse_message(line.text)
        if message is None:
            await self.logs.log(line.shown(), "info")
        elif isinstance(message, str):
            await self.logs.log(f"ignored agent output line ({message}): {line.shown()}", "warning")
        else:
            await self._handle(message)

    async def _handle(self, message: AgentMessage) -> None:
        if isinstance(message, ProgressMessage):
            if message.done:
                await self.reporter.step_done(message.step)
            else:
                await self.reporter.step(message.step, message.total, message.description, risky=message.risky)
        elif isinstance(message, TokensMessage):
            await self.reporter.tokens(message.pool, message.tokens)
        elif isinstance(message, LogMessage):
            await self.logs.log(clip(message.message), message.level)
        elif isinstance(message, QuestionMessage):
            if self.child.returncode is not None:
                await self.logs.log(f"ignored a question the agent asked as it ended: {message.question}", "warning")
                return
            with self.clock.paused():
                answer = await self.reporter.ask(message.question, default=message.default)
            await self.child.send_line(json.dumps({"type": "answer", "answer": answer}))
        elif self.final is not None:
            already = self.final.type
            await self.logs.log(f"ignored a second {message.type} line: the agent already sent {already}", "warning")
        else:
            self.final = message

    def outcome(self, exit_code: int | None) -> Outcome:
        tail = self.stderr_tail.text()
        if exit_code is None and isinstance(self.final, FailureMessage):
            # It said how it failed, then hung: its own verdict wins over "timed out" (a critical
            # failure must still halt, not be retried as transient).
            note = f"the agent did not exit after its failure line; killed after {self.clock.limit:g}s"
            details = f"{self.final.details}\n{note}" if self.final.details else note
            return Outcome.failed(
                self.final.category, self.final.message, step=self.final.step, details=details, critical_step=self.final.critical
            )
        if exit_code is None:
            sent = f"it had sent a {self.final.type} line; " if self.final else ""
            details = f"{sent}stderr tail:\n{tail}" if tail else sent.rstrip("; ")
            return Outcome.failed("transient", f"timed out after {self.clock.limit:g}s", details=details)
        if isinstance(self.final, FailureMessage):
            details = self.final.details or (f"{describe_exit(exit_code)}; stderr tail:\n{tail}" if tail else "")
            return Outcome.failed(
                self.final.category,
                self.final.message,
                step=self.final.step,
                details=details,
                critical_step=self.final.critical,
            )
        ended = describe_exit(exit_code)
        details = f"{ended}; stderr tail:\n{tail}" if tail else f"{ended}; no stderr output"
        if isinstance(self.final, ResultMessage):
            if exit_code == 0:
                return Outcome(output=self.final.output)
            return Outcome.failed("code_error", f"failed after sending its result: {ended}", details=details)
        if exit_code == 0:
            return Outcome.failed("code_error", "exited without a result", details=details)
        return Outcome.failed("code_error", f"exited without a result: {ended}", details=details)


class CommandAgent:
    """Runs an external process as an agent: handoff JSON on stdin, JSON lines on stdout."""

    resumes_steps = True
    """A new attempt is told `completed_steps` and skips them."""

    def __init__(self, config: CommandAgentConfig) -> None:
        self.config = config

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        child = ChildProcess(
            resolve_self(self.config.command),
            cwd=task.project_root,
            env={**os.environ, **self.config.env},
            with_stdin=True,
        )
        try:
            await child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Outcome.failed(
                "blocker",
                f"cannot start agent command {describe_command(self.config.command)!r}: {reason}",
                details=f"cwd: {task.project_root}",
            )
        clock = RunClock(self.config.timeout)
        session = _Session(child, reporter, clock)
        try:
            exit_code = await child.run(session.on_line, clock, first_line=handoff_line(task))
        finally:
            await child.close()
        await session.logs.flush()
        return session.outcome(exit_code)
