"""The `acp` agent: a coding agent speaking the Agent Client Protocol (see docs/acp.md).

studio-tui is the ACP *client*, built on the client side of the `agent-client-protocol` package
(`connect_to_agent` -> `ClientSideConnection`, and a `Client` implementation here); the JSON-RPC
framing and the schema are the package's. One run:

1. start the configured command in its own process group (`process.ChildProcess`, so a timeout or
   an abort ends the agent and everything it started);
2. `initialize` (advertising fs read/write, confined to the project root; no terminal capability:
   the agent runs commands with its own tools, and asks permission for them as it sees fit);
3. `session/new` with the project root as the working directory;
4. `session/prompt` with the role prompt template filled in with the handoff context;
5. map what streams back onto the Reporter, and the stop reason onto the Outcome:

   ====================================  =====================================================
   agent_message_chunk                   `log` (info), chunks coalesced into lines
   agent_thought_chunk                   `log` (debug), `thinking: ...`, coalesced into lines
   plan                                  the steps: entry i is step i, the entries are the
                                         total; in_progress -> `step`, completed -> `step_done`
   tool_call / tool_call_update          without a plan, each tool call is a step (`step`, then
                                         `step_done` when completed); with a plan, a log line;
                                         a failed tool call is a warning either way
   usage_update                          `tokens("working", used - previously used)`
   session/request_permission            `permission(title, options)`: the exact options offered
   fs/read_text_file, fs/write_text_file served inside the project root only
   stop reason end_turn                  Outcome(output={stop_reason, summary, ...})
   refusal                               failure `blocker`
   max_tokens, max_turn_requests         failure `design_flaw` (see `_stopped_outcome`)
   cancelled (not asked by us)           failure `blocker`
   process exit / connection lost        failure `code_error` with the stderr tail
   timeout                               session/cancel, then kill: failure `transient`
   ====================================  =====================================================

Cancellation (abort, skip, Ctrl-C) arrives as CancelledError: the session is cancelled
(`session/cancel`), every pending permission request is answered `cancelled`, the agent gets a short
grace to end its turn, then its process group is terminated, and the CancelledError propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from acp import PROTOCOL_VERSION, RequestError, connect_to_agent, text_block
from acp.schema import (
    AgentMessageChunk,
    AgentPlanUpdate,
    AgentThoughtChunk,
    AllowedOutcome,
    AudioContentBlock,
    ClientCapabilities,
    DeniedOutcome,
    EmbeddedResourceContentBlock,
    FileSystemCapabilities,
    ImageContentBlock,
    Implementation,
    InitializeResponse,
    PermissionOption as AcpPermissionOption,
    PlanEntry,
    PromptResponse,
    ReadTextFileResponse,
    RequestPermissionResponse,
    ResourceContentBlock,
    TextContentBlock,
    ToolCallProgress,
    ToolCallStart,
    ToolCallUpdate,
    UsageUpdate,
    WriteTextFileResponse,
)
from pydantic import ValidationError

from ... import __version__
from ..config import AcpAgentConfig
from .base import AgentTask, Outcome, PermissionOption, Reporter
from .process import (
    DRAIN_SECONDS,
    LOG_LINE_MAX_CHARS,
    ChildProcess,
    LogThrottle,
    OutputTail,
    RunClock,
    clip,
    describe_command,
    describe_exit,
    read_lines,
)

T = TypeVar("T")

WORKING_POOL = "working"
"""The budget pool an ACP agent's context usage is charged to."""

CANCEL_GRACE_SECONDS = 2.0
"""Time the agent gets to end its turn after session/cancel before its process group is terminated:
a well-behaved agent answers at once; one that does not is killed without much delay."""

EXIT_GRACE_SECONDS = 2.0
"""Time a responsive agent gets to exit by itself once its input is closed at the end of a run."""

SEND_TIMEOUT_SECONDS = 1.0
"""Longest wait to hand session/cancel to an agent that no longer reads its input."""

SUMMARY_MAX_CHARS = 4000
"""Characters of the agent's last message kept as the result's summary (the end of it, when longer)."""

MAX_READ_CHARS = 8 * 1024 * 1024
"""Largest text fs/read_text_file returns in one answer; a longer file is read in parts (line, limit)."""

FS_REFUSED = -32602
"""JSON-RPC error code for a file request the client refuses (a path outside the project root):
"invalid params", since the path is not one this client serves."""

