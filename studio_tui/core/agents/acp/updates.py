"""What an ACP agent streams (session/update), mapped onto the Reporter: log lines, steps, tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AudioContentBlock,
    AvailableCommandsUpdate,
    CurrentModeUpdate,
    EmbeddedResourceContentBlock,
    ImageContentBlock,
    PlanEntry,
    ResourceContentBlock,
    TextContentBlock,
    ToolCallProgress,
    ToolCallStart,
    UsageUpdate,
)

from ... import events as ev
from ..base import Reporter
from ..process import LOG_LINE_MAX_CHARS, LogThrottle, clip
from .records import Records
from .toolcalls import RawExtras, convert_content, input_text, locations_of

WORKING_POOL = "working"
"""The budget pool an ACP agent's context usage is charged to."""

INPUT_INLINE_MAX_CHARS = 20_000
"""A tool call's raw input longer than this (as JSON) is kept as its clipped text instead."""

SUMMARY_MAX_CHARS = 4000
"""Characters of the agent's last message kept as the result's summary (the end of it, when longer)."""


def block_text(block: Any) -> str:
    """A content block as text for the log: text as is, anything else as a short marker."""
    if isinstance(block, TextContentBlock):
        return block.text
    if isinstance(block, ImageContentBlock):
        return "[image]\n"
    if isinstance(block, AudioContentBlock):
        return "[audio]\n"
    if isinstance(block, ResourceContentBlock):
        return f"[{block.name}: {block.uri}]\n"
    if isinstance(block, EmbeddedResourceContentBlock):
        return f"[resource {getattr(block.resource, 'uri', '')}]\n"
    return ""


class _Lines:
    """Coalesces streamed text chunks into whole lines for the log (flushed on newline or at the end)."""

    def __init__(self, emit: Callable[[str], Awaitable[None]]) -> None:
        self._emit = emit
        self._buffer = ""

    async def add(self, text: str) -> None:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            await self._line(line)
        if len(self._buffer) > LOG_LINE_MAX_CHARS:
            line, self._buffer = self._buffer, ""
            await self._line(line)

    async def flush(self) -> None:
        line, self._buffer = self._buffer, ""
        await self._line(line)

    async def _line(self, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            await self._emit(line)


@dataclass
class ToolCall:
    title: str
    kind: str | None = None
    status: str | None = None
    step: int | None = None
    """The step this tool call was reported as (tool calls are the steps while there is no plan)."""
    raw_input: Any = None
    locations: list[str] = field(default_factory=list)
    content: list[ev.ToolContent] = field(default_factory=list)
    recorded: tuple[Any, ...] | None = None
    """What the last ToolCallRecorded event said, so an update that changes nothing is not recorded."""


@dataclass
class SessionInfo:
    """What the agent said about its session (AgentSession): auth methods, modes, commands."""

    session_id: str | None = None
    protocol_version: int | None = None
    auth_methods: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    current_mode: str | None = None
    commands: list[str] = field(default_factory=list)
    capabilities: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "protocol_version": self.protocol_version,
            "auth_methods": list(self.auth_methods),
            "modes": list(self.modes),
            "current_mode": self.current_mode,
            "commands": list(self.commands),
            "capabilities": dict(self.capabilities),
        }


