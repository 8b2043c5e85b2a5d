"""Whether this terminal can draw the dashboard; when not, the one-line reason the CLI prints before falling back."""

from __future__ import annotations

import os
from collections.abc import Mapping

MIN_WIDTH = 60
MIN_HEIGHT = 16
"""Below this the dashboard cannot show a pane and its footer; the headless printer can."""


def dashboard_unfit(environ: Mapping[str, str] | None = None, size: tuple[int, int] | None = None) -> str | None:
    """None when the dashboard can open; else why not, as one line naming the fallback."""
    environ = os.environ if environ is None else environ
    if environ.get("TERM", "") == "dumb":
        return "studio-tui: TERM=dumb cannot draw the dashboard; printing instead"
    if size is None:
        try:
            measured = os.get_terminal_size(1)
        except OSError:
            return None  # no size to go by: let the dashboard try
        size = (measured.columns, measured.lines)
    width, height = size
    if 0 < width < MIN_WIDTH or 0 < height < MIN_HEIGHT:
        return f"studio-tui: the terminal is {width}x{height}, the dashboard needs {MIN_WIDTH}x{MIN_HEIGHT}; printing instead"
    return None
