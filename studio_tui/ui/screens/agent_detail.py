"""Agent detail (`enter` on an agent): attempts, steps with durations, handoffs in and out, tokens per pool
(reported vs estimated), its log and stderr, tool calls with their diffs and terminal output. Live and in replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from studio_tui.core import events as ev
from studio_tui.core.agent_story import AgentStory, agent_story, unified_diff
from studio_tui.core.state import OrchestrationState
from studio_tui.ui import fmt

REFRESH_SECONDS = 0.5
STDERR_TAIL_LINES = 20
STDERR_TAIL_BYTES = 16_384

Source = Callable[[], tuple[OrchestrationState, list[ev.Event]]]
"""Where the screen reads the agent's state and events (the dashboard's or the replay's feed), again while open."""


def _section(title: str) -> Rule:
    return Rule(Text(title, style="bold"), align="left", style="dim")


def stderr_tail(folder: Path | None, relative: str) -> list[str]:
    """The last lines of an agent's stderr stream file, sanitised; none when it cannot be read."""
    if folder is None:
        return []
    path = (folder / relative).resolve()
    if folder.resolve() not in path.parents:
        return [f"(stderr path {fmt.literal(relative, max_chars=80)} is outside the orchestration folder: not read)"]
    try:
        with path.open("rb") as stream:
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - STDERR_TAIL_BYTES))
            data = stream.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [fmt.literal(line, max_chars=300) for line in data.splitlines()[-STDERR_TAIL_LINES:]]


def render_story(
    state: OrchestrationState,
    story: AgentStory,
    now: float,
    *,
    dark: bool = True,
    background: str = "default",
    stderr: list[str] | None = None,
) -> RenderableType:
    agent = state.agent(story.agent)
    head = Text()
    head.append(fmt.literal(story.agent, max_chars=60), "bold")
    if agent is not None:
        head.append(f"  {agent.status} · {agent.role or '-'} · try {agent.attempts}")
        if agent.total_steps:
            from studio_tui.core.text import step_count

            head.append(f" · steps {step_count(agent.steps_completed, agent.steps_skipped, agent.total_steps)}")
    if story.session_id:
        head.append(
            f"\nsession {fmt.literal(story.session_id, max_chars=60)}"
            + (f" · mode {fmt.literal(story.mode, max_chars=30)}" if story.mode else ""),
            "dim",
        )
    parts: list[RenderableType] = [head]

    attempts = Table("Try", "Mode", "Started", "Took", "Outcome", box=None, header_style="bold", pad_edge=False)
    for attempt in story.attempts:
        took = (attempt.ended_ts or now) - attempt.started_ts
        attempts.add_row(
            str(attempt.number),
            fmt.literal(attempt.mode or "-", max_chars=12),
            fmt.clock_time(attempt.started_ts),
            fmt.duration(took),
            Text(fmt.literal(attempt.outcome, max_chars=120)),
        )
    parts += [_section(f"Attempts ({len(story.attempts)})"), attempts if story.attempts else Text("none yet", "dim")]

    steps = Table("Step", "Status", "Took", "Description", box=None, header_style="bold", pad_edge=False)
    for step in story.steps:
        steps.add_row(
            str(step.number),
            step.status,
            fmt.duration(step.seconds if step.seconds is not None else now - step.started_ts),
            Text(fmt.literal(step.description, max_chars=120)),
        )
    parts += [_section(f"Steps ({len(story.steps)})"), steps if story.steps else Text("none yet", "dim")]

    handoffs = Table("", "With", "Tokens", "Context", box=None, header_style="bold", pad_edge=False)
    for handoff in state.handoffs:
        if story.agent in (handoff.to_agent, handoff.from_agent):
            incoming = handoff.to_agent == story.agent
            other = handoff.from_agent if incoming else handoff.to_agent
            keys = ", ".join(fmt.literal(k, max_chars=30) for k in list(handoff.context)[:8])
            handoffs.add_row("in ←" if incoming else "out →", fmt.literal(other, max_chars=30), fmt.tokens(handoff.tokens), Text(keys))
    parts += [_section("Handoffs"), handoffs if handoffs.row_count else Text("none", "dim")]

    tokens = Table("Pool", "Reported", "Estimated", box=None, header_style="bold", pad_edge=False)
    for pool in sorted(set(story.reported) | set(story.estimated)):
        tokens.add_row(
            pool, fmt.tokens(story.reported.get(pool, 0)), fmt.tokens(story.estimated.get(pool, 0)) if pool in story.estimated else "-"
        )
    parts += [_section("Tokens per pool"), tokens if tokens.row_count else Text("none reported", "dim")]

    parts.append(_section(f"Tool calls ({len(story.tool_calls)})"))
    if not story.tool_calls:
        parts.append(Text("none", "dim"))
    for call in story.tool_calls.values():
        line = Text()
        line.append(f"{fmt.clock_time(call.ts)} ", "dim")
        line.append(fmt.literal(call.title or call.tool_call_id, max_chars=120), "bold")
        line.append(f"  {fmt.literal(call.kind or '-', max_chars=20)} · {fmt.literal(call.status or '-', max_chars=20)}", "dim")
        parts.append(line)
        for content in call.content:
            if content.kind == "diff":
                diff = fmt.literal(unified_diff(content), max_chars=20_000, one_line=False)
                parts.append(Syntax(diff, "diff", theme="monokai" if dark else "default", background_color=background, word_wrap=True))
            elif content.kind == "text" and content.text:
                parts.append(Text(fmt.literal(content.text, max_chars=2000, one_line=False)))
            elif content.kind == "terminal" and content.terminal_id in story.terminals:
                parts.append(_terminal(story, content.terminal_id))
    unlinked = [tid for tid in story.terminals if not any(c.terminal_id == tid for call in story.tool_calls.values() for c in call.content)]
    if unlinked:
        parts.append(_section(f"Terminals ({len(unlinked)})"))
        parts += [_terminal(story, tid) for tid in unlinked]

    log = Text()
    for ts, level, message in story.log[-30:]:
        log.append(f"{fmt.clock_time(ts)} ", "dim")
        log.append(f"{fmt.literal(message)}\n", "bold red" if level == "error" else "")
    parts += [_section(f"Log ({len(story.log)})"), log if story.log else Text("none", "dim")]
    if story.stderr:
        path, lines, dropped = story.stderr[-1]
        note = f"{fmt.literal(path, max_chars=100)} · {lines} line(s)" + (f", {dropped} dropped" if dropped else "")
        parts += [_section("Stderr"), Text(note, "dim"), Text("\n".join(stderr or []) or "(empty)")]
    return Group(*parts)