class UpdateMapper:
    """Applies session updates one at a time (the caller serialises them) to the Reporter, and keeps
    what the run reads back: the last message (summary), tool calls, usage."""

    def __init__(
        self, reporter: Reporter, *, root: Path | None = None, records: Records | None = None, extras: RawExtras | None = None
    ) -> None:
        self.reporter = reporter
        self.root = (root or Path.cwd()).resolve()
        self.records = records or Records(reporter)
        self.extras = extras or RawExtras()
        self.session = SessionInfo()
        self.usage_seen = False
        self.context_used = 0
        self.context_size: int | None = None
        self.cost: dict[str, Any] | None = None
        self.tool_calls = 0
        self.tools: dict[str, ToolCall] = {}
        self._logs = LogThrottle(reporter, what="lines of the agent's messages")
        self._message = _Lines(lambda line: self._logs.log(clip(line), "info"))
        self._thought = _Lines(lambda line: self._logs.log(clip(f"thinking: {line}"), "debug"))
        self._in_message = False
        self._message_id: str | None = None
        self._summary = ""
        self._summary_cut = False
        self._steps_used = 0
        self._plan: list[tuple[str, str]] | None = None
        self._plan_base = 0
        self.steps_owned = False
        """studio-tui reports the steps itself (a builder given a plan, one prompt a step): the agent's
        own plan entries and tool calls are then log lines, not steps."""
        self.turn_reply_bytes = 0
        """Bytes of message and thought text in this turn (the reply's size, for a usage estimate)."""

    def begin_turn(self) -> None:
        self.turn_reply_bytes = 0

    @property
    def plan_entries(self) -> list[str]:
        """The agent's latest ACP plan entries (their text), empty when it sent none."""
        return [content for content, _ in self._plan or []]

    def summary(self) -> str:
        return f"… {self._summary}" if self._summary_cut else self._summary

    async def log(self, message: str, level: str) -> None:
        """A line of our own, after the half lines still buffered."""
        await self.end_text()
        await self._logs.log(clip(message), level)

    async def flush(self) -> None:
        """Flush the half lines still buffered, and say how many log lines were held back."""
        await self.end_text()
        await self._logs.flush()

    async def end_text(self) -> None:
        await self._message.flush()
        await self._thought.flush()
        self._in_message = False

    async def apply(self, update: Any) -> None:
        if isinstance(update, AgentMessageChunk):
            await self._thought.flush()
            if not self._in_message or (update.message_id is not None and update.message_id != self._message_id):
                self._summary, self._summary_cut = "", False
            self._in_message = True
            self._message_id = update.message_id
            text = block_text(update.content)
            self.turn_reply_bytes += len(text.encode("utf-8", "replace"))
            self._add_summary(text)
            await self._message.add(text)
            return
        await self._message.flush()
        self._in_message = False
        if isinstance(update, AgentThoughtChunk):
            text = block_text(update.content)
            self.turn_reply_bytes += len(text.encode("utf-8", "replace"))
            await self._thought.add(text)
            return
        await self._thought.flush()
        if isinstance(update, ToolCallStart):
            await self._tool_started(update.tool_call_id, update.title, update.kind, update.status)
            await self._tool_record(update)
        elif isinstance(update, ToolCallProgress):
            tool = self.tools.get(update.tool_call_id)
            if tool is None:
                await self._tool_started(update.tool_call_id, update.title, update.kind, update.status)
            else:
                if update.title:
                    tool.title = update.title
                if update.kind:
                    tool.kind = update.kind
                await self._tool_status(tool, update.status)
            await self._tool_record(update)
        elif isinstance(update, AgentPlanUpdate):
            await self._plan_update(update.entries)
        elif isinstance(update, UsageUpdate):
            await self._usage(update)
        elif isinstance(update, AvailableCommandsUpdate):
            self.session.commands = [command.name for command in update.available_commands][:200]
            await self.record_session()
        elif isinstance(update, CurrentModeUpdate) and update.current_mode_id != self.session.current_mode:
            self.session.current_mode = update.current_mode_id
            await self._logs.log(clip(f"session mode is now {update.current_mode_id}"), "info")
            await self.record_session()
        # Anything else (user message replays, config options, session info) has nothing to show.

    def discard(self, update: Any) -> None:
        """An update that is dropped (a replayed history, a closing run): forget its raw content too."""
        if isinstance(update, (ToolCallStart, ToolCallProgress)) and update.content is not None:
            self.extras.take_content(update.tool_call_id)

    async def record_session(self) -> None:
        """An AgentSession event (Reporter.session, where the reporter has it): what the session
        offers now, a full picture rather than a change."""
        report = getattr(self.reporter, "session", None)
        if report is not None:
            fields = self.session.fields()
            await report(fields.pop("session_id"), **fields)

    async def _tool_record(self, update: ToolCallStart | ToolCallProgress) -> None:
        """A ToolCallRecorded event with the tool call as it now stands (content replaced when sent)."""
        tool = self.tools[update.tool_call_id]
        raw = self.extras.take_content(update.tool_call_id)
        if update.raw_input is not None:
            tool.raw_input = update.raw_input
        if update.locations is not None:
            tool.locations = [loc.shown for loc in locations_of(self.root, update.locations)]
        if update.content is not None:
            tool.content = convert_content(self.root, self.records, list(update.content), raw)
        raw_input = tool.raw_input
        if (raw_input is not None and not isinstance(raw_input, (dict, list, str, int, float, bool))) or (
            raw_input is not None and len(input_text(raw_input) or "") >= INPUT_INLINE_MAX_CHARS
        ):
            raw_input = input_text(raw_input)
        snapshot = (tool.title, tool.kind, tool.status, input_text(raw_input), tuple(tool.locations), tuple(tool.content))
        if snapshot == tool.recorded:
            return
        tool.recorded = snapshot
        await self.records.emit(
            ev.ToolCallRecorded,
            tool_call_id=update.tool_call_id,
            title=tool.title,
            kind=tool.kind,
            status=tool.status,
            raw_input=raw_input,
            locations=list(tool.locations),
            content=list(tool.content),
        )

    def _add_summary(self, text: str) -> None:
        self._summary += text
        if len(self._summary) > SUMMARY_MAX_CHARS:
            self._summary = self._summary[-SUMMARY_MAX_CHARS:]
            self._summary_cut = True

    async def _tool_started(self, tool_call_id: str, title: str | None, kind: str | None, status: str | None) -> None:
        tool = self.tools.get(tool_call_id)
        if tool is not None:
            tool.title = title or tool.title
            await self._tool_status(tool, status)
            return
        tool = ToolCall(title=title or tool_call_id, kind=kind)
        self.tools[tool_call_id] = tool
        self.tool_calls += 1
        if self._plan is None and not self.steps_owned:
            self._steps_used += 1
            tool.step = self._steps_used
            await self.reporter.step(tool.step, self._steps_used, clip(tool.title, 200))
        else:
            kind_text = f" ({kind})" if kind else ""
            await self._logs.log(clip(f"tool call: {tool.title}{kind_text}"), "info")
        await self._tool_status(tool, status)

    async def _tool_status(self, tool: ToolCall, status: str | None) -> None:
        if status is None or status == tool.status:
            return
        tool.status = status
        if status == "completed":
            if tool.step is not None:
                await self.reporter.step_done(tool.step)
        elif status == "failed":
            await self._logs.log(clip(f"tool call failed: {tool.title}"), "warning")

    async def _plan_update(self, entries: list[PlanEntry]) -> None:
        if self.steps_owned:
            self._plan = [(entry.content, entry.status) for entry in entries]
            return
        if self._plan is None:
            # Steps already reported (tool calls before the plan) keep their numbers; the plan follows.
            self._plan_base = self._steps_used
            self._plan = []
        total = self._plan_base + len(entries)
        before = self._plan
        for index, entry in enumerate(entries):
            step = self._plan_base + index + 1
            previous = before[index] if index < len(before) else None
            if entry.status == "in_progress" and previous != (entry.content, "in_progress"):
                await self.reporter.step(step, total, clip(entry.content, 200))
            elif entry.status == "completed" and (previous is None or previous[1] != "completed"):
                await self.reporter.step_done(step)
        self._plan = [(entry.content, entry.status) for entry in entries]

    async def _usage(self, update: UsageUpdate) -> None:
        self.usage_seen = True
        delta = update.used - self.context_used
        self.context_used = update.used
        self.context_size = update.size
        if update.cost is not None:
            self.cost = {"amount": update.cost.amount, "currency": update.cost.currency}
        if delta:
            await self.reporter.tokens(WORKING_POOL, delta)
