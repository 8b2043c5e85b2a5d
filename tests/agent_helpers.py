"""Test doubles and helpers for agent tests: a recording Reporter, tasks, and process checks."""

from __future__ import annotations

import asyncio
import os
import select
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from studio_tui.core.agents.base import AgentTask
from studio_tui.core.config import CommandAgentConfig

MAX_RECORDED_LOGS = 1000
"""Log calls the recording reporter keeps; a flood test must not make the test itself grow."""

EMIT = """\
import json, os, sys
def emit(**message):
    sys.stdout.write(json.dumps(message) + "\\n")
    sys.stdout.flush()
handoff = json.loads(sys.stdin.readline())
"""
"""Prelude of a scripted command agent: `emit(type=..., ...)` and the parsed `handoff` line."""


class RecordingReporter:
    """A Reporter that records every call in order (logs in a bounded deque) and answers questions."""

    def __init__(
        self,
        answers: list[str] | None = None,
        *,
        on_ask: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.events: list[tuple[Any, ...]] = []
        """Every non-log call, in order: ("step", step, total, description, risky), ("tokens", pool, n)..."""
        self.logs: deque[tuple[str, str]] = deque(maxlen=MAX_RECORDED_LOGS)
        self.log_count = 0
        self.log_levels: dict[str, int] = {}
        self.questions: list[tuple[str, str]] = []
        self.sessions: list[dict[str, Any]] = []
        self.in_session_retries = 2
        """How many in-session retries `retry_in_session` grants before it says no."""
        self._answers = list(answers or [])
        self._on_ask = on_ask
        self._log_waiters: list[tuple[Callable[[str], bool], asyncio.Future[str]]] = []

    async def step(self, step: int, total: int, description: str, *, risky: bool = False) -> None:
        self.events.append(("step", step, total, description, risky))

    async def step_done(self, step: int) -> None:
        self.events.append(("step_done", step))

    async def step_skipped(self, step: int) -> None:
        self.events.append(("step_skipped", step))

    async def tokens(self, pool: str, tokens: int, *, estimated: bool = False) -> None:
        self.events.append(("tokens", pool, tokens, "estimated") if estimated else ("tokens", pool, tokens))

    async def session(self, session_id: str | None, **info: Any) -> None:
        self.sessions.append({"session_id": session_id, **info})

    async def retry_in_session(self, failure: Any) -> bool:
        self.events.append(("retry_in_session", failure.category, failure.message))
        if self.in_session_retries > 0:
            self.in_session_retries -= 1
            return True
        return False

    async def log(self, message: str, level: str = "info") -> None:
        self.logs.append((message, level))
        self.log_count += 1
        self.log_levels[level] = self.log_levels.get(level, 0) + 1
        for matches, waiter in list(self._log_waiters):
            if not waiter.done() and matches(message):
                waiter.set_result(message)

    async def ask(self, question: str, *, default: str = "") -> str:
        self.questions.append((question, default))
        if self._on_ask is not None:
            await self._on_ask(question)
        return self._answers.pop(0) if self._answers else default

    def wait_for_log(self, matches: Callable[[str], bool]) -> asyncio.Future[str]:
        """A future that resolves with the first later log message `matches` accepts."""
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._log_waiters.append((matches, waiter))
        return waiter

    def messages(self, level: str | None = None) -> list[str]:
        return [m for m, lvl in self.logs if level is None or lvl == level]

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


def make_task(root: Path, **overrides: Any) -> AgentTask:
    """A builder task rooted at `root`, with any field overridden."""
    fields: dict[str, Any] = {
        "key": "builder:T1",
        "role": "builder",
        "mode": "build",
        "goal": "build the thing",
        "project_root": root,
        "workspace_root": root / ".studio",
        "task_id": "T1",
    }
    fields.update(overrides)
    return AgentTask(**fields)


def python_agent(body: str, *, timeout: float = 10.0, env: dict[str, str] | None = None) -> CommandAgentConfig:
    """A command agent config running `EMIT` + `body` in this Python interpreter."""
    return CommandAgentConfig(kind="command", command=[sys.executable, "-c", EMIT + body], timeout=timeout, env=env or {})


EXIT_WAIT_SECONDS = 2.0
"""How long `process_gone` waits for a killed process to finish dying (a SIGKILL is asynchronous)."""


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (reaped, or a zombie), waiting on its pidfd up to EXIT_WAIT_SECONDS."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], EXIT_WAIT_SECONDS)
    finally:
        os.close(pidfd)
    return bool(readable)
