"""Rich styles for text inside widgets, taken from component classes in the .tcss (so from the theme)."""

from __future__ import annotations

from collections.abc import Callable

from rich.style import Style
from textual.widget import Widget


def tone(widget: Widget, name: str) -> Style:
    """A component class's colour and text style without its background, so a table's cursor row shows through.

    The colour is taken from the full style, where Textual has blended any alpha (`$text-muted`) over the
    widget's background; the partial style leaves alpha unblended and washes out on light themes.
    """
    full = widget.get_component_rich_style(name)
    return Style(
        color=full.color,
        bold=full.bold,
        dim=full.dim,
        italic=full.italic,
        underline=full.underline,
        reverse=full.reverse,
        strike=full.strike,
    )


def tones(widget: Widget) -> Callable[[str], Style]:
    """name -> `tone(widget, name)`."""
    return lambda name: tone(widget, name)


def pill(widget: Widget, name: str) -> Style:
    """A component class's full style, background included: a status pill is its fill as much as its text."""
    full = widget.get_component_rich_style(name)
    return Style(color=full.color, bgcolor=full.bgcolor, bold=full.bold, italic=full.italic, underline=full.underline)


PILL_DEFAULTS = {
    "pill-foreground": "#000000",
    "pill-done": "#3DC9A0",
    "pill-bad": "#F47A90",
    "pill-waiting": "#F0A030",
    "pill-warn": "#F5B754",
}
"""Pill colours for a theme that does not set its own (Textual's built-in ones): dark text on bright fills."""
