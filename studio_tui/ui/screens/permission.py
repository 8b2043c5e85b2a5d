"""An agent's permission request, shown so a person can judge it: what the tool call is, the command or
input literally, where it acts (outside the project root in red) and the change it proposes."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from studio_tui.core.decider import PERMISSION_CANCELLED
from studio_tui.core.text import sanitize
from studio_tui.ui import fmt

from .decisions import ChoiceScreen

DIFF_SHOWN_LINES = 40
"""Diff lines drawn in the dialog (the body scrolls); the rest is summarised in one line."""


def diff_text(preview: str, max_lines: int = DIFF_SHOWN_LINES) -> Text:
    """A unified diff, literally, added lines green and removed lines red."""
    lines = preview.splitlines()
    text = Text()
    for index, line in enumerate(lines[:max_lines]):
        if index:
            text.append("\n")
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        else:
            style = ""
        text.append(sanitize(line, max_chars=300, keep_newlines=False), style=style)
    if len(lines) > max_lines:
        text.append(f"\n… {len(lines) - max_lines} more lines", style="dim")
    return text


class PermissionScreen(ChoiceScreen):
    """A permission request: the tool call's facts, then one numbered button per option offered."""

    CSS = """
    PermissionScreen .dialog { width: 100; height: 90%; }
    PermissionScreen .dialog-body { height: 1fr; max-height: 100%; }
    PermissionScreen .choices { margin-top: 1; }
    PermissionScreen .choices Button { margin-top: 0; }
    PermissionScreen .outside-warning { color: $text-error; text-style: bold; margin-bottom: 1; }
    PermissionScreen .diff { margin-bottom: 1; }
    """
    """The screen's own rules (a screen's CSS, which the app's dialog rules do not override): the
    options stay visible at any size, the facts and the diff scroll above them."""

    def title_text(self) -> str:
        agent = fmt.literal(self.request.agent, max_chars=30) if self.request.agent else "an agent"
        return f"Permission requested by {agent}"

    def answers(self) -> list[tuple[str, str, str]]:
        offered = self.request.details.get("options", [])
        by_id = {str(o.get("id")): o for o in offered if isinstance(o, dict)}
        rows = []
        for number, option in enumerate(self.request.options[:9], start=1):
            found = by_id.get(option)
            if found is not None:
                label = f"{found.get('name') or option}  ({found.get('kind')})"
            elif option == PERMISSION_CANCELLED:
                label = "Cancel the request (and the agent's turn)"
            else:
                label = option
            rows.append((option, str(number), fmt.literal(label, max_chars=80)))
        return rows

    def body(self) -> ComposeResult:
        details = self.request.details
        raw_tool = details.get("tool_call")
        tool: dict[str, Any] = raw_tool if isinstance(raw_tool, dict) else {}
        yield Static(Text(fmt.literal(self.request.prompt, max_chars=500), "bold"), classes="prompt")
        if details.get("outside_root"):
            yield Static(Text("⚠ This request names paths OUTSIDE the project root."), classes="outside-warning")
        label_width = 10
        text = Text()

        def row(label: str, value: Text) -> None:
            if text:
                text.append("\n")
            text.append(label.ljust(label_width), "bold")
            text.append_text(value)

        if tool.get("kind"):
            row("Kind", Text(fmt.literal(tool["kind"], max_chars=40)))
        if tool.get("command"):
            row("Command", Text(sanitize(str(tool["command"]), max_chars=2000, keep_newlines=False), "bold"))
        elif tool.get("input"):
            row("Input", Text(sanitize(str(tool["input"]), max_chars=2000)))
        for location in tool.get("locations", []) if isinstance(tool.get("locations"), list) else []:
            if not isinstance(location, dict):
                continue
            line = f":{location['line']}" if location.get("line") is not None else ""
            where = Text(fmt.literal(f"{location.get('path', '')}{line}", max_chars=200))
            if location.get("outside"):
                where.stylize("bold red")
                where.append(" ← outside the project root", "bold red")
            row("Location", where)
        if details.get("subject"):
            row("Subject", Text(fmt.literal(details["subject"], max_chars=500)))
        if text:
            yield Static(text, classes="facts")
        for diff in tool.get("diffs", []) if isinstance(tool.get("diffs"), list) else []:
            if isinstance(diff, dict) and diff.get("preview"):
                yield Static(diff_text(str(diff["preview"])), classes="diff")
