"""The replay's status line: play state, speed, position, seq, indexing progress, bad lines."""

from __future__ import annotations

import math

from rich.text import Text
from textual.widgets import Static

from studio_tui.ui.widgets.tones import tones


def speed_label(speed: float) -> str:
    """`0.25x`, `4x`, or `max` for as fast as possible."""
    if math.isinf(speed):
        return "max"
    return f"{speed:g}x"


class TransportBar(Static):
    """One line under the panes; drawn from plain values, knows nothing of the player."""

    DEFAULT_CSS = """
    TransportBar { height: 1; }
    TransportBar > .transport--playing { color: $text-success; text-style: bold; }
    TransportBar > .transport--paused { color: $text-warning; text-style: bold; }
    TransportBar > .transport--value { color: $foreground; }
    TransportBar > .transport--muted { color: $text-muted; }
    TransportBar > .transport--bad { color: $text-error; text-style: bold; }
    """

    COMPONENT_CLASSES = {"transport--playing", "transport--paused", "transport--value", "transport--muted", "transport--bad"}

    def show(
        self,
        *,
        playing: bool,
        speed: float,
        position: int,
        length: int,
        seq: int,
        indexing: float | None,
        keyframing: float | None,
        bad_lines: int,
        unknown: int,
        seeking: int | None = None,
    ) -> None:
        style = tones(self)
        muted, value = style("transport--muted"), style("transport--value")
        line = Text(no_wrap=True, overflow="ellipsis")
        if playing:
            line.append(" ▶ playing ", style("transport--playing"))
        else:
            line.append(" ‖ paused ", style("transport--paused"))
        line.append(f" {speed_label(speed)}", value)
        line.append("  position ", muted)
        line.append(f"{position:,}/{length:,}", value)
        line.append("  seq ", muted)
        line.append(str(seq), value)
        if seeking is not None:
            line.append(f"  seeking to {seeking:,}…", style("transport--paused"))
        if indexing is not None:
            line.append(f"  indexing {indexing:.0%}", muted)
        elif keyframing is not None:
            line.append(f"  reading {keyframing:.0%}", muted)
        if bad_lines:
            line.append(f"  ⚠ {bad_lines} bad line{'s' if bad_lines != 1 else ''} (b lists)", style("transport--bad"))
        if unknown:
            line.append(f"  {unknown} unknown event{'s' if unknown != 1 else ''}", muted)
        line.append("  · space play · +/- speed · ←/→ step · n/N marks · g/G ends", muted)
        self.update(line)
