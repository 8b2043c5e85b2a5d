"""A deterministic ACP agent: streams thought and message chunks, sends a plan and usage, makes two
tool calls (reading and writing through the client's fs methods), asks a permission offering all four
option kinds, and ends its turn with a JSON summary saying what it got."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from acp import (
    RequestError,
    plan_entry,
    start_tool_call,
    update_agent_message_text,
    update_agent_thought_text,
    update_plan,
    update_tool_call,
)
from acp.schema import PermissionOption, PromptResponse, ToolCallUpdate, UsageUpdate
from agent_base import BaseAgent, main, parser

OPTIONS = [
    PermissionOption(option_id="allow-once", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="allow-always", name="Always allow writes", kind="allow_always"),
    PermissionOption(option_id="reject-once", name="Reject", kind="reject_once"),
    PermissionOption(option_id="reject-always", name="Never allow writes", kind="reject_always"),
]
PLAN = ["Inspect the project", "Write the notes", "Report"]


class GoodAgent(BaseAgent):
    name = "good-agent"

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        text = "".join(getattr(block, "text", "") for block in prompt)
        self.trace(f"prompt pid={os.getpid()}")
        use_plan = not self.options.no_plan

        async def plan(*statuses: str) -> None:
            if use_plan:
                await self.say(session_id, update_plan(plan_entry(c, status=s) for c, s in zip(PLAN, statuses, strict=False)))

        for chunk in ("Considering", " the goal", " carefully"):
            await self.say(session_id, update_agent_thought_text(chunk))
        for chunk in ("Hello", " from the good", " agent.\nSecond", " line.\n"):
            await self.say(session_id, update_agent_message_text(chunk))
        await plan("pending", "pending", "pending")
        await plan("in_progress", "pending", "pending")
        await self.say(session_id, UsageUpdate(session_update="usage_update", used=1000, size=200000))

        # Tool call 1: read README.md through the client.
        readme = str(Path(self.cwd) / "README.md")
        await self.say(session_id, start_tool_call("t1", "Read README.md", kind="read", status="pending"))
        await self.say(session_id, update_tool_call("t1", status="in_progress"))
        read: str | None = None
        if self.client_fs is not None and self.client_fs.read_text_file:
            response = await self.conn.read_text_file(session_id=session_id, path=readme)
            read = response.content
        await self.say(session_id, update_tool_call("t1", status="completed"))
        await plan("completed", "in_progress", "pending")

        # Tool call 2: write notes.txt, if the person allows it.
        await self.say(session_id, start_tool_call("t2", "Write notes.txt", kind="edit", status="pending"))
        answer = await self.conn.request_permission(
            session_id=session_id,
            tool_call=ToolCallUpdate(
                tool_call_id="t2", title="Write notes.txt", kind="edit", status="pending", raw_input={"path": "notes.txt"}
            ),
            options=OPTIONS,
        )
        outcome = answer.outcome
        got = outcome.option_id if outcome.outcome == "selected" else "cancelled"
        self.trace(f"permission {got}")
        if got == "cancelled":
            await self.say(session_id, update_tool_call("t2", status="failed"))
            return PromptResponse(stop_reason="cancelled")
        wrote = False
        if got.startswith("allow"):
            await self.say(session_id, update_tool_call("t2", status="in_progress"))
            try:
                await self.conn.write_text_file(
                    session_id=session_id, path=str(Path(self.cwd) / "notes.txt"), content="notes by the good agent\n"
                )
                wrote = True
            except RequestError as exc:
                self.trace(f"write refused {exc}")
            await self.say(session_id, update_tool_call("t2", status="completed" if wrote else "failed"))
        else:
            await self.say(session_id, update_tool_call("t2", status="failed"))
        await self.say(session_id, UsageUpdate(session_update="usage_update", used=1500, size=200000))
        await plan("completed", "completed", "completed")

        summary = {
            "permission": got,
            "wrote": wrote,
            "read": read,
            "cwd": self.cwd,
            "prompt": text,
            "terminal": self.client_terminal,
        }
        await self.say(session_id, update_agent_message_text(json.dumps(summary)))
        return PromptResponse(stop_reason=self.options.stop_reason)


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--no-plan", action="store_true", help="send no plan (tool calls become the steps)")
    p.add_argument("--stop-reason", default="end_turn", help="the stop reason to end the turn with")
    main(GoodAgent, p)
