"""Make text from agents and logs safe to print: no escape sequences, no runaway lines."""

from __future__ import annotations

import re
import shlex

MAX_LINE_CHARS = 4000
"""Longer lines are cut: a 1 MB line would stall any terminal renderer and nobody reads past this."""

_INVISIBLE = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
"""Invisible format characters (Unicode category Cf: bidi overrides and isolates U+202A..U+202E,
U+2066..U+2069, zero-width U+200B..U+200F, the BOM...) and the line/paragraph separators: each can
reorder or hide what a terminal shows (a filename that reads `txt.exe` backwards), so they are shown
as `\\uXXXX` like the other controls. tests/test_text.py checks this set against unicodedata."""

_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    if code < 0x20:
        return "^" + chr(code + 0x40)
    if code == 0x7F:
        return "^?"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def sanitize(text: str, *, max_chars: int = MAX_LINE_CHARS, keep_newlines: bool = True) -> str:
    """Controls (ESC, CR, NUL, C1) and invisible format characters (bidi overrides, zero-width)
    shown escaped so none can act; over-long text cut with a note."""
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


def command_hint(*args: str) -> str:
    """A `studio-tui ...` command line to paste: every argument shell-quoted, so a path holding
    spaces, quotes or `$(...)` is pasted as data, never run."""
    return shlex.join(["studio-tui", *args])


def step_count(steps_completed: list[int], steps_skipped: list[int], total: int) -> str:
    """`5/6`, or `5/6 (1 skipped)`: steps done of the plan's total, skipped ones not counted as done.

    The dashboard and the headless printer both show this, so a skipped step reads the same in each.
    """
    if not total:
        return "-"
    skipped = set(steps_skipped) - set(steps_completed)
    done = len(set(steps_completed))
    return f"{done}/{total}" + (f" ({len(skipped)} skipped)" if skipped else "")