CLIENT_CAPABILITIES = ClientCapabilities(
    fs=FileSystemCapabilities(read_text_file=True, write_text_file=True),
    terminal=False,
)
"""What studio-tui offers an agent: text file reads and writes inside the project root. No terminal:
an agent then runs commands with its own tools (and asks permission for them)."""

CLIENT_INFO = Implementation(name="studio-tui", title="studio-tui", version=__version__)


# ── configuration helpers ────────────────────────────────────────────────


def agent_argv(config: AcpAgentConfig) -> list[str]:
    """The argv that starts the agent: `command` (a string is split like a shell would) + `args`."""
    base = shlex.split(config.command) if isinstance(config.command, str) else list(config.command)
    return base + list(config.args)


def agent_cwd(config: AcpAgentConfig, project_root: Path) -> Path:
    """The process's working directory: `cwd` relative to the project root, or the project root."""
    return project_root / config.cwd if config.cwd else project_root


def render_prompt(template: str, task: AgentTask) -> str:
    """The role prompt: `template` with its placeholders (config.ACP_PROMPT_PLACEHOLDERS) filled in."""
    plan = ""
    if task.plan_path is not None:
        with contextlib.suppress(OSError):
            plan = task.plan_path.read_text(encoding="utf-8", errors="replace")
    values = {
        "goal": task.goal,
        "role": task.role,
        "mode": task.mode,
        "task_id": task.task_id or "",
        "attempt": task.attempt,
        "context": json.dumps(task.context, indent=2, ensure_ascii=False, default=str),
        "project_root": str(task.project_root),
        "plan_path": str(task.plan_path) if task.plan_path is not None else "",
        "plan": plan,
    }
    return template.format_map(values)


# ── file system confinement ──────────────────────────────────────────────


def confine(root: Path, raw: str) -> Path | None:
    """`raw` as a real path (relative to `root` when not absolute, symlinks followed); None when it
    leads outside `root`. ValueError/OSError/RuntimeError for a path that cannot be resolved."""
    base = root.resolve()
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    if resolved == base or resolved.is_relative_to(base):
        return resolved
    return None


class _TooLarge(Exception):
    pass


def _read_text(path: Path, line: int | None, limit: int | None) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        if line is None and limit is None:
            text = handle.read(MAX_READ_CHARS + 1)
            if len(text) > MAX_READ_CHARS:
                raise _TooLarge
            return text
        first = max(1, line or 1)
        parts: list[str] = []
        size = 0
        for number, text in enumerate(handle, 1):
            if number < first:
                continue
            if limit is not None and len(parts) >= limit:
                break
            parts.append(text)
            size += len(text)
            if size > MAX_READ_CHARS:
                raise _TooLarge
        return "".join(parts)


def _write_text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written in place (not replaced), so an existing file keeps its mode and owner.
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)


# ── the client side: what the agent sends, mapped to the reporter ─────────


def _block_text(block: Any) -> str:
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
class _ToolCall:
    title: str
    kind: str | None = None
    status: str | None = None
    step: int | None = None
    """The step this tool call was reported as (tool calls are the steps while there is no plan)."""


