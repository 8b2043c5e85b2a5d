"""An ACP agent exercising the client's capabilities, one scenario per run (`--scenario`):

outside        asks permission to run a shell command and edit a file outside the project root
               (a location and a diff), then reports the answer
ignore-cancel  asks permission; whatever the answer (even `cancelled`), ends its turn with end_turn;
               with --hang-after it then waits for session/cancel and still says end_turn
terminal       runs commands through terminal/* (output, a byte limit, exit code, kill, release),
               embeds one in a tool call, and reports what the client answered
subject        asks a permission the ACP v2 draft's way (with a `subject`), sent raw
diff           sends tool calls with diff content: a small one, a large one, one carrying the ACP v2
               draft's gitPatch, and a v2-only content type
modes          offers session modes and slash commands, reports the MCP servers and mode it got
auth           advertises auth methods; session/new needs `authenticate` with --accept first
root           behaves like Claude Code's adapter run as root: stderr refusal, then Internal error
stderr         writes --lines stderr lines, then ends its turn

The final message is a JSON object saying what the agent got; --trace records the order of events.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from acp import (
    PROTOCOL_VERSION,
    RequestError,
    start_tool_call,
    tool_diff_content,
    tool_terminal_ref,
    update_agent_message_text,
    update_tool_call,
)
from acp.helpers import update_available_commands, update_current_mode
from acp.schema import (
    AgentCapabilities,
    AuthMethodAgent,
    AvailableCommand,
    Implementation,
    InitializeResponse,
    NewSessionResponse,
    PermissionOption,
    PromptResponse,
    SessionMode,
    SessionModeState,
    ToolCallLocation,
    ToolCallUpdate,
)
from agent_base import SESSION_ID, BaseAgent, main, parser

CLAUDE_OPTIONS = [
    PermissionOption(option_id="allow_always", name="Always Allow", kind="allow_always"),
    PermissionOption(option_id="allow", name="Allow", kind="allow_once"),
    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]
"""The options Claude Code's adapter offers (ids as it sends them)."""

MODES = [
    SessionMode(id="default", name="Default"),
    SessionMode(id="acceptEdits", name="Accept Edits"),
    SessionMode(id="plan", name="Plan Mode"),
]


