"""The headless front end: a Rich printer for events and terminal prompts for decisions (CI, pipes)."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .core import events as ev
from .core.budget import budget_table
from .core.decider import PERMISSION_CANCELLED, Answer, DecisionRequest, PolicyDecider, option_keys
from .core.state import OrchestrationState
from .core.text import STATUS_GLYPHS, sanitize, step_count

PermissionPolicy = Literal["ask", "allow", "deny"]
"""How a terminal run answers an agent's permission request (`--permissions`)."""

LEVEL_STYLE = {"OK": "green", "WARNING": "yellow", "CRITICAL": "bold red"}
STATUS_STYLE = {
    "completed": "green",
    "active": "bold cyan",
    "failed": "red",
    "skipped": "dim",
    "waiting": "bold yellow",
    "pending": "dim",
}


def literal(text: str, style: str = "") -> Text:
    """Agent or log text as a Rich Text: never markup, controls made visible."""
    return Text(sanitize(text), style=style)


class HeadlessPrinter:
    """Prints one line per meaningful event; token events only when a pool changes level."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._levels: dict[str, str] = {}

    def _line(self, when: float, mark: str, who: str, body: Text | str, style: str = "") -> None:
        line = Text(time.strftime("%H:%M:%S ", time.localtime(when)), style="dim")
        line.append(f"{mark} ", style=style)
        line.append(f"{who:<12} ", style=style or "bold")
        line.append(body if isinstance(body, Text) else Text(body))
        self.console.print(line, soft_wrap=True, highlight=False)

    def __call__(self, event: ev.Event, state: OrchestrationState) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event, state)
        elif isinstance(event, ev.UnknownEvent):
            self._line(event.ts, "?", "event", literal(f"unknown event type {event.type!r}"), "dim")

    def _on_orchestration_started(self, e: ev.OrchestrationStarted, s: OrchestrationState) -> None:
        self._line(e.ts, "●", "orchestrator", literal(f"{e.orch_id} ({e.mode}): {e.goal}"), "bold")

    def _on_routing_decided(self, e: ev.RoutingDecided, s: OrchestrationState) -> None:
        agents = " → ".join(slot.key for slot in e.sequence)
        body = literal(f"{e.workflow} ({e.complexity}, confidence {e.confidence:.0%}): {agents}")
        if e.signals:
            body.append(f"  [{'; '.join(e.signals)}]", style="dim")
        self._line(e.ts, "⇢", "routing", body, "magenta")

    def _on_sequence_extended(self, e: ev.SequenceExtended, s: OrchestrationState) -> None:
        self._line(e.ts, "⇢", "routing", literal("added " + ", ".join(slot.key for slot in e.sequence)), "magenta")

    # parallel Builders and Dask (issue 15)

    def _on_task_worktree(self, e: ev.TaskWorktree, s: OrchestrationState) -> None:
        self._line(e.ts, "⑂", e.agent, literal(f"worktree {e.path} on {e.branch} from {e.base[:8]}"), "cyan")

    def _on_task_dispatched(self, e: ev.TaskDispatched, s: OrchestrationState) -> None:
        self._line(e.ts, "⇉", e.agent, literal(f"on {e.engine} worker {e.worker} (attempt {e.attempt})"), "cyan")

    def _on_task_merged(self, e: ev.TaskMerged, s: OrchestrationState) -> None:
        self._line(e.ts, "⑃", e.agent, literal(f"merged {e.branch} ({e.how}) → {e.commit[:8]}"), "green")

    def _on_budget_allocated(self, e: ev.BudgetAllocated, s: OrchestrationState) -> None:
        self._line(e.ts, "◆", "budget", f"allocated: {s.budget.used:,} of {s.budget.soft:,} tokens ({s.budget.total_level})", "blue")
        self._levels = {name: s.budget.level(p.used, p.soft) for name, p in s.budget.pools.items()}

    def _on_tokens_used(self, e: ev.TokensUsed, s: OrchestrationState) -> None:
        pool = s.budget.pools.get(e.pool)
        if pool is None:
            return
        level = s.budget.level(pool.used, pool.soft)
        if self._levels.get(e.pool) != level:
            self._levels[e.pool] = level
            body = Text(f"{e.pool} {pool.used:,}/{pool.soft:,} ")
            body.append(level, style=LEVEL_STYLE[level])
            self._line(e.ts, "◆", "budget", body, "blue")

    def _on_optimization_applied(self, e: ev.OptimizationApplied, s: OrchestrationState) -> None:
        self._line(e.ts, "◆", "budget", literal(f"{e.step}: {e.pool} {e.before:,} → {e.after:,} ({e.detail})"), "blue")
        pool = s.budget.pools.get(e.pool)
        if pool is not None:
            self._levels[e.pool] = s.budget.level(pool.used, pool.soft)

    def _on_agent_started(self, e: ev.AgentStarted, s: OrchestrationState) -> None:
        self._line(e.ts, "▶", e.agent, f"started (attempt {e.attempt})", "cyan")

    def _on_agent_step(self, e: ev.AgentStep, s: OrchestrationState) -> None:
        agent = s.agent(e.agent)
        total = agent.total_steps if agent else e.total
        if e.status == "started":
            self._line(e.ts, "·", e.agent, literal(f"step {e.step}/{total or '?'} {e.description}"))
        elif e.status == "skipped":
            self._line(e.ts, "↷", e.agent, f"step {e.step} skipped", "yellow")

    def _on_agent_log(self, e: ev.AgentLog, s: OrchestrationState) -> None:
        style = {"error": "red", "warning": "yellow"}.get(e.level, "dim")
        for line in e.message.splitlines() or [""]:
            self._line(e.ts, " ", e.agent, literal(line, style), style)

    def _on_agent_completed(self, e: ev.AgentCompleted, s: OrchestrationState) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in e.output.items() if k in ("plan_id", "task_id", "task_ids", "steps_completed"))
        self._line(e.ts, "✓", e.agent, literal(f"completed {shown}"), "green")

    def _on_agent_failed(self, e: ev.AgentFailed, s: OrchestrationState) -> None:
        where = f"step {e.step} " if e.step is not None else ""
        self._line(e.ts, "✗", e.agent, literal(f"{where}{e.category}: {e.message}"), "red")

    def _on_agent_status(self, e: ev.AgentStatus, s: OrchestrationState) -> None:
        self._line(
            e.ts,
            STATUS_GLYPHS.get(e.status, "·"),
            e.agent,
            literal(f"{e.status} ({e.reason})" if e.reason else e.status),
            STATUS_STYLE.get(e.status, ""),
        )

    def _on_recovery_decided(self, e: ev.RecoveryDecided, s: OrchestrationState) -> None:
        self._line(e.ts, "↻", e.agent, literal(f"→ {e.action}: {e.reason}"), "yellow")

    def _on_handoff(self, e: ev.HandoffRecorded, s: OrchestrationState) -> None:
        self._line(e.ts, "⇄", "handoff", literal(f"{e.from_agent} → {e.to_agent} ({e.tokens} tokens: {', '.join(e.context)})"), "magenta")

    def _on_checkpoint_saved(self, e: ev.CheckpointSaved, s: OrchestrationState) -> None:
        self._line(e.ts, "⚑", "checkpoint", literal(f"{e.checkpoint_id} {e.name} ({e.reason})"), "blue")

    def _on_decision_requested(self, e: ev.DecisionRequested, s: OrchestrationState) -> None:
        body = literal(f"{e.kind}: {e.prompt}")
        tool = e.details.get("tool_call") if e.kind == "permission" else None
        if isinstance(tool, dict):
            # What the tool call would do, so a policy's answer in a CI log can be judged afterwards.
            what = tool.get("command") or ", ".join(str(loc.get("path")) for loc in tool.get("locations", []) if isinstance(loc, dict))
            if what:
                body.append(" — ")
                body.append_text(literal(str(what)))
            if e.details.get("outside_root"):
                body.append("  (outside the project root)", style="bold red")
        self._line(e.ts, "?", e.agent or "orchestrator", body, "bold yellow")

    def _on_decision_answered(self, e: ev.DecisionAnswered, s: OrchestrationState) -> None:
        why = f": {e.reason}" if e.reason else ""
        self._line(e.ts, "!", "decision", literal(f"{e.kind} → {e.answer} (by {e.by}{why})"), "yellow")

    def _on_agent_session(self, e: ev.AgentSession, s: OrchestrationState) -> None:
        parts = []
        if e.session_id:
            parts.append(f"session {e.session_id}")
        if e.current_mode or e.modes:
            parts.append(f"mode {e.current_mode or '?'}" + (f" (offers {', '.join(e.modes)})" if e.modes else ""))
        if e.commands:
            shown = " ".join(f"/{c}" for c in e.commands[:12]) + (" …" if len(e.commands) > 12 else "")
            parts.append(f"{len(e.commands)} commands: {shown}")
        if e.auth_methods:
            parts.append(f"auth methods: {', '.join(e.auth_methods)}")
        if parts:
            self._line(e.ts, "◇", e.agent, literal("; ".join(parts)), "cyan")

    def _on_agent_stderr(self, e: ev.AgentStderr, s: OrchestrationState) -> None:
        if self.verbose or e.dropped:
            dropped = f", {e.dropped} rotated away" if e.dropped else ""
            self._line(e.ts, " ", e.agent, literal(f"stderr: {e.lines} lines in {e.path}{dropped}"), "dim")

    def _on_terminal_output(self, e: ev.TerminalOutput, s: OrchestrationState) -> None:
        if e.done:
            end = f"exit {e.exit_code}" if e.exit_code is not None else f"killed by {e.signal}"
            self._line(e.ts, "$", e.agent, literal(f"terminal {e.terminal_id} `{e.command}` ended: {end}"), "dim")

    def _on_resumed(self, e: ev.Resumed, s: OrchestrationState) -> None:
        how = f"REWOUND to {e.checkpoint_id}" if e.rewind else f"resumed from {e.checkpoint_id}, continuing after the last completed step"
        self._line(e.ts, "⟲", "orchestrator", literal(f"{s.id}: {how}"), "bold")

    def _on_step_rerun(self, e: ev.StepRerun, s: OrchestrationState) -> None:
        self._line(e.ts, "↺", e.agent, literal(f"step {e.step} runs again (RE-RUN): {e.reason}"), "bold yellow")

    def _on_learning_captured(self, e: ev.LearningCaptured, s: OrchestrationState) -> None:
        self._line(e.ts, "✎", "learnings", literal(f"{e.path}: {e.summary}"), "green")

    def _on_backlog_updated(self, e: ev.BacklogUpdated, s: OrchestrationState) -> None:
        self._line(e.ts, "✎", "backlog", literal(f"{e.task_id} → {e.status}"), "green")

    def _on_orchestration_finished(self, e: ev.OrchestrationFinished, s: OrchestrationState) -> None:
        style = "bold green" if e.status == "completed" else "bold red"
        self._line(e.ts, "■", "orchestrator", literal(f"{e.status.upper()}: {e.summary}"), style)


class TerminalDecider:
    """Asks on the terminal; a fixed escalation policy (if given) answers escalations without asking."""

    def __init__(
        self,
        console: Console,
        *,
        on_escalation: Literal["ask", "retry", "skip", "abort"] = "ask",
        permissions: PermissionPolicy = "ask",
    ) -> None:
        self.console = console
        self.on_escalation = on_escalation
        self.permissions = permissions
        self._policy = PolicyDecider(
            on_escalation if on_escalation != "ask" else "abort",
            permissions if permissions != "ask" else "deny",
        )

    async def decide(self, request: DecisionRequest) -> Answer:
        if request.kind == "escalation" and self.on_escalation != "ask":
            return await self._policy.decide(request)
        if request.kind == "permission" and self.permissions != "ask":
            return await self._policy.decide(request)
        self.console.bell()
        self.console.print(render_request(request))
        keys = option_keys(request)
        while True:
            hint = "/".join(f"[{key}] {option}" for key, option in zip(keys, request.options, strict=False)) if request.options else ""
            prompt = f"{hint} > " if hint else f"answer{f' [{request.default}]' if request.default else ''} > "
            reply = (await _read_line(prompt)).strip()
            if not request.options:
                return Answer(reply or request.default)
            for key, option in zip(keys, request.options, strict=False):
                if reply == option or reply.lower() == key:
                    return Answer(option)
            if request.kind in ("routing", "confidence") and reply.lower() in ("y", "yes"):
                return Answer(request.options[0])
            if request.kind in ("routing", "confidence") and reply.lower() in ("n", "no"):
                return Answer(request.options[-1])
            self.console.print(Text(f"please answer one of: {', '.join(keys)} (or an option's name)", style="yellow"))


async def _read_line(prompt: str) -> str:
    """Read a line without blocking the loop or a thread, so Ctrl-C cancels a waiting prompt at once."""
    sys.stdout.write(prompt)
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = sys.stdin.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    line = sys.stdin.readline()
    if not line:
        raise EOFError("standard input closed while a decision was waiting")
    return line


def render_request(request: DecisionRequest) -> Table:
    """The decision as the seed shows it: what happened, then the options."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    title = {"escalation": "ESCALATION", "routing": "ROUTING", "question": "QUESTION", "confidence": "LOW CONFIDENCE"}.get(
        request.kind, request.kind.upper()
    )
    table.add_row(Text(title, style="bold yellow"), literal(request.prompt))
    d = request.details
    if request.kind == "escalation":
        table.add_row("Last error", literal(str(d.get("last_error", ""))))
        table.add_row("Agent", literal(f"{d.get('agent')} step {d.get('step')} ({d.get('category')})"))
        labels = {"retry": "[r] Retry with different approach", "skip": "[s] Skip this step", "abort": "[a] Abort and review plan"}
        for option in request.options:
            table.add_row("", labels.get(option, option))
    elif request.kind == "routing":
        table.add_row("Workflow", literal(str(d.get("workflow"))))
        table.add_row("Complexity", literal(str(d.get("complexity", "")).upper()))
        table.add_row("Agents", literal(" → ".join(d.get("agents", []))))
        table.add_row("Confidence", f"{float(d.get('confidence', 0)):.0%}")
        table.add_row("Signals", literal("; ".join(d.get("signals", [])) or "none"))
    elif request.kind == "question":
        table.add_row("Round", f"{d.get('round')} of {d.get('max_rounds')}")
    elif request.kind == "confidence":
        table.add_row("Plan", literal(str(d.get("summary", ""))))
    elif request.kind == "permission":
        permission_rows(table, request)
    return table


def permission_rows(table: Table, request: DecisionRequest) -> None:
    """What a person needs to judge a permission: the tool call, literally, then numbered options."""
    d = request.details
    raw_tool = d.get("tool_call")
    tool: dict[str, Any] = raw_tool if isinstance(raw_tool, dict) else {}
    if request.agent:
        table.add_row("Agent", literal(request.agent))
    if tool.get("kind"):
        table.add_row("Kind", literal(str(tool["kind"])))
    if tool.get("command"):
        table.add_row("Command", literal(str(tool["command"]), "bold"))
    elif tool.get("input"):
        table.add_row("Input", literal(str(tool["input"])))
    for location in tool.get("locations", []) if isinstance(tool.get("locations"), list) else []:
        if not isinstance(location, dict):
            continue
        where = literal(str(location.get("path", "")) + (f":{location['line']}" if location.get("line") is not None else ""))
        if location.get("outside"):
            where.stylize("bold red")
            where.append("  OUTSIDE the project root", style="bold red")
        table.add_row("Location", where)
    if d.get("subject"):
        table.add_row("Subject", literal(str(d["subject"])))
    for diff in tool.get("diffs", []) if isinstance(tool.get("diffs"), list) else []:
        if isinstance(diff, dict):
            table.add_row("Diff", diff_text(str(diff.get("preview", ""))))
    if d.get("outside_root"):
        table.add_row("Careful", literal("the request names paths outside the project root", "bold red"))
    names = {str(o.get("id")): o for o in d.get("options", []) if isinstance(o, dict)}
    for key, option in zip(option_keys(request), request.options, strict=False):
        offered = names.get(option)
        label = (
            f"{offered.get('name')} ({offered.get('kind')})"
            if offered
            else "withdraw the request (cancel the agent's turn)"
            if option == PERMISSION_CANCELLED
            else option
        )
        table.add_row(Text(f"[{key}]", style="bold"), literal(label))


def diff_text(preview: str) -> Text:
    """A unified diff, literally, with added lines green and removed lines red."""
    text = Text()
    for index, line in enumerate(preview.splitlines()):
        if index:
            text.append("\n")
        style = (
            "green"
            if line.startswith("+") and not line.startswith("+++")
            else "red"
            if line.startswith("-") and not line.startswith("---")
            else "dim"
            if line.startswith("@@")
            else ""
        )
        text.append(sanitize(line), style=style)
    return text


def state_view(state: OrchestrationState) -> Table:
    """A compact human summary of a state (the `status` command)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Orchestration", literal(f"{state.id} ({state.mode})"))
    grid.add_row("Goal", literal(state.goal))
    status = Text(state.status.upper(), style="bold yellow" if state.waiting_for_person else "bold")
    if state.waiting_for_person:
        status.append("  WAITING FOR YOU", style="bold yellow")
    grid.add_row("Status", status)
    routing = state.routing
    grid.add_row("Workflow", literal(f"{routing.workflow} ({routing.complexity}), confidence {routing.confidence:.0%}"))
    agents = Text()
    for entry in state.agent_states:
        agents.append(f"{STATUS_GLYPHS.get(entry.status, '·')} {entry.agent}", style=STATUS_STYLE.get(entry.status, ""))
        if entry.total_steps:
            agents.append(f" {step_count(entry.steps_completed, entry.steps_skipped, entry.total_steps)}", style="dim")
        agents.append("   ")
    grid.add_row("Agents", agents)
    grid.add_row("Checkpoints", literal(", ".join(f"{c.id} {c.name}" for c in state.checkpoints[-3:]) or "none"))
    grid.add_row("Failures", literal(f"{len(state.failures)}" + (f" (last: {state.failures[-1].message})" if state.failures else "")))
    if state.summary:
        grid.add_row("Summary", literal(state.summary))
    return grid


def budget_view(state: OrchestrationState) -> Table:
    """The seed's pool table."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in (("Pool", "left"), ("Used", "right"), ("Soft", "right"), ("Status", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows = budget_table(state)
    for index, (name, used, soft, status) in enumerate(rows):
        level = status.split(" ")[0]
        table.add_row(name, str(used), str(soft), Text(status, style=LEVEL_STYLE.get(level, "")), end_section=index == len(rows) - 2)
    return table