class _StudioClient:
    """The ACP `Client` the package's connection dispatches to (session updates, permission requests,
    file requests). Updates are applied one at a time, in the order they arrived."""

    def __init__(self, reporter: Reporter, task: AgentTask, clock: RunClock) -> None:
        self.reporter = reporter
        self.task = task
        self.root = task.project_root.resolve()
        self.clock = clock
        self.conn: Any = None
        self.session_id: str | None = None
        self.closing = False
        """Set once the run is being stopped: later updates are dropped, permissions answered cancelled."""
        self.person_cancelled = False
        """A permission request was answered `cancelled` by the person (or a policy)."""
        self.error: BaseException | None = None
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        """Resolved when handling something the agent sent raised: the run stops with that error."""
        self.usage_seen = False
        self.context_used = 0
        self.context_size: int | None = None
        self.cost: dict[str, Any] | None = None
        self.tool_calls = 0
        self._lock = asyncio.Lock()
        self._logs = LogThrottle(reporter)
        self._message = _Lines(lambda line: self._logs.log(clip(line), "info"))
        self._thought = _Lines(lambda line: self._logs.log(clip(f"thinking: {line}"), "debug"))
        self._in_message = False
        self._message_id: str | None = None
        self._summary = ""
        self._summary_cut = False
        self._tools: dict[str, _ToolCall] = {}
        self._steps_used = 0
        self._plan: list[tuple[str, str]] | None = None
        self._plan_base = 0
        self._asks: set[asyncio.Future[str | None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # ── what the run reads back ──

    def summary(self) -> str:
        return f"… {self._summary}" if self._summary_cut else self._summary

    async def finish(self) -> None:
        """Flush the half lines still buffered, and say how many log lines were held back."""
        async with self._lock:
            await self._end_text()
            await self._logs.flush()

    async def begin_closing(self) -> None:
        """Stop mapping updates (the run is being stopped); what was buffered is still logged."""
        async with self._lock:
            self.closing = True
            await self._end_text()
            await self._logs.flush()

    async def cancel_permissions(self) -> None:
        """Answer every pending permission request `cancelled`, and wait (briefly) until it is sent."""
        for ask in list(self._asks):
            ask.cancel()
        handlers = {h for h in self._handlers if h is not asyncio.current_task()}
        if handlers:
            await asyncio.wait(handlers, timeout=SEND_TIMEOUT_SECONDS)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if not self.failed.done():
            self.failed.set_result(None)

    # ── session/update ──

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if self.session_id is not None and session_id != self.session_id:
            return
        try:
            async with self._lock:
                if not self.closing:
                    await self._apply(update)
        except Exception as exc:  # a failing reporter: stop the run with it rather than lose it
            self._fail(exc)

    async def _apply(self, update: Any) -> None:
        if isinstance(update, AgentMessageChunk):
            await self._thought.flush()
            if not self._in_message or (update.message_id is not None and update.message_id != self._message_id):
                self._summary, self._summary_cut = "", False
            self._in_message = True
            self._message_id = update.message_id
            text = _block_text(update.content)
            self._add_summary(text)
            await self._message.add(text)
            return
        await self._message.flush()
        self._in_message = False
        if isinstance(update, AgentThoughtChunk):
            await self._thought.add(_block_text(update.content))
            return
        await self._thought.flush()
        if isinstance(update, ToolCallStart):
            await self._tool_started(update.tool_call_id, update.title, update.kind, update.status)
        elif isinstance(update, ToolCallProgress):
            tool = self._tools.get(update.tool_call_id)
            if tool is None:
                await self._tool_started(update.tool_call_id, update.title, update.kind, update.status)
            else:
                if update.title:
                    tool.title = update.title
                await self._tool_status(tool, update.status)
        elif isinstance(update, AgentPlanUpdate):
            await self._plan_update(update.entries)
        elif isinstance(update, UsageUpdate):
            await self._usage(update)
        # Anything else (user message replays, commands, modes, config options, session info) has
        # nothing to show in a build's log.

    def _add_summary(self, text: str) -> None:
        self._summary += text
        if len(self._summary) > SUMMARY_MAX_CHARS:
            self._summary = self._summary[-SUMMARY_MAX_CHARS:]
            self._summary_cut = True

    async def _end_text(self) -> None:
        await self._message.flush()
        await self._thought.flush()
        self._in_message = False

    async def _tool_started(self, tool_call_id: str, title: str | None, kind: str | None, status: str | None) -> None:
        tool = self._tools.get(tool_call_id)
        if tool is not None:
            tool.title = title or tool.title
            await self._tool_status(tool, status)
            return
        tool = _ToolCall(title=title or tool_call_id, kind=kind)
        self._tools[tool_call_id] = tool
        self.tool_calls += 1
        if self._plan is None:
            self._steps_used += 1
            tool.step = self._steps_used
            await self.reporter.step(tool.step, self._steps_used, clip(tool.title, 200))
        else:
            kind_text = f" ({kind})" if kind else ""
            await self._logs.log(clip(f"tool call: {tool.title}{kind_text}"), "info")
        await self._tool_status(tool, status)

    async def _tool_status(self, tool: _ToolCall, status: str | None) -> None:
        if status is None or status == tool.status:
            return
        tool.status = status
        if status == "completed":
            if tool.step is not None:
                await self.reporter.step_done(tool.step)
        elif status == "failed":
            await self._logs.log(clip(f"tool call failed: {tool.title}"), "warning")

    async def _plan_update(self, entries: list[PlanEntry]) -> None:
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

    # ── session/request_permission ──

    async def request_permission(
        self, session_id: str, tool_call: ToolCallUpdate, options: list[AcpPermissionOption], **kwargs: Any
    ) -> RequestPermissionResponse:
        cancelled = RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        if self.closing or session_id != self.session_id:
            return cancelled
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            async with self._lock:
                await self._end_text()
                known = self._tools.get(tool_call.tool_call_id)
                title = tool_call.title or (known.title if known else "") or "a tool call"
            offered = [PermissionOption(id=o.option_id, name=o.name, kind=o.kind) for o in options]
            chosen = await self._ask_person(clip(title, 200), offered, _describe_tool_call(tool_call, known))
            by_id = {option.id: option for option in offered}
            if chosen is not None and chosen not in by_id:
                await self._log(f"permission answer {chosen!r} is not among the options offered: cancelled", "warning")
                chosen = None
            if chosen is None:
                if not self.closing:
                    # The person (or a fail-closed policy) withdrew the answer: the turn is cancelled,
                    # which is what ACP's `cancelled` outcome means.
                    self.person_cancelled = True
                    await self._log(f"permission for {title!r} cancelled: cancelling the agent's turn", "warning")
                    await self.send_cancel()
                return cancelled
            option = by_id[chosen]
            await self._log(f"permission for {title!r}: {option.name} ({option.kind})", "info")
            return RequestPermissionResponse(outcome=AllowedOutcome(outcome="selected", option_id=chosen))
        finally:
            if handler is not None:
                self._handlers.discard(handler)

    async def _ask_person(self, title: str, offered: list[PermissionOption], details: dict[str, Any]) -> str | None:
        """The person's answer, None when cancelled (also when the run cancels the question)."""

        async def ask() -> str | None:
            with self.clock.paused():
                return await self.reporter.permission(title, offered, details=details)

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
            self._fail(exc)
            return None
        return question.result()

    async def send_cancel(self) -> None:
        if self.conn is not None and self.session_id is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.conn.cancel(session_id=self.session_id), SEND_TIMEOUT_SECONDS)

    async def _log(self, message: str, level: str) -> None:
        async with self._lock:
            await self._end_text()
            await self._logs.log(clip(message), level)

    # ── fs/read_text_file, fs/write_text_file ──

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> ReadTextFileResponse:
        target = await self._confined("fs/read_text_file", session_id, path)
        try:
            content = await asyncio.to_thread(_read_text, target, line, limit)
        except FileNotFoundError:
            raise RequestError.resource_not_found(path) from None
        except _TooLarge:
            raise RequestError(
                FS_REFUSED, f"{path} has more than {MAX_READ_CHARS} characters: read it in parts (line, limit)", {"path": path}
            ) from None
        except OSError as exc:
            raise RequestError(-32603, f"cannot read {path}: {exc.strerror or exc}", {"path": path}) from None
        return ReadTextFileResponse(content=content)

    async def write_text_file(self, session_id: str, path: str, content: str, **kwargs: Any) -> WriteTextFileResponse:
        target = await self._confined("fs/write_text_file", session_id, path)
        try:
            await asyncio.to_thread(_write_text, target, content)
        except OSError as exc:
            raise RequestError(-32603, f"cannot write {path}: {exc.strerror or exc}", {"path": path}) from None
        await self._log(f"agent wrote {target.relative_to(self.root)} ({len(content)} characters)", "info")
        return WriteTextFileResponse()

    async def _confined(self, method: str, session_id: str, raw: str) -> Path:
        if session_id != self.session_id:
            raise RequestError.invalid_params({"sessionId": session_id, "details": "unknown session"})
        try:
            target = confine(self.root, raw)
        except (ValueError, OSError, RuntimeError) as exc:
            raise RequestError(FS_REFUSED, f"refused: {raw!r} is not a usable path ({exc})", {"path": raw}) from None
        if target is None:
            await self._log(f"refused {method} outside the project root: {raw}", "warning")
            raise RequestError(
                FS_REFUSED,
                f"refused: {raw} is outside the project root {self.root}",
                {"path": raw, "projectRoot": str(self.root)},
            )
        return target

    # ── what is not offered ──

    async def create_terminal(self, **kwargs: Any) -> Any:
        raise _no_terminal("terminal/create")

    async def terminal_output(self, **kwargs: Any) -> Any:
        raise _no_terminal("terminal/output")

    async def release_terminal(self, **kwargs: Any) -> Any:
        raise _no_terminal("terminal/release")

    async def wait_for_terminal_exit(self, **kwargs: Any) -> Any:
        raise _no_terminal("terminal/wait_for_exit")

    async def kill_terminal(self, **kwargs: Any) -> Any:
        raise _no_terminal("terminal/kill")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise RequestError.method_not_found(f"_{method}")

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn


def _no_terminal(method: str) -> RequestError:
    return RequestError(-32601, f"{method} is not supported: studio-tui does not offer the terminal capability", {"method": method})


def _describe_tool_call(tool_call: ToolCallUpdate, known: _ToolCall | None) -> dict[str, Any]:
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


# ── the run ──────────────────────────────────────────────────────────────


class _AgentProcess(ChildProcess):
    """A ChildProcess whose stdin/stdout carry ACP, read and written by the package's connection."""

    def pipes(self) -> tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamReader]:
        proc = self._proc
        assert proc is not None and proc.stdin and proc.stdout and proc.stderr, "start() first"
        return proc.stdin, proc.stdout, proc.stderr

    @property
    def exited(self) -> asyncio.Future[None]:
        assert self._protocol is not None, "start() first"
        return self._protocol.exited

    async def end_leftovers(self, readers: list[asyncio.Future[None]]) -> None:
        """The leader exited: end whatever it left running in its group."""
        await self._end_leftovers(readers)


