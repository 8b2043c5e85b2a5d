"""session/request_permission: the agent's question put to the person, the answer sent back."""

from __future__ import annotations

import asyncio
import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acp.schema import (
    AllowedOutcome,
    DeniedOutcome,
    FileEditToolCallContent,
    RequestPermissionResponse,
    ToolCallUpdate,
)
from acp.schema import (
    PermissionOption as AcpPermissionOption,
)

from ..base import PermissionOption
from ..process import clip
from .toolcalls import Location, command_of, input_text, locate, locations_of
from .updates import ToolCall

if TYPE_CHECKING:
    from .client import StudioClient

SEND_TIMEOUT_SECONDS = 1.0
"""Longest wait to hand session/cancel (or a cancelled answer) to an agent that no longer reads its input."""


DIFF_PREVIEW_MAX_LINES = 80
"""Lines of a unified diff shown in a permission question (the whole change is in the tool call's event)."""

DIFF_PREVIEW_MAX_CHARS = 8000


def _side(prefix: str, shown_path: str) -> str:
    return shown_path if shown_path.startswith("/") else f"{prefix}/{shown_path}"


DIFF_INPUT_MAX_CHARS = 400_000
"""Largest change (old + new text) diffed for a preview: difflib's time grows with the square of
the lines, and a question must appear at once."""


def diff_preview(old: str | None, new: str | None, shown_path: str) -> str:
    """A unified diff of a proposed change, cut to DIFF_PREVIEW_MAX_LINES with a note."""
    if len(old or "") + len(new or "") > DIFF_INPUT_MAX_CHARS:
        before, after = len((old or "").splitlines()), len((new or "").splitlines())
        return f"{shown_path}: a large change ({before} lines before, {after} after): too large to preview here"
    lines = list(
        difflib.unified_diff(
            (old or "").splitlines(),
            (new or "").splitlines(),
            fromfile=_side("a", shown_path) if old is not None else "/dev/null",
            tofile=_side("b", shown_path),
            lineterm="",
            n=2,
        )
    )
    if len(lines) > DIFF_PREVIEW_MAX_LINES:
        lines = [*lines[:DIFF_PREVIEW_MAX_LINES], f"… {len(lines) - DIFF_PREVIEW_MAX_LINES} more diff lines"]
    return clip("\n".join(lines), DIFF_PREVIEW_MAX_CHARS)


def allowed_outside(location: Location, allow: list[Path]) -> bool:
    """An outside location under one of `permissions.allow_outside`."""
    try:
        resolved = Path(location.raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(resolved == folder or resolved.is_relative_to(folder) for folder in allow)


def describe_tool_call(
    root: Path, tool_call: ToolCallUpdate, known: ToolCall | None, allow_outside: list[Path], raw: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The tool call a permission is for, as a person judges it: title, kind, the command or raw input
    (literal text), its locations (relative to the root; outside ones flagged) and a diff preview;
    `outside_root` lists the locations outside the root that `permissions.allow_outside` does not
    cover (a fixed `allow` policy refuses those). JSON-safe, for the decision's details."""
    described: dict[str, Any] = {"id": tool_call.tool_call_id}
    title = tool_call.title or (known.title if known else None)
    if title:
        described["title"] = clip(title, 500)
    kind = tool_call.kind or (known.kind if known else None)
    if kind:
        described["kind"] = kind
    raw_input = tool_call.raw_input if tool_call.raw_input is not None else (known.raw_input if known else None)
    command = command_of(raw_input)
    if command:
        described["command"] = clip(command, 4000)
    text = input_text(raw_input)
    if text is not None:
        described["input"] = text
    locations = locations_of(root, tool_call.locations)
    diffs: list[dict[str, Any]] = []
    for item in tool_call.content or []:
        if isinstance(item, FileEditToolCallContent):
            where = locate(root, item.path)
            locations.append(where)
            diffs.append(
                {"path": where.shown, "outside": where.outside, "preview": diff_preview(item.old_text, item.new_text, where.shown)}
            )
    if not diffs and known is not None:
        for content in known.content:
            if content.kind == "diff" and content.path is not None and content.new_text is not None:
                where = locate(root, content.path)
                diffs.append(
                    {
                        "path": where.shown,
                        "outside": where.outside,
                        "preview": diff_preview(content.old_text, content.new_text, where.shown),
                    }
                )
    if not tool_call.locations and known is not None:
        locations.extend(locate(root, path) for path in known.locations)
    unique: dict[str, Location] = {}
    for location in locations:
        unique.setdefault(location.shown, location)
    if unique:
        described["locations"] = [location.as_dict() for location in unique.values()]
    if diffs:
        described["diffs"] = diffs
    details: dict[str, Any] = {"tool_call": described}
    refused = [location.shown for location in unique.values() if location.outside and not allowed_outside(location, allow_outside)]
    if refused:
        details["outside_root"] = refused
    subject = (raw or {}).get("subject")
    if subject is not None:  # ACP v2 draft: what the permission is about, beyond the tool call
        details["subject"] = clip(subject if isinstance(subject, str) else input_text(subject) or "", 2000)
    return details


class Permissions:
    """Puts each permission request to the person (Reporter.permission, the clock paused while they
    think), answers with the option they chose, and `cancelled` for everything pending when the run
    stops."""

    def __init__(self, client: StudioClient) -> None:
        self.client = client
        self._asks: set[asyncio.Future[str | None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def request(self, session_id: str, tool_call: ToolCallUpdate, options: list[AcpPermissionOption]) -> RequestPermissionResponse:
        client = self.client
        cancelled = RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        raw = client.extras.take_permission(tool_call.tool_call_id)
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
            details = describe_tool_call(client.root, tool_call, known, client.allow_outside, raw)
            if details.get("outside_root"):
                await client.log(
                    f"permission request {title!r} names paths outside the project root: {', '.join(details['outside_root'])}",
                    "warning",
                )
            offered = [PermissionOption(id=o.option_id, name=o.name, kind=o.kind) for o in options]
            chosen = await self._ask_person(clip(title, 200), offered, details)
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