def _terminal(story: AgentStory, terminal_id: str) -> RenderableType:
    terminal = story.terminals[terminal_id]
    head = Text("$ ", "bold")
    head.append(fmt.literal(terminal.command or terminal_id, max_chars=200), "bold")
    status = (
        "running"
        if not terminal.done
        else (f"exit {terminal.exit_code}" if terminal.exit_code is not None else f"signal {terminal.signal}")
    )
    head.append(f"  {status}" + (" · truncated" if terminal.truncated else ""), "green" if terminal.exit_code == 0 else "yellow")
    body = Text(fmt.literal(terminal.output.rstrip("\n"), max_chars=20_000, one_line=False))
    return Group(head, body)


class AgentScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,enter", "close", "Close", id="agent.close", tooltip="Back to the dashboard"),
    ]

    def __init__(self, agent_key: str, source: Source, orch_folder: Callable[[], Path | None], clock: Callable[[], float]) -> None:
        super().__init__()
        self.agent_key = agent_key
        self.source = source
        self.orch_folder = orch_folder
        self.clock = clock
        self._shown: tuple[int, int] | None = None
        self._stderr: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog agent-detail") as dialog:
            dialog.border_title = f"Agent {fmt.literal(self.agent_key, max_chars=40)}"
            dialog.border_subtitle = "Esc close"
            with VerticalScroll(id="agent-detail-scroll"):
                yield Static(id="agent-story")
        yield Footer()

    def on_mount(self) -> None:
        self._refresh()
        self.set_interval(REFRESH_SECONDS, self._refresh)

    def _refresh(self) -> None:
        state, events = self.source()
        shown = (state.seq, len(events))
        if shown == self._shown:
            return
        self._shown = shown
        story = agent_story(events, self.agent_key)
        if story.stderr:
            self._read_stderr(story.stderr[-1][0])
        theme = self.app.current_theme
        background = theme.surface or theme.background or "default"
        self.query_one("#agent-story", Static).update(
            render_story(state, story, self.clock(), dark=theme.dark, background=background, stderr=self._stderr)
        )

    @work(thread=True, exclusive=True, group="agent-stderr")
    def _read_stderr(self, relative: str) -> None:
        lines = stderr_tail(self.orch_folder(), relative)
        if lines != self._stderr:
            self._stderr = lines
            self.app.call_from_thread(self._redraw)

    def _redraw(self) -> None:
        self._shown = None
        self._refresh()

    def action_close(self) -> None:
        self.dismiss(None)
