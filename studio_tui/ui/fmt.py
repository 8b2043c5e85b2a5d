"""Small text helpers the panes share: glyphs, times, token counts, bars; agent text made literal."""

from __future__ import annotations

import time

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from studio_tui.core.text import STATUS_GLYPHS, sanitize  # noqa: F401 - STATUS_GLYPHS is used as fmt.STATUS_GLYPHS

BAR_FULL = "█"
BAR_EMPTY = "░"


def literal(text: object, *, max_chars: int = 400, one_line: bool = True) -> str:
    """Text from an agent or a log, safe to show: control characters visible, newlines folded, cut long."""
    return sanitize(str(text), max_chars=max_chars, keep_newlines=not one_line)


def lit(text: object, style: str = "", *, max_chars: int = 400) -> Text:
    """A Rich Text of agent text, never parsed as markup."""
    return Text(literal(text, max_chars=max_chars), style=style)


def clock_time(ts: float | None) -> str:
    """HH:MM:SS in local time (tests fix TZ)."""
    if not ts:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(ts))


def duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `1h02m`: short enough for a table column."""
    if seconds is None or seconds < 0:
        return "-"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def elapsed_clock(seconds: float | None) -> str:
    """H:MM:SS for the header."""
    if seconds is None or seconds < 0:
        return "-:--:--"
    whole = int(seconds)
    return f"{whole // 3600}:{(whole % 3600) // 60:02d}:{whole % 60:02d}"


def tokens(count: int) -> str:
    return f"{count:,}"


def bar(fraction: float, width: int) -> tuple[str, str]:
    """(filled, empty) parts of a bar `width` cells wide; the fraction is clamped to 0..1."""
    width = max(0, width)
    clamped = min(1.0, max(0.0, fraction))
    filled = round(clamped * width)
    if 0 < clamped < 1 and width >= 2:
        filled = min(width - 1, max(1, filled))
    return BAR_FULL * filled, BAR_EMPTY * (width - filled)


def crop(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis (agent text is already sanitised by then)."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


def percent(value: float) -> str:
    return f"{round(value * 100)}%"
