"""AcpAgent: the `acp` agent kind. One run per attempt: start the agent, open (or continue) its
session, and drive the role's conversation."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from ...config import AcpAgentConfig, PlannerConfig
from ...errors import InputError
from ...plan import load_plan
from ..base import AgentTask, Outcome, Reporter
from ..process import describe_command
from .builder import build_plan
from .documents import backlog_document, plan_document, planner_task_id, write_document
from .process import AgentProcess, Session, agent_argv, agent_cwd
from .prompts import default_instructions, first_prompt

Conversation = Callable[[Session], Awaitable[Outcome]]


class AcpAgent:
    """Runs a coding agent that speaks the Agent Client Protocol, as studio-tui's ACP client."""

    resumes_steps = True
    """A builder given a plan skips the steps already completed (they are not prompted again)."""

    def __init__(self, config: AcpAgentConfig, *, planner: PlannerConfig | None = None, allow_outside: list[str] | None = None) -> None:
        self.config = config
        self.planner = planner or PlannerConfig()
        self.allow_outside = [Path(folder).expanduser().resolve() for folder in allow_outside or []]
        """permissions.allow_outside: folders outside the project root a fixed `allow` policy may allow."""

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        try:
            conversation = self._conversation(task)
        except _NoRun as exc:
            return exc.outcome
        argv = agent_argv(self.config)
        cwd = agent_cwd(self.config, task.project_root)
        child = AgentProcess(argv, cwd=cwd, env={**os.environ, **self.config.env}, with_stdin=True)
        try:
            await child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Outcome.failed("blocker", f"cannot start ACP agent {describe_command(argv)!r}: {reason}", details=f"cwd: {cwd}")
        await reporter.log(f"started ACP agent {describe_command(argv)} (pid {child.pid})", "debug")
        session = Session(self.config, task, reporter, child, allow_outside=self.allow_outside)
        try:
            return await session.drive(conversation)
        except _NoRun as exc:
            return exc.outcome
        except asyncio.CancelledError:
            await asyncio.shield(session.stop())
            raise
        finally:
            await asyncio.shield(session.close())

    def _conversation(self, task: AgentTask) -> Conversation:
        """What the role's session looks like; _NoRun when the task cannot run at all."""
        config = self.config
        if task.role == "planner":
            task = dataclasses.replace(task, task_id=planner_task_id(task))
            document = plan_document(task, task.task_id or "")
        elif task.role == "architect":
            document = backlog_document(task)
        else:
            document = None
        plan = None
        if task.role == "builder" and task.plan_path is not None:
            try:
                plan = load_plan(task.plan_path)
            except InputError as exc:
                raise _NoRun(Outcome.failed("blocker", str(exc))) from None
        instructions = config.instructions if config.instructions is not None else default_instructions(task.role, plan is not None)
        output_path = document.path if document is not None else None

        def opening(session: Session) -> str:
            try:
                return first_prompt(config.prompt, instructions, session.task, output_path=output_path, resumed=session.resumed)
            except (KeyError, ValueError, IndexError) as exc:
                raise _NoRun(Outcome.failed("blocker", f"the acp agent's prompt template does not render: {exc}")) from None

        # Rendered once up front too, so a template that cannot render fails before a process starts.
        try:
            first_prompt(config.prompt, instructions, task, output_path=output_path, resumed=False)
        except (KeyError, ValueError, IndexError) as exc:
            raise _NoRun(Outcome.failed("blocker", f"the acp agent's prompt template does not render: {exc}")) from None

        async def converse(session: Session) -> Outcome:
            session.task = task
            if document is not None:
                return await write_document(
                    session,
                    document,
                    opening(session),
                    attempts=self.planner.plan_attempts,
                    max_questions=self.planner.max_question_rounds,
                )
            if plan is not None:
                return await build_plan(session, plan, opening(session))
            return await session.turn(opening(session))

        return converse


class _NoRun(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome
