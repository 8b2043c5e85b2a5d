"""Make text from agents and logs safe to print: no escape sequences, no runaway lines."""

from __future__ import annotations

import re

MAX_LINE_CHARS = 4000
"""Longer lines are cut: a 1 MB line would stall any terminal renderer and nobody reads past this."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    return f"\\x{code:02x}"


def sanitize(text: str, *, max_chars: int = MAX_LINE_CHARS, keep_newlines: bool = True) -> str:
    """Controls (ESC, CR, NUL, C1) shown in caret notation so none can act; over-long text cut with a note."""
    if len(text) > max_chars:
        text = f"{text[:max_chars]}… ({len(text) - max_chars} more chars)"
    if not keep_newlines:
        text = text.replace("\n", "⏎").replace("\t", " ")
    return _CONTROL.sub(_visible, text)


STATUS_GLYPHS = {
    "pending": "○",
    "active": "▶",
    "completed": "✓",
    "failed": "✗",
    "skipped": "↷",
    "waiting": "?",
}
"""An agent status as one cell, so columns line up in every terminal font (dashboard and headless)."""


def step_count(steps_completed: list[int], steps_skipped: list[int], total: int) -> str:
    """`5/6`, or `5/6 (1 skipped)`: steps done of the plan's total, skipped ones not counted as done.

    The dashboard and the headless printer both show this, so a skipped step reads the same in each.
    """
    if not total:
        return "-"
    skipped = set(steps_skipped) - set(steps_completed)
    done = len(set(steps_completed))
    return f"{done}/{total}" + (f" ({len(skipped)} skipped)" if skipped else "")
