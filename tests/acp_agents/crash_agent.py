"""An ACP agent that dies mid-prompt: one message chunk, an error on stderr, then exit 3."""

from __future__ import annotations

import os
import sys
from typing import Any

from acp import update_agent_message_text
from agent_base import BaseAgent, main, parser


class CrashAgent(BaseAgent):
    name = "crash-agent"

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> Any:
        await self.say(session_id, update_agent_message_text("about to crash\n"))
        sys.stderr.write("Traceback (most recent call last):\nboom: the agent fell over\n")
        sys.stderr.flush()
        os._exit(3)


if __name__ == "__main__":
    main(CrashAgent, parser(__doc__))
