"""An ACP agent that never answers the prompt.

By default it blocks its whole process (no cancel, no end of input, nothing is handled: only a signal
ends it); with --honour-cancel it waits for session/cancel and then ends the turn as `cancelled`."""

from __future__ import annotations

import os
import time
from typing import Any

from acp import update_agent_message_text
from acp.schema import PromptResponse
from agent_base import BaseAgent, main, parser


class HangAgent(BaseAgent):
    name = "hang-agent"

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        await self.say(session_id, update_agent_message_text(f"hanging in pid {os.getpid()}\n"))
        self.trace(f"prompt pid={os.getpid()}")
        if self.options.honour_cancel:
            await self.cancelled.wait()
            self.trace("ending the turn as cancelled")
            return PromptResponse(stop_reason="cancelled")
        time.sleep(600)  # noqa: ASYNC251 - on purpose: blocks the event loop: cancel and end of input go unanswered
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--honour-cancel", action="store_true")
    main(HangAgent, p)
