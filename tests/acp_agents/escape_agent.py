"""An ACP agent that tries to read and write outside the project root through the client's fs methods.

Each argument is `read:PATH` or `write:PATH`; the final message is a JSON object mapping each
argument to "ok" (with what was read) or the JSON-RPC error the client answered."""

from __future__ import annotations

import json
from typing import Any

from acp import RequestError, update_agent_message_text
from acp.schema import PromptResponse
from agent_base import BaseAgent, main, parser


class EscapeAgent(BaseAgent):
    name = "escape-agent"

    async def prompt(self, session_id: str, prompt: list[Any], **kw: Any) -> PromptResponse:
        results: dict[str, Any] = {}
        for attempt in self.options.attempts:
            op, _, path = attempt.partition(":")
            try:
                if op == "read":
                    response = await self.conn.read_text_file(session_id=session_id, path=path)
                    results[attempt] = {"ok": response.content}
                else:
                    await self.conn.write_text_file(session_id=session_id, path=path, content="escaped\n")
                    results[attempt] = {"ok": True}
            except RequestError as exc:
                results[attempt] = {"code": exc.code, "message": str(exc)}
        await self.say(session_id, update_agent_message_text(json.dumps(results)))
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("attempts", nargs="*")
    main(EscapeAgent, p)
