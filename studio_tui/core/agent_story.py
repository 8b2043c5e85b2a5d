"""One agent's story from the log: attempts, steps with durations, tokens per pool (reported vs estimated),
its log lines, stderr stream, tool calls with their diffs and terminal output. The agent detail screen draws this."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from . import events as ev

MAX_LOG_LINES = 200
MAX_TERMINAL_CHARS = 20_000
"""Kept per terminal (the newest part): enough to read a test run's end, never a memory hog."""


@dataclass
class Attempt:
    number: int
    started_ts: float
    mode: str = ""
    ended_ts: float | None = None
    outcome: str = "running"
    """running | completed | failed: category and message."""


@dataclass
class Step:
    number: int
    description: str
    started_ts: float
    ended_ts: float | None = None
    status: str = "started"

    @property
    def seconds(self) -> float | None:
        return self.ended_ts - self.started_ts if self.ended_ts is not None else None


@dataclass
class ToolCall:
    tool_call_id: str
    title: str
    kind: str | None
    status: str | None
    ts: float
    content: list[ev.ToolContent] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)


@dataclass
class Terminal:
    terminal_id: str
    command: str = ""
    output: str = ""
    exit_code: int | None = None
    signal: str | None = None
    truncated: bool = False
    done: bool = False


@dataclass
class AgentStory:
    agent: str
    attempts: list[Attempt] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    reported: dict[str, int] = field(default_factory=dict)
    estimated: dict[str, int] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)
    stderr: list[tuple[str, int, int]] = field(default_factory=list)
    """(path relative to the orchestration folder, lines, dropped)."""
    tool_calls: dict[str, ToolCall] = field(default_factory=dict)
    terminals: dict[str, Terminal] = field(default_factory=dict)
    session_id: str | None = None
    mode: str | None = None


def agent_story(events: list[ev.Event], agent: str) -> AgentStory:
    """Fold the events that concern `agent` (a sequence key such as `builder`) into its story."""
    story = AgentStory(agent)
    for event in events:
        if getattr(event, "agent", None) != agent:
            continue
        if isinstance(event, ev.AgentStarted):
            story.attempts.append(Attempt(event.attempt, event.ts, event.mode))
        elif isinstance(event, (ev.AgentCompleted, ev.AgentFailed)) and story.attempts:
            attempt = story.attempts[-1]
            attempt.ended_ts = event.ts
            attempt.outcome = "completed" if isinstance(event, ev.AgentCompleted) else f"failed: {event.category}: {event.message}"
            for step in story.steps:
                if step.ended_ts is None:
                    step.ended_ts, step.status = event.ts, "completed" if isinstance(event, ev.AgentCompleted) else "failed"
        elif isinstance(event, ev.AgentStep):
            _step(story, event)
        elif isinstance(event, ev.TokensUsed):
            pools = story.estimated if event.estimated else story.reported
            pools[event.pool] = pools.get(event.pool, 0) + event.tokens
        elif isinstance(event, ev.AgentLog):
            story.log = [*story.log[-(MAX_LOG_LINES - 1) :], (event.ts, event.level, event.message)]
        elif isinstance(event, ev.AgentStderr):
            story.stderr.append((event.path, event.lines, event.dropped))
        elif isinstance(event, ev.ToolCallRecorded):
            known = story.tool_calls.get(event.tool_call_id)
            story.tool_calls[event.tool_call_id] = ToolCall(
                event.tool_call_id,
                event.title or (known.title if known else ""),
                event.kind or (known.kind if known else None),
                event.status or (known.status if known else None),
                known.ts if known else event.ts,
                list(event.content) or (known.content if known else []),
                list(event.locations) or (known.locations if known else []),
            )
        elif isinstance(event, ev.TerminalOutput):
            terminal = story.terminals.setdefault(event.terminal_id, Terminal(event.terminal_id))
            terminal.command = event.command or terminal.command
            terminal.output = (terminal.output + event.output)[-MAX_TERMINAL_CHARS:]
            terminal.exit_code = event.exit_code if event.exit_code is not None else terminal.exit_code
            terminal.signal = event.signal or terminal.signal
            terminal.truncated = terminal.truncated or event.truncated
            terminal.done = terminal.done or event.done
        elif isinstance(event, ev.AgentSession):
            story.session_id = event.session_id or story.session_id
            story.mode = event.current_mode or story.mode
    return story


def _step(story: AgentStory, event: ev.AgentStep) -> None:
    if event.status == "started":
        for step in story.steps:
            if step.ended_ts is None:
                step.ended_ts, step.status = event.ts, "completed"
        story.steps.append(Step(event.step, event.description, event.ts))
        return
    for step in reversed(story.steps):
        if step.number == event.step and step.ended_ts is None:
            step.ended_ts, step.status = event.ts, event.status
            return
    story.steps.append(Step(event.step, event.description, event.ts, event.ts, event.status))


def unified_diff(content: ev.ToolContent) -> str:
    """A diff content as a unified diff (the agent's own git patch when it sent one)."""
    if content.git_patch:
        return content.git_patch
    path = content.path or "file"
    old = (content.old_text or "").splitlines(keepends=True)
    new = (content.new_text or "").splitlines(keepends=True)
    lines = difflib.unified_diff(old, new, fromfile=f"a/{path}" if content.old_text is not None else "/dev/null", tofile=f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
