"""session/request_permission: the agent's question put to the person, the answer sent back."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from acp.schema import (
    AllowedOutcome,
    DeniedOutcome,
    PermissionOption as AcpPermissionOption,
    RequestPermissionResponse,
    ToolCallUpdate,
)

from ..base import PermissionOption
from ..process import clip
from .updates import ToolCall

if TYPE_CHECKING:
    from .client import StudioClient

SEND_TIMEOUT_SECONDS = 1.0
"""Longest wait to hand session/cancel (or a cancelled answer) to an agent that no longer reads its input."""


def describe_tool_call(tool_call: ToolCallUpdate, known: ToolCall | None) -> dict[str, Any]:
    """The tool call a permission is for, small and JSON-safe, for the decision's details."""
    described: dict[str, Any] = {"id": tool_call.tool_call_id}
    kind = tool_call.kind or (known.kind if known else None)
    if kind:
        described["kind"] = kind
    if tool_call.locations:
        described["locations"] = [location.path for location in tool_call.locations[:20]]
    if tool_call.raw_input is not None:
        described["input"] = clip(json.dumps(tool_call.raw_input, ensure_ascii=False, default=str))
    return {"tool_call": described}


class Permissions:
    """Puts each permission request to the person (Reporter.permission, the clock paused while they
    think), answers with the option they chose, and `cancelled` for everything pending when the run
    stops."""

    def __init__(self, client: StudioClient) -> None:
        self.client = client
        self._asks: set[asyncio.Future[str | None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def request(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[AcpPermissionOption]
    ) -> RequestPermissionResponse:
        client = self.client
        cancelled = RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        if client.closing or session_id != client.session_id:
            return cancelled
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            async with client.lock:
                await client.updates.end_text()
                known = client.updates.tools.get(tool_call.tool_call_id)
                title = tool_call.title or (known.title if known else "") or "a tool call"
            offered = [PermissionOption(id=o.option_id, name=o.name, kind=o.kind) for o in options]
            chosen = await self._ask_person(clip(title, 200), offered, describe_tool_call(tool_call, known))
            by_id = {option.id: option for option in offered}
            if chosen is not None and chosen not in by_id:
                await client.log(f"permission answer {chosen!r} is not among the options offered: cancelled", "warning")
                chosen = None
            if chosen is None:
                if not client.closing:
                    # The person (or a fail-closed policy) withdrew the answer: the turn is cancelled,
                    # which is what ACP's `cancelled` outcome means.
                    client.person_cancelled = True
                    await client.log(f"permission for {title!r} cancelled: cancelling the agent's turn", "warning")
                    await client.send_cancel()
                return cancelled
            option = by_id[chosen]
            await client.log(f"permission for {title!r}: {option.name} ({option.kind})", "info")
            return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=chosen))
        finally:
            if handler is not None:
                self._handlers.discard(handler)

    async def cancel_pending(self) -> None:
        """Answer every pending permission request `cancelled`, and wait (briefly) until it is sent."""
        for ask in list(self._asks):
            ask.cancel()
        handlers = {h for h in self._handlers if h is not asyncio.current_task()}
        if handlers:
            await asyncio.wait(handlers, timeout=SEND_TIMEOUT_SECONDS)

    async def _ask_person(self, title: str, offered: list[PermissionOption], details: dict[str, Any]) -> str | None:
        """The person's answer, None when cancelled (also when the run cancels the question)."""
        client = self.client

        async def ask() -> str | None:
            with client.clock.paused():
                return await client.reporter.permission(title, offered, details=details)

        question = asyncio.ensure_future(ask())
        self._asks.add(question)
        try:
            await asyncio.wait({question})
        finally:
            self._asks.discard(question)
            question.cancel()
        if question.cancelled():
            return None
        exc = question.exception()
        if exc is not None:
            client.fail(exc)
            return None
        return question.result()