class ClientAgent(BaseAgent):
    name = "client-agent"

    def __init__(self, options: Any) -> None:
        super().__init__(options)
        self.authenticated: str | None = None
        self.mcp_servers: list[Any] = []
        self.mode = "default"

    async def initialize(
        self, protocol_version: int, client_capabilities: Any = None, client_info: Any = None, **kw: Any
    ) -> InitializeResponse:
        await super().initialize(protocol_version, client_capabilities, client_info, **kw)
        methods = []
        if self.options.scenario == "auth":
            methods = [
                AuthMethodAgent(id="claude-login", name="Log in with Claude Code"),
                AuthMethodAgent(id="api-key", name="Use ANTHROPIC_API_KEY"),
            ]
        return InitializeResponse(
            protocol_version=PROTOCOL_VERSION,
            agent_capabilities=AgentCapabilities(),
            agent_info=Implementation(name=self.name, version="1.0"),
            auth_methods=methods,
        )

    async def authenticate(self, method_id: str, **kw: Any) -> None:
        self.trace(f"authenticate {method_id}")
        if method_id != self.options.accept:
            raise RequestError.invalid_params({"methodId": method_id, "details": "not this one"})
        self.authenticated = method_id
        return None

    async def new_session(self, cwd: str, mcp_servers: Any = None, **kw: Any) -> NewSessionResponse:
        self.cwd = cwd
        self.mcp_servers = [s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in mcp_servers or []]
        scenario = self.options.scenario
        if scenario == "auth" and self.authenticated is None:
            raise RequestError(
                -32000,
                "Authentication required",
                {"message": "Please run /login: no Claude credentials were found on this machine"},
            )
        if scenario == "root":
            sys.stderr.write("--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n")
            sys.stderr.flush()
            raise RequestError.internal_error({"details": "Query closed before response received"})
        modes = SessionModeState(current_mode_id="default", available_modes=MODES) if scenario == "modes" else None
        return NewSessionResponse(session_id=SESSION_ID, modes=modes)

    async def set_session_mode(self, session_id: str, mode_id: str, **kw: Any) -> None:
        self.trace(f"set_mode {mode_id}")
        self.mode = mode_id
        await self.say(session_id, update_current_mode(mode_id))
        return None

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        scenario = self.options.scenario.replace("-", "_")
        result = await getattr(self, f"scenario_{scenario}")(session_id)
        await self.say(session_id, update_agent_message_text(json.dumps(result)))
        return PromptResponse(stop_reason=self.options.stop_reason)

    async def ask(self, session_id: str, tool_call: ToolCallUpdate, options: list[PermissionOption] = CLAUDE_OPTIONS) -> str:
        answer = await self.conn.request_permission(session_id=session_id, tool_call=tool_call, options=options)
        got = answer.outcome.option_id if answer.outcome.outcome == "selected" else "cancelled"
        self.trace(f"permission {got}")
        return got

    # ── scenarios ──

    async def scenario_outside(self, session_id: str) -> dict[str, Any]:
        outside = self.options.path
        command = f"cat {outside} && echo '[bold]x[/]' > {outside}"
        await self.say(session_id, start_tool_call("shell", "Edit a file outside the project", kind="edit", status="pending"))
        got = await self.ask(
            session_id,
            ToolCallUpdate(
                tool_call_id="shell",
                title="Edit a file outside the project",
                kind="edit",
                raw_input={"command": command, "description": "overwrite it"},
                locations=[ToolCallLocation(path=outside), ToolCallLocation(path=f"{self.cwd}/src/app.py", line=3)],
                content=[tool_diff_content(outside, "new line\n", "old line\n")],
            ),
        )
        return {"permission": got}

    async def scenario_ignore_cancel(self, session_id: str) -> dict[str, Any]:
        await self.say(session_id, start_tool_call("w1", "Write notes.txt", kind="edit", status="pending"))
        got = await self.ask(
            session_id, ToolCallUpdate(tool_call_id="w1", title="Write notes.txt", kind="edit", raw_input={"path": "notes.txt"})
        )
        if self.options.hang_after:
            await self.say(session_id, update_agent_message_text("waiting\n"))
            await self.cancelled.wait()
            self.trace("cancel ignored: ending the turn as end_turn")
        return {"permission": got}

    async def scenario_terminal(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        script = "printf 'line one\\n'; printf 'to stderr\\n' >&2; printf 'é%.0s' $(seq 1 50); exit 3"
        term = await self.conn.create_terminal(session_id=session_id, command="/bin/sh", args=["-c", script], output_byte_limit=41)
        await self.say(
            session_id,
            start_tool_call("run1", "Run a script", kind="execute", status="in_progress", content=[tool_terminal_ref(term.terminal_id)]),
        )
        exited = await self.conn.wait_for_terminal_exit(session_id=session_id, terminal_id=term.terminal_id)
        output = await self.conn.terminal_output(session_id=session_id, terminal_id=term.terminal_id)
        result["limited"] = {
            "exit_code": exited.exit_code,
            "signal": exited.signal,
            "output": output.output,
            "truncated": output.truncated,
            "exit_status": output.exit_status.exit_code if output.exit_status else None,
        }
        await self.conn.release_terminal(session_id=session_id, terminal_id=term.terminal_id)
        await self.say(session_id, update_tool_call("run1", status="completed"))

        shell = await self.conn.create_terminal(
            session_id=session_id, command="echo $STUDIO_TEST_VAR from $(pwd)", env=[{"name": "STUDIO_TEST_VAR", "value": "hello"}]
        )
        await self.conn.wait_for_terminal_exit(session_id=session_id, terminal_id=shell.terminal_id)
        result["shell"] = (await self.conn.terminal_output(session_id=session_id, terminal_id=shell.terminal_id)).output

        sleeper = await self.conn.create_terminal(session_id=session_id, command="sleep", args=["600"])
        running = await self.conn.terminal_output(session_id=session_id, terminal_id=sleeper.terminal_id)
        result["running_exit_status"] = running.exit_status
        await self.conn.kill_terminal(session_id=session_id, terminal_id=sleeper.terminal_id)
        killed = await self.conn.wait_for_terminal_exit(session_id=session_id, terminal_id=sleeper.terminal_id)
        result["killed"] = {"exit_code": killed.exit_code, "signal": killed.signal}
        await self.conn.release_terminal(session_id=session_id, terminal_id=sleeper.terminal_id)
        try:
            await self.conn.terminal_output(session_id=session_id, terminal_id=sleeper.terminal_id)
            result["released"] = "still there"
        except RequestError as exc:
            result["released"] = exc.code
        try:
            await self.conn.create_terminal(session_id=session_id, command="true", cwd="/")
            result["outside_cwd"] = "ran"
        except RequestError as exc:
            result["outside_cwd"] = exc.code
        # Left running: the client must kill it when the run ends.
        left = await self.conn.create_terminal(session_id=session_id, command="/bin/sh", args=["-c", "echo $$; exec sleep 600"])
        while True:
            shown = await self.conn.terminal_output(session_id=session_id, terminal_id=left.terminal_id)
            if shown.output.strip():
                result["left_pid"] = int(shown.output.split()[0])
                break
            await asyncio.sleep(0.05)  # polling the agent's own terminal, as an agent would
        if self.options.hang_after:
            await self.say(session_id, update_agent_message_text(f"left pid {result['left_pid']}\n"))
            await asyncio.Future()  # never ends its turn, not even on session/cancel
        return result

    async def scenario_diff(self, session_id: str) -> dict[str, Any]:
        small = tool_diff_content(f"{self.cwd}/src/app.py", "print('new')\n", "print('old')\n")
        await self.say(
            session_id,
            start_tool_call(
                "e1",
                "Edit src/app.py",
                kind="edit",
                status="pending",
                content=[small],
                locations=[ToolCallLocation(path=f"{self.cwd}/src/app.py")],
            ),
        )
        await self.say(session_id, update_tool_call("e1", status="completed"))
        big_new = "".join(f"line {i}\n" for i in range(2000))
        big = tool_diff_content(f"{self.cwd}/big.txt", big_new, None)
        await self.say(session_id, start_tool_call("e2", "Write big.txt", kind="edit", status="completed", content=[big]))
        # The ACP v2 draft: a git patch beside the diff, and a content type v1 does not know.
        raw = {
            "sessionId": session_id,
            "update": {
                "sessionUpdate": "tool_call",
                "toolCallId": "e3",
                "title": "Patch README.md",
                "kind": "edit",
                "status": "completed",
                "content": [
                    {
                        "type": "diff",
                        "path": f"{self.cwd}/README.md",
                        "oldText": "a\n",
                        "newText": "b\n",
                        "gitPatch": "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-a\n+b\n",
                    },
                    {"type": "file_change", "path": f"{self.cwd}/x.py", "gitPatch": "--- a/x.py\n+++ b/x.py\n"},
                ],
            },
        }
        await self.conn._conn.send_notification("session/update", raw)
        return {"sent": 3}

    async def scenario_subject(self, session_id: str) -> dict[str, Any]:
        """ACP v2 draft: a permission request with a `subject`, sent raw (v1's schema has no such field)."""
        params = {
            "sessionId": session_id,
            "toolCall": {"toolCallId": "s1", "title": "Push to origin", "kind": "execute", "rawInput": {"command": "git push origin main"}},
            "options": [
                {"optionId": "ok", "name": "Allow", "kind": "allow_once"},
                {"optionId": "no", "name": "Reject", "kind": "reject_once"},
            ],
            "subject": "the remote repository origin (github.com/example/app)",
        }
        answer = await self.conn._conn.send_request("session/request_permission", params)
        return {"answer": answer["outcome"]}

    async def scenario_modes(self, session_id: str) -> dict[str, Any]:
        await self.say(
            session_id,
            update_available_commands(
                [
                    AvailableCommand(name="review", description="Review the changes"),
                    AvailableCommand(name="init", description="Write CLAUDE.md"),
                ]
            ),
        )
        return {"mode": self.mode, "mcp_servers": self.mcp_servers}

    async def scenario_auth(self, session_id: str) -> dict[str, Any]:
        return {"authenticated": self.authenticated}

    async def scenario_stderr(self, session_id: str) -> dict[str, Any]:
        for number in range(1, self.options.lines + 1):
            sys.stderr.write(f"debug line {number} of {self.options.lines}\n")
        sys.stderr.flush()
        return {"wrote": self.options.lines}


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--scenario", required=True)
    p.add_argument("--path", default="/etc/hosts", help="the outside path (scenario outside)")
    p.add_argument("--hang-after", action="store_true", help="ignore-cancel: then wait for session/cancel; terminal: then hang")
    p.add_argument("--accept", default="api-key", help="auth: the method authenticate accepts")
    p.add_argument("--lines", type=int, default=10_000, help="stderr: lines to write")
    p.add_argument("--stop-reason", default="end_turn")
    main(ClientAgent, p)
