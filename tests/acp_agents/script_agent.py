"""A scripted ACP agent: each session/prompt plays the next turn of a JSON script, so a test can make
it write a plan, write a bad one first, ask a question, fail a gate and then fix it.

The script is a list of turns; a turn is a list of actions, played in order:
  {"say": "text"}                         an agent_message_chunk (a question ends with "?")
  {"write": "path", "content": "text"}    fs/write_text_file through the client (relative to the cwd)
  {"plan": ["entry", ...]}                an ACP plan (all entries pending)
  {"usage": 1234}                         a usage_update (context used)
  {"exit": 3}                             the process dies mid-turn
  {"stop": "end_turn"}                    the stop reason (default end_turn)
The turn played is counted in SCRIPT.index, so a new process (a retry, a resume) plays the next one;
past the last turn the agent says "nothing left to do" and ends its turn. Every prompt text is
appended to --trace as a JSON line.

--load-session advertises session/load (and loads any session id it is given); --auth-required
answers session/new with "authentication required" and advertises two auth methods; --no-initialize
never answers initialize.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from acp import PROTOCOL_VERSION, RequestError, plan_entry, update_agent_message_text, update_plan
from acp.schema import (
    AgentCapabilities,
    AuthMethodAgent,
    Implementation,
    InitializeResponse,
    LoadSessionResponse,
    NewSessionResponse,
    PromptResponse,
    UsageUpdate,
)
from agent_base import BaseAgent, main, parser


class ScriptAgent(BaseAgent):
    name = "script-agent"

    def trace_json(self, **record: Any) -> None:
        self.trace(json.dumps(record))

    async def initialize(
        self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None, **kw: Any
    ) -> InitializeResponse:
        self.trace_json(event="initialize")
        if self.options.no_initialize:
            await asyncio.Future()  # never answers
        methods = []
        if self.options.auth_required:
            methods = [
                AuthMethodAgent(id="api-key", name="API key", description="set SCRIPT_AGENT_KEY"),
                AuthMethodAgent(id="login", name="Browser login"),
            ]
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(load_session=self.options.load_session),
            agent_info=Implementation(name=self.name, version="1.0"),
            auth_methods=methods,
        )

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> NewSessionResponse:
        self.cwd = cwd
        if self.options.auth_required:
            raise RequestError(-32000, "Not signed in: run `script-agent login` first")
        session_id = f"script-session-{os.getpid()}"
        self.trace_json(event="new_session", session_id=session_id)
        return NewSessionResponse(session_id=session_id)

    async def load_session(self, cwd: str, session_id: str, mcp_servers: Any = None, **kw: Any) -> LoadSessionResponse:
        self.cwd = cwd
        self.trace_json(event="load_session", session_id=session_id)
        # The history replay a loading agent sends: already shown once, the client must drop it.
        await self.say(session_id, update_agent_message_text("REPLAYED HISTORY\n"))
        return LoadSessionResponse()

    def next_turn(self) -> list[dict[str, Any]] | None:
        script = Path(self.options.script)
        turns = json.loads(script.read_text(encoding="utf-8"))
        index_path = script.with_name(script.name + ".index")
        index = int(index_path.read_text()) if index_path.exists() else 0
        index_path.write_text(str(index + 1))
        return turns[index] if index < len(turns) else None

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        text = "".join(getattr(block, "text", "") for block in prompt)
        self.trace_json(event="prompt", session_id=session_id, text=text)
        turn = self.next_turn()
        if turn is None:
            await self.say(session_id, update_agent_message_text("nothing left to do\n"))
            return PromptResponse(stop_reason="end_turn")
        stop = "end_turn"
        for action in turn:
            if "say" in action:
                await self.say(session_id, update_agent_message_text(action["say"]))
            elif "write" in action:
                path = Path(action["write"])
                target = path if path.is_absolute() else Path(self.cwd) / path
                await self.conn.write_text_file(session_id=session_id, path=str(target), content=action["content"])
            elif "plan" in action:
                await self.say(session_id, update_plan(plan_entry(entry) for entry in action["plan"]))
            elif "usage" in action:
                await self.say(session_id, UsageUpdate(session_update="usage_update", used=action["usage"], size=200000))
            elif "exit" in action:
                os._exit(action["exit"])
            elif "stop" in action:
                stop = action["stop"]
        return PromptResponse(stop_reason=stop)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--script", required=True, help="the JSON script of turns")
    p.add_argument("--load-session", action="store_true")
    p.add_argument("--auth-required", action="store_true")
    p.add_argument("--no-initialize", action="store_true")
    main(ScriptAgent, p)
