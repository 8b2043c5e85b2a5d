"""A shareable report of one orchestration: routing, timeline, agents, failures, decisions, budget chart.

Markdown is written by hand (agent text escaped so it cannot become markup or links); HTML is Rich's own
`Console(record=True).export_html` of the same report, inline styles, no script.
"""

from __future__ import annotations

import io
import time
from typing import Literal

from rich.console import Console, Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from . import events as ev
from .budget import budget_table
from .state import OrchestrationState
from .text import sanitize, step_count

Format = Literal["md", "html"]
MD_SPECIAL = frozenset("\\`*_{}[]<>#|~")
"""Characters escaped in agent text: no emphasis, code, link, HTML or table cell can start from them."""
FORMATS: tuple[str, ...] = ("md", "html")
BAR_WIDTH = 30
TIMELINE_TYPES = {
    "orchestration_started",
    "routing_decided",
    "agent_started",
    "agent_completed",
    "agent_failed",
    "recovery_decided",
    "decision_requested",
    "decision_answered",
    "checkpoint_saved",
    "resumed",
    "orchestration_finished",
}
"""Event types worth a line in the report's timeline (tokens and steps would drown it)."""


def _clock(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _plain(value: object, limit: int = 300) -> str:
    return sanitize(str(value), max_chars=limit, keep_newlines=False)


def _md(value: object, limit: int = 300) -> str:
    """Agent text as inert Markdown: every character Markdown could act on is escaped."""
    text = _plain(value, limit)
    return "".join("\\" + char if char in MD_SPECIAL else char for char in text)


def _duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return "-"
    whole = int(seconds)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


def timeline(events: list[ev.Event]) -> list[tuple[float, str, str]]:
    """(ts, who, what) for the events a reader of the report wants, in log order."""
    rows: list[tuple[float, str, str]] = []
    for event in events:
        if event.type not in TIMELINE_TYPES:
            continue
        data = event.model_dump(by_alias=True)
        who = str(data.get("agent") or "orchestrator")
        detail = {
            "routing_decided": lambda d: f"workflow {d.get('workflow')} ({d.get('complexity')})",
            "agent_failed": lambda d: f"step {d.get('step')} {d.get('category')}: {d.get('message', '')}",
            "recovery_decided": lambda d: f"→ {d.get('action', '')}",
            "decision_requested": lambda d: f"{d.get('kind')}: {d.get('prompt', '')}",
            "decision_answered": lambda d: f"{d.get('answer')} (by {d.get('by')})",
            "checkpoint_saved": lambda d: f"{d.get('checkpoint_id')} {d.get('name')}",
            "resumed": lambda d: f"from {d.get('checkpoint_id')}",
            "orchestration_finished": lambda d: f"{d.get('status')}: {d.get('summary', '')}",
        }.get(event.type, lambda d: "")(data)
        rows.append((event.ts, who, f"{event.type.replace('_', ' ')} {detail}".strip()))
    return rows


def budget_bars(state: OrchestrationState) -> list[tuple[str, str, str]]:
    """(pool, bar, numbers) per pool and TOTAL: a text chart that reads the same in Markdown and HTML."""
    rows = []
    for name, used, soft, level in budget_table(state):
        fraction = min(1.0, used / soft) if soft else 0.0
        filled = round(fraction * BAR_WIDTH)
        rows.append((name, "█" * filled + "░" * (BAR_WIDTH - filled), f"{used:,}/{soft:,} {level}"))
    return rows


def to_markdown(state: OrchestrationState, events: list[ev.Event]) -> str:
    lines = [f"# {_md(state.goal or state.id)}", ""]
    lines += [
        f"- Orchestration: `{_plain(state.id)}` ({_md(state.mode)})",
        f"- Status: **{_md(state.status)}**" + (f" · {_md(state.summary)}" if state.summary else ""),
        f"- Started: {_clock(state.started_ts)} · finished: {_clock(state.finished_ts)}",
        "",
        "## Routing",
        "",
        f"Workflow **{_md(state.routing.workflow or '-')}** ({_md(state.routing.complexity or '-')}), confidence {state.routing.confidence:.0%}.",
    ]
    if state.routing.signals:
        lines.append("Signals: " + "; ".join(_md(s) for s in state.routing.signals))
    lines += ["", "## Agents", "", "| Agent | Status | Steps | Tries | Time |", "|---|---|---|---|---|"]
    for agent in state.agent_states:
        took = agent.finished_ts - agent.started_ts if agent.started_ts and agent.finished_ts else None
        lines.append(
            f"| {_md(agent.agent)} | {_md(agent.status)} | {step_count(agent.steps_completed, agent.steps_skipped, agent.total_steps)} | {agent.attempts} | {_duration(took)} |"
        )
    lines += ["", f"## Failures ({len(state.failures)})", ""]
    if state.failures:
        lines += ["| Time | Agent | Step | Category | Action | Message |", "|---|---|---|---|---|---|"]
        for failure in state.failures:
            lines.append(
                f"| {_clock(failure.ts)} | {_md(failure.agent)} | {failure.step if failure.step is not None else '-'} | {_md(failure.category)} | {_md(failure.action or '-')} | {_md(failure.message)} |"
            )
    else:
        lines.append("None.")
    lines += ["", f"## Decisions ({len(state.decisions)})", ""]
    if state.decisions:
        lines += ["| Asked | Kind | Agent | Question | Answer | By |", "|---|---|---|---|---|---|"]
        for decision in state.decisions:
            lines.append(
                f"| {_clock(decision.asked_ts)} | {_md(decision.kind)} | {_md(decision.agent or '-')} | {_md(decision.prompt, 160)} | {_md(decision.answer or 'waiting')} | {_md(decision.by or '-')} |"
            )
    else:
        lines.append("None.")
    lines += ["", "## Budget", "", "```text"]
    lines += [f"{name:<12} {bar} {numbers}" for name, bar, numbers in budget_bars(state)]
    lines += ["```", "", "## Timeline", ""]
    lines += [f"- {_clock(ts)} **{_md(who)}** {_md(what)}" for ts, who, what in timeline(events)]
    return "\n".join(lines) + "\n"


def report_renderable(state: OrchestrationState, events: list[ev.Event]) -> Group:
    """The report as Rich renderables: the HTML export and the dashboard's preview draw this."""
    head = Text()
    head.append(_plain(state.goal or state.id), "bold")
    head.append(f"\n{_plain(state.id)} · {_plain(state.mode)} · ")
    head.append(_plain(state.status).upper(), "bold")
    if state.summary:
        head.append(f" · {_plain(state.summary)}")
    head.append(f"\nstarted {_clock(state.started_ts)} · finished {_clock(state.finished_ts)}", "dim")
    routing = Text(
        f"Workflow {_plain(state.routing.workflow or '-')} ({_plain(state.routing.complexity or '-')}), confidence {state.routing.confidence:.0%}"
    )
    agents = Table("Agent", "Status", "Steps", "Tries", "Time", box=None, header_style="bold")
    for agent in state.agent_states:
        took = agent.finished_ts - agent.started_ts if agent.started_ts and agent.finished_ts else None
        agents.add_row(
            Text(_plain(agent.agent)),
            Text(_plain(agent.status)),
            step_count(agent.steps_completed, agent.steps_skipped, agent.total_steps),
            str(agent.attempts),
            _duration(took),
        )
    failures = Table("Time", "Agent", "Step", "Category", "Action", "Message", box=None, header_style="bold")
    for failure in state.failures:
        failures.add_row(
            _clock(failure.ts)[11:],
            Text(_plain(failure.agent)),
            "-" if failure.step is None else str(failure.step),
            Text(_plain(failure.category)),
            Text(_plain(failure.action or "-")),
            Text(_plain(failure.message)),
        )
    decisions = Table("Kind", "Agent", "Question", "Answer", "By", box=None, header_style="bold")
    for decision in state.decisions:
        decisions.add_row(
            Text(_plain(decision.kind)),
            Text(_plain(decision.agent or "-")),
            Text(_plain(decision.prompt, 160)),
            Text(_plain(decision.answer or "waiting")),
            Text(_plain(decision.by or "-")),
        )
    chart = Table(box=None, show_header=False)
    for name, bar, numbers in budget_bars(state):
        chart.add_row(name, Text(bar, "green" if "OK" in numbers else "yellow" if "WARNING" in numbers else "red"), numbers)
    steps = Table(box=None, show_header=False)
    for ts, who, what in timeline(events):
        steps.add_row(_clock(ts)[11:], Text(_plain(who), "bold"), Text(_plain(what)))
    parts: list[object] = [
        head,
        Rule("Routing"),
        routing,
        Rule("Agents"),
        agents,
        Rule(f"Failures ({len(state.failures)})"),
        failures if state.failures else Text("None."),
    ]
    parts += [
        Rule(f"Decisions ({len(state.decisions)})"),
        decisions if state.decisions else Text("None."),
        Rule("Budget"),
        chart,
        Rule("Timeline"),
        steps,
    ]
    return Group(*parts)  # type: ignore[arg-type]


def to_html(state: OrchestrationState, events: list[ev.Event], width: int = 120) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    console.print(report_renderable(state, events))
    return console.export_html(inline_styles=True, theme=None)


def export_report(state: OrchestrationState, events: list[ev.Event], fmt: str) -> str:
    """The report in `fmt` ("md" or "html")."""
    if fmt == "md":
        return to_markdown(state, events)
    if fmt == "html":
        return to_html(state, events)
    raise ValueError(f"unknown export format {fmt!r}: use md or html")
