"""What every test ACP agent shares: the agent side of `agent-client-protocol`, a session, a trace file.

The agents here are real ACP agents (started as subprocesses by the tests), written with the same
package studio-tui uses for its client side, so the tests exercise the real protocol end to end.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from acp import PROTOCOL_VERSION, run_agent
from acp.schema import AgentCapabilities, Implementation, InitializeResponse, NewSessionResponse

SESSION_ID = "test-session-1"


class BaseAgent:
    """Answers initialize and session/new, records session/cancel; subclasses implement `prompt`."""

    name = "test-agent"

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.conn: Any = None
        self.client_fs: Any = None
        self.client_terminal: bool | None = None
        self.cwd = ""
        self.cancelled = asyncio.Event()

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    def trace(self, line: str) -> None:
        """Append `line` to the trace file the test named (--trace), so a test can see what happened here."""
        if self.options.trace:
            with open(self.options.trace, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    async def initialize(
        self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None, **kw: Any
    ) -> InitializeResponse:
        if client_capabilities is not None:
            self.client_fs = client_capabilities.fs
            self.client_terminal = client_capabilities.terminal
        self.trace(f"initialize client={client_info.name if client_info else None}")
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(),
            agent_info=Implementation(name=self.name, version="1.0"),
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> NewSessionResponse:
        self.cwd = cwd
        self.trace(f"new_session cwd={cwd}")
        return NewSessionResponse(session_id=SESSION_ID)

    async def authenticate(self, method_id: str, **kw: Any) -> None:
        return None

    async def cancel(self, session_id: str, **kw: Any) -> None:
        self.trace("cancel received")
        self.cancelled.set()

    async def say(self, session_id: str, update: Any) -> None:
        await self.conn.session_update(session_id=session_id, update=update)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--trace", help="append what happens to this file")
    return p


def main(agent_class: type[BaseAgent], p: argparse.ArgumentParser) -> None:
    options = p.parse_args()
    asyncio.run(run_agent(agent_class(options)))
