"""AcpAgent: the `acp` agent kind, one ACP run per attempt."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from ...config import AcpAgentConfig
from ..base import AgentTask, Outcome, Reporter
from ..process import describe_command
from .process import AgentProcess, Session, agent_argv, agent_cwd
from .prompts import render_prompt


class AcpAgent:
    """Runs a coding agent that speaks the Agent Client Protocol, as studio-tui's ACP client."""

    resumes_steps = False
    """Each attempt is a fresh session whose steps start again at 1."""

    def __init__(self, config: AcpAgentConfig, *, allow_outside: list[str] | None = None) -> None:
        self.config = config
        self.allow_outside = [Path(folder).expanduser().resolve() for folder in allow_outside or []]
        """permissions.allow_outside: folders outside the project root a fixed `allow` policy may allow."""

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        try:
            prompt = render_prompt(self.config.prompt, task)
        except (KeyError, ValueError, IndexError) as exc:
            return Outcome.failed("blocker", f"the acp agent's prompt template does not render: {exc}")
        argv = agent_argv(self.config)
        cwd = agent_cwd(self.config, task.project_root)
        child = AgentProcess(argv, cwd=cwd, env={**os.environ, **self.config.env}, with_stdin=True)
        try:
            await child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Outcome.failed(
                "blocker", f"cannot start ACP agent {describe_command(argv)!r}: {reason}", details=f"cwd: {cwd}"
            )
        await reporter.log(f"started ACP agent {describe_command(argv)} (pid {child.pid})", "debug")
        session = Session(self.config, task, reporter, child, prompt, allow_outside=self.allow_outside)
        try:
            return await session.drive()
        except asyncio.CancelledError:
            await asyncio.shield(session.stop())
            raise
        finally:
            await asyncio.shield(session.close())