class _TimedOut(Exception):
    pass


class _Ended(Exception):
    """The process exited before answering."""


class _ClientFailed(Exception):
    """Handling something the agent sent raised (a failing reporter): the run stops with that error."""


class _Session:
    """One ACP run: connection, clock, stderr tail, and the way it ends."""

    def __init__(self, config: AcpAgentConfig, task: AgentTask, reporter: Reporter, child: _AgentProcess, prompt: str) -> None:
        self.config = config
        self.task = task
        self.reporter = reporter
        self.child = child
        self.prompt = prompt
        self.clock = RunClock(config.timeout)
        self.client = _StudioClient(reporter, task, self.clock)
        self.stdin, stdout, stderr = child.pipes()
        self.stderr_tail = OutputTail()
        self._stderr_logs = LogThrottle(reporter)
        self.stderr_reader: asyncio.Future[None] = asyncio.ensure_future(self._read_stderr(stderr))
        self.conn = connect_to_agent(self.client, self.stdin, stdout)
        self.prompt_task: asyncio.Future[PromptResponse] | None = None
        self.agent_name = ""
        self._unresponsive = False
        self._stopped = False
        self._closed = False

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        async for line in read_lines(stream):
            shown = line.shown()
            self.stderr_tail.add(shown)
            await self._stderr_logs.log(f"stderr: {shown}", "debug")

    async def drive(self) -> Outcome:
        """initialize, session/new, session/prompt; the outcome the stop reason (or the failure) says."""
        what = "initialize"
        try:
            init: InitializeResponse = await self._call(
                self.conn.initialize(
                    protocol_version=PROTOCOL_VERSION, client_capabilities=CLIENT_CAPABILITIES, client_info=CLIENT_INFO
                )
            )
            if init.protocol_version != PROTOCOL_VERSION:
                return Outcome.failed(
                    "blocker",
                    f"the agent speaks ACP version {init.protocol_version}; studio-tui speaks version {PROTOCOL_VERSION}",
                )
            if init.agent_info is not None:
                self.agent_name = f"{init.agent_info.name} {init.agent_info.version}"
                await self.reporter.log(f"connected to {self.agent_name}", "debug")
            what = "session/new"
            session = await self._call(self.conn.new_session(cwd=str(self.task.project_root), mcp_servers=[]))
            self.client.session_id = session.session_id
            what = "session/prompt"
            response: PromptResponse = await self._call(
                self.conn.prompt(session_id=session.session_id, prompt=[text_block(self.prompt)]), keep=True
            )
        except _ClientFailed:
            await self.stop()
            assert self.client.error is not None
            raise self.client.error from None
        except _TimedOut:
            await self.stop()
            return Outcome.failed(
                "transient", f"timed out after {self.config.timeout:g}s", details=f"during {what}; {await self._stderr_details()}"
            )
        except (_Ended, ConnectionError):
            return await self._died(what)
        except RequestError as exc:
            return await self._answered_with_error(what, exc)
        except ValidationError as exc:
            return Outcome.failed("code_error", f"the agent's answer to {what} is not valid ACP", details=clip(str(exc)))
        await self.client.finish()
        if self.client.error is not None:
            raise self.client.error
        await self._charge_turn_usage(response)
        return self._stopped_outcome(response)

    async def _call(self, request: Coroutine[Any, Any, T], *, keep: bool = False) -> T:
        """Await one ACP request against the clock, the process's exit and the client's health."""
        call: asyncio.Future[T] = asyncio.ensure_future(request)
        if keep:
            self.prompt_task = call  # type: ignore[assignment]
        watch = asyncio.ensure_future(
            asyncio.wait({call, self.child.exited, self.client.failed}, return_when=asyncio.FIRST_COMPLETED)
        )
        try:
            in_time = await self.clock.guard(watch)
        except BaseException:
            self._unresponsive = not call.done()
            if not keep:
                call.cancel()
            raise
        finally:
            watch.cancel()
        if self.client.error is not None:
            if not keep:
                call.cancel()
            raise _ClientFailed
        if not in_time:
            self._unresponsive = True
            if not keep:
                call.cancel()
            raise _TimedOut
        if not call.done():
            # The process exited first; its last answer may still be in the pipe.
            await asyncio.wait({call}, timeout=DRAIN_SECONDS)
        if not call.done():
            call.cancel()
            raise _Ended
        return call.result()

    def _stopped_outcome(self, response: PromptResponse) -> Outcome:
        """The outcome a stop reason means.

        - end_turn: the agent finished; its last message is the summary.
        - refusal: the agent will not do this; retrying the same prompt gets the same answer, so a
          person must decide (`blocker`).
        - max_tokens, max_turn_requests: the turn ran out of room (output tokens, model requests)
          before the work was done. Retrying the same prompt hits the same limit, so the task is
          too big for one turn: `design_flaw`, which asks for a replan (smaller steps) rather than
          a retry. It is not `transient`: nothing about it is likely to change by itself.
        - cancelled without us asking: a permission answered `cancelled`, or the agent gave up on
          its own; a person decides (`blocker`).
        """
        reason = response.stop_reason
        summary = self.client.summary().strip()
        output: dict[str, Any] = {"stop_reason": reason, "summary": summary, "tool_calls": self.client.tool_calls}
        if self.agent_name:
            output["agent"] = self.agent_name
        usage = self._usage(response)
        if usage:
            output["usage"] = usage
        if reason == "end_turn":
            return Outcome(output=output)
        details = f"last message: {summary}" if summary else ""
        if reason == "refusal":
            return Outcome.failed("blocker", "the agent refused to continue (stop reason: refusal)", details=details)
        if reason == "max_tokens":
            return Outcome.failed("design_flaw", "the agent ran out of tokens before finishing (stop reason: max_tokens)", details=details)
        if reason == "max_turn_requests":
            return Outcome.failed(
                "design_flaw", "the agent hit its limit of model requests in one turn (stop reason: max_turn_requests)", details=details
            )
        if reason == "cancelled":
            if self.client.person_cancelled:
                return Outcome.failed("blocker", "the agent's turn was cancelled: a permission request was answered cancelled", details=details)
            return Outcome.failed("blocker", "the agent cancelled its turn (stop reason: cancelled)", details=details)
        return Outcome.failed("code_error", f"the agent ended its turn with an unknown stop reason {reason!r}", details=details)

    def _usage(self, response: PromptResponse) -> dict[str, Any]:
        usage: dict[str, Any] = {}
        if self.client.usage_seen:
            usage["context_used"] = self.client.context_used
            if self.client.context_size is not None:
                usage["context_size"] = self.client.context_size
        if self.client.cost is not None:
            usage["cost"] = self.client.cost
        if response.usage is not None:
            usage["turn"] = response.usage.model_dump(exclude_none=True, exclude={"field_meta"})
        return usage

    async def _charge_turn_usage(self, response: PromptResponse) -> None:
        """No usage_update came: charge the turn's total tokens (when the agent reports them)."""
        if not self.client.usage_seen and response.usage is not None and response.usage.total_tokens:
            await self.reporter.tokens(WORKING_POOL, response.usage.total_tokens)

    async def _answered_with_error(self, what: str, exc: RequestError) -> Outcome:
        data = f"; data: {clip(json.dumps(exc.data, default=str))}" if exc.data is not None else ""
        details = f"error {exc.code}: {exc}{data}\n{await self._stderr_details()}"
        if exc.code == RequestError.auth_required().code:
            return Outcome.failed(
                "blocker", f"the agent needs authentication before {what}: sign it in first (see docs/acp.md)", details=details
            )
        return Outcome.failed("code_error", f"the agent answered {what} with an error: {exc}", details=details)

    async def _died(self, what: str) -> Outcome:
        await asyncio.wait({self.child.exited}, timeout=DRAIN_SECONDS)
        code = self.child.returncode
        details = await self._stderr_details()
        if code is None:
            return Outcome.failed("code_error", f"the agent closed the connection during {what}", details=details)
        return Outcome.failed("code_error", f"the agent process ended during {what}: {describe_exit(code)}", details=details)

    async def _stderr_details(self) -> str:
        if self.child.returncode is not None:
            await asyncio.wait({self.stderr_reader}, timeout=DRAIN_SECONDS)
        tail = self.stderr_tail.text()
        return f"stderr tail:\n{tail}" if tail else "no stderr output"

    async def stop(self) -> None:
        """Cancel the session: session/cancel, pending permission requests answered `cancelled`, and a
        grace for the agent to end its turn. The process is ended by `close`."""
        if self._stopped:
            return
        self._stopped = True
        await self.client.begin_closing()
        await self.client.send_cancel()
        await self.client.cancel_permissions()
        if self.prompt_task is not None and not self.prompt_task.done():
            await asyncio.wait(
                {self.prompt_task, self.child.exited}, timeout=CANCEL_GRACE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )

    async def close(self) -> None:
        """End the connection and the process group, whatever happened before; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.client.closing = True
        graceful = not self._unresponsive and (self.prompt_task is None or self.prompt_task.done())
        if self.prompt_task is not None and not self.prompt_task.done():
            self.prompt_task.cancel()
        closing = asyncio.ensure_future(self.conn.close())
        if graceful:
            # A responsive agent exits by itself once its input ends.
            await asyncio.wait({closing}, timeout=EXIT_GRACE_SECONDS)
            self.stdin.close()
            if self.child.returncode is None:
                await asyncio.wait({self.child.exited}, timeout=EXIT_GRACE_SECONDS)
        if self.child.returncode is None:
            await self.child.close()  # SIGTERM the group, SIGKILL after a grace
        else:
            await self.child.end_leftovers([self.stderr_reader])
        self.stdin.close()
        with contextlib.suppress(Exception):
            await closing
        await asyncio.wait({self.stderr_reader}, timeout=DRAIN_SECONDS)
        self.stderr_reader.cancel()
        await asyncio.gather(self.stderr_reader, return_exceptions=True)
        await self._stderr_logs.flush()
        await self.child.close()


class AcpAgent:
    """Runs a coding agent that speaks the Agent Client Protocol, as studio-tui's ACP client."""

    resumes_steps = False
    """Each attempt is a fresh session whose steps start again at 1."""

    def __init__(self, config: AcpAgentConfig) -> None:
        self.config = config

    async def run(self, task: AgentTask, reporter: Reporter) -> Outcome:
        try:
            prompt = render_prompt(self.config.prompt, task)
        except (KeyError, ValueError, IndexError) as exc:
            return Outcome.failed("blocker", f"the acp agent's prompt template does not render: {exc}")
        argv = agent_argv(self.config)
        cwd = agent_cwd(self.config, task.project_root)
        child = _AgentProcess(argv, cwd=cwd, env={**os.environ, **self.config.env}, with_stdin=True)
        try:
            await child.start()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return Outcome.failed(
                "blocker", f"cannot start ACP agent {describe_command(argv)!r}: {reason}", details=f"cwd: {cwd}"
            )
        await reporter.log(f"started ACP agent {describe_command(argv)} (pid {child.pid})", "debug")
        session = _Session(self.config, task, reporter, child, prompt)
        try:
            return await session.drive()
        except asyncio.CancelledError:
            await asyncio.shield(session.stop())
            raise
        finally:
            await asyncio.shield(session.close())
