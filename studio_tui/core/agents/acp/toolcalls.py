"""An ACP tool call as studio-tui keeps it: locations relative to the project root (outside ones
flagged), content (diff, terminal, text) as `ToolContent` with large parts in blobs, and the ACP v2
draft's extra fields (a diff's git patch, display-only terminal output, a permission's subject) taken
from the raw messages, since the package's v1 schema drops fields it does not know."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp.connection import StreamDirection, StreamEvent
from acp.schema import (
    ContentToolCallContent,
    FileEditToolCallContent,
    TerminalToolCallContent,
    ToolCallLocation,
)

from ...events import ToolContent
from ..process import clip
from .files import confine
from .records import BLOB_INLINE_MAX_CHARS, Records

MAX_LOCATIONS = 50
"""Locations of one tool call kept (an agent could name thousands)."""

INPUT_MAX_CHARS = 20_000
"""Characters of a tool call's raw input kept in its event and its permission question."""


@dataclass(frozen=True)
class Location:
    """A tool call's location: `shown` is relative to the project root when inside it."""

    raw: str
    shown: str
    outside: bool
    line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {"path": self.shown, "outside": self.outside}
        if self.line is not None:
            described["line"] = self.line
        return described


def locate(root: Path, raw: str, line: int | None = None) -> Location:
    """`raw` as shown to a person: relative to `root` when inside it, else absolute and flagged."""
    try:
        inside = confine(root, raw)
    except (ValueError, OSError, RuntimeError):
        return Location(raw, raw, True, line)
    if inside is None:
        return Location(raw, raw, True, line)
    relative = inside.relative_to(root.resolve())
    return Location(raw, str(relative) if str(relative) != "." else ".", False, line)


def locations_of(root: Path, locations: list[ToolCallLocation] | None) -> list[Location]:
    return [locate(root, loc.path, loc.line) for loc in (locations or [])[:MAX_LOCATIONS]]


def input_text(raw_input: Any) -> str | None:
    """The raw input as a person reads it: a string as is, anything else as indented JSON."""
    if raw_input is None:
        return None
    if isinstance(raw_input, str):
        return clip(raw_input, INPUT_MAX_CHARS)
    return clip(json.dumps(raw_input, ensure_ascii=False, indent=2, default=str), INPUT_MAX_CHARS)


def command_of(raw_input: Any) -> str | None:
    """The shell command a tool call runs, when its raw input names one (`command`, `cmd`; a list is
    joined): what Claude Code, Gemini and Codex put in an execute tool call's input."""
    if not isinstance(raw_input, dict):
        return None
    for key in ("command", "cmd"):
        value = raw_input.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return " ".join(value)
    return None


def _content_text(block: Any) -> str:
    from .updates import block_text

    return block_text(block)


def _inline_or_blob(records: Records, kind: str, fields: dict[str, Any], **kept: Any) -> ToolContent:
    """A ToolContent with `fields` inline, or in a blob when they are large (and a blob can be kept)."""
    size = sum(len(v) for v in fields.values() if isinstance(v, str))
    if size > BLOB_INLINE_MAX_CHARS:
        digest = records.blob(fields)
        if digest is not None:
            return ToolContent(kind=kind, blob=digest, **kept)
    return ToolContent(kind=kind, **kept, **fields)


def convert_content(root: Path, records: Records, content: list[Any], raw: list[Any] | None) -> list[ToolContent]:
    """ACP tool call content as ToolContent; `raw` is the same list as sent (for v2 draft fields)."""
    converted: list[ToolContent] = []
    raw_items = [item for item in raw or [] if isinstance(item, dict)]
    raw_by_type: dict[str, deque[dict[str, Any]]] = {}
    for item in raw_items:
        raw_by_type.setdefault(str(item.get("type")), deque()).append(item)

    def raw_next(kind: str) -> dict[str, Any]:
        queue = raw_by_type.get(kind)
        return queue.popleft() if queue else {}

    for item in content:
        if isinstance(item, FileEditToolCallContent):
            extra = raw_next("diff")
            fields: dict[str, Any] = {"old_text": item.old_text, "new_text": item.new_text}
            patch = extra.get("gitPatch", extra.get("git_patch"))
            if isinstance(patch, str):
                fields["git_patch"] = patch
            converted.append(_inline_or_blob(records, "diff", fields, path=locate(root, item.path).shown))
        elif isinstance(item, TerminalToolCallContent):
            extra = raw_next("terminal")
            fields = {}
            output = extra.get("output")
            if isinstance(output, str):  # v2 draft: display-only output sent with the content
                fields["text"] = output
            converted.append(_inline_or_blob(records, "terminal", fields, terminal_id=item.terminal_id))
        elif isinstance(item, ContentToolCallContent):
            raw_next("content")
            converted.append(_inline_or_blob(records, "text", {"text": _content_text(item.content)}))
    # v2 draft content types the v1 schema skipped: kept as text when they carry some.
    for kind, queue in raw_by_type.items():
        if kind in ("diff", "terminal", "content"):
            continue
        for item in queue:
            text = item.get("text") or item.get("output") or item.get("gitPatch")
            if isinstance(text, str):
                fields = {"text": text}
                if isinstance(item.get("gitPatch"), str):
                    fields = {"git_patch": item["gitPatch"]}
                    path = item.get("path")
                    converted.append(
                        _inline_or_blob(records, "diff", fields, path=locate(root, path).shown if isinstance(path, str) else None)
                    )
                else:
                    converted.append(_inline_or_blob(records, "text", fields))
    return converted


@dataclass
class RawExtras:
    """Watches the raw messages (a connection observer, called before each is dispatched) for what the
    v1 schema drops: each tool call update's content as sent, each permission request's params."""

    content: dict[str, deque[list[Any]]] = field(default_factory=dict)
    permission: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)

    def observe(self, event: StreamEvent) -> None:
        if event.direction != StreamDirection.INCOMING:
            return
        message = event.message
        params = message.get("params")
        if not isinstance(params, dict):
            return
        method = message.get("method")
        if method == "session/update":
            update = params.get("update")
            if isinstance(update, dict) and update.get("sessionUpdate") in ("tool_call", "tool_call_update"):
                content = update.get("content")
                tool_id = update.get("toolCallId")
                if isinstance(content, list) and isinstance(tool_id, str):
                    self.content.setdefault(tool_id, deque()).append(content)
        elif method == "session/request_permission":
            tool_call = params.get("toolCall")
            tool_id = tool_call.get("toolCallId") if isinstance(tool_call, dict) else None
            if isinstance(tool_id, str):
                self.permission.setdefault(tool_id, deque()).append(params)

    def take_content(self, tool_call_id: str) -> list[Any] | None:
        queue = self.content.get(tool_call_id)
        if not queue:
            return None
        value = queue.popleft()
        if not queue:
            del self.content[tool_call_id]
        return value

    def take_permission(self, tool_call_id: str) -> dict[str, Any]:
        queue = self.permission.get(tool_call_id)
        if not queue:
            return {}
        value = queue.popleft()
        if not queue:
            del self.permission[tool_call_id]
        return value
