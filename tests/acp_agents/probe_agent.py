"""An ACP agent for `studio-tui doctor`'s probes: answers initialize with capabilities and auth
methods, and session/new with session modes.

--auth-required: session/new answers `auth_required` (an env-var and an agent auth method offered).
--silent: never answers anything (it starts a `sleep` child in its process group first, so a test
can see the whole group is ended). --pid-file: write the agent's pid (and the child's) there."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any


def silent(pid_file: str | None) -> None:
    """Read nothing, answer nothing, until a signal ends the process (and its `sleep` child)."""
    child = subprocess.Popen(["sleep", "600"])
    if pid_file:
        with open(pid_file, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {child.pid}\n")
    while True:
        time.sleep(60)


if "--silent" in sys.argv:  # before the imports below, so it is up at once
    silent(sys.argv[sys.argv.index("--pid-file") + 1] if "--pid-file" in sys.argv else None)

from acp import PROTOCOL_VERSION, RequestError
from acp.schema import (
    AgentCapabilities,
    AuthEnvVar,
    AuthMethodAgent,
    EnvVarAuthMethod,
    Implementation,
    InitializeResponse,
    McpCapabilities,
    NewSessionResponse,
    PromptCapabilities,
    PromptResponse,
    SessionMode,
    SessionModeState,
)
from agent_base import BaseAgent, main, parser


class ProbeAgent(BaseAgent):
    name = "probe-agent"

    async def initialize(
        self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None, **kw: Any
    ) -> InitializeResponse:
        self.trace(f"initialize client={client_info.name if client_info else None}")
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(
                load_session=True,
                prompt_capabilities=PromptCapabilities(image=True, embedded_context=True),
                mcp_capabilities=McpCapabilities(http=True),
            ),
            auth_methods=[
                EnvVarAuthMethod(type="env_var", id="api-key", name="API key", vars=[AuthEnvVar(name="PROBE_API_KEY")]),
                AuthMethodAgent(id="probe-login", name="Log in", description="run `probe login` first"),
            ],
            agent_info=Implementation(name=self.name, version="2.5"),
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> NewSessionResponse:
        self.trace(f"new_session cwd={cwd}")
        if self.options.auth_required:
            raise RequestError.auth_required({"reason": "no PROBE_API_KEY and not logged in"})
        return NewSessionResponse(
            session_id="probe-1",
            modes=SessionModeState(
                current_mode_id="ask",
                available_modes=[SessionMode(id="ask", name="Ask"), SessionMode(id="code", name="Code")],
            ),
        )

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--auth-required", action="store_true")
    main(ProbeAgent, p)
