"""Every status label, pill and tone is readable: WCAG contrast >= 4.5:1 against its own background,
measured on what the dashboard draws, in every bundled theme and in grey (what NO_COLOR turns it into)."""

from __future__ import annotations

import pytest
from rich.style import Style
from textual.color import Color
from textual.filter import monochrome_style

from studio_tui.core.state import OrchestrationState
from studio_tui.ui.app import STUDIO_THEMES
from studio_tui.ui.widgets.header.status_header import BAD, RUNNING, StatusHeader, status_label

WCAG_AA = 4.5


def luminance(color: Color) -> float:
    """WCAG 2 relative luminance."""

    def channel(value: int) -> float:
        v = value / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = color.rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: Color, b: Color) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colours(style: Style, fallback_bg: Color) -> tuple[Color, Color]:
    """(text, background) a terminal shows for a drawn segment's style (reverse swaps them)."""
    fg = Color.from_rich_color(style.color) if style.color else Color.parse("white")
    bg = Color.from_rich_color(style.bgcolor) if style.bgcolor else fallback_bg
    return (bg, fg) if style.reverse else (fg, bg)


def state_for(status: str, waiting: bool = False) -> OrchestrationState:
    state = OrchestrationState(id="orch_x", goal="Add login", status=status, started_ts=100.0)
    if waiting:
        state.pending_decision = "d1"
    return state


STATES = {
    **{status: state_for(status) for status in sorted(BAD | RUNNING | {"completed", "interrupted", "pending"})},
    "waiting-for-you": state_for("executing", waiting=True),
}


def drawn_label_style(app, label: str) -> tuple[Style, Color]:
    """The style of the header segment that shows `label`, and the header's own background."""
    header = app.screen.query_one(StatusHeader)
    for strip in app.screen._compositor.render_strips():
        for segment in strip:
            if segment.text.strip() == label and segment.style is not None:
                return segment.style, header.background_colors[1]
    raise AssertionError(f"{label!r} is not on screen")


@pytest.mark.parametrize("theme", STUDIO_THEMES)
async def test_every_status_label_is_readable_in_colour_and_in_grey(dash, demo_ws, theme):
    app = dash.make_app(demo_ws, theme=theme)
    failures = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = app.screen.query_one(StatusHeader)
        for name, state in STATES.items():
            header.show(state, 130.0)
            await pilot.pause()
            label, _tone = status_label(state)
            style, header_bg = drawn_label_style(app, label)
            fg, bg = colours(style, header_bg)
            grey_fg, grey_bg = colours(monochrome_style(style), header_bg.monochrome)
            for what, ratio in (("colour", contrast(fg, bg)), ("NO_COLOR grey", contrast(grey_fg, grey_bg))):
                if ratio < WCAG_AA:
                    failures.append(f"{theme} {name} {label!r} in {what}: {ratio:.2f}:1 ({fg.hex} on {bg.hex})")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("theme", STUDIO_THEMES)
async def test_every_tone_of_every_pane_is_readable(dash, copy_run, theme):
    """Our own component classes (agent statuses, failure actions, log kinds, budget levels…) on their pane."""
    app = dash.make_app(copy_run("retry"), theme=theme)
    failures = []
    checked = 0
    async with app.run_test(size=(120, 40)) as pilot:
        await dash.until(pilot, lambda: bool(app.feed.state.id), "the orchestration to load")
        for widget in app.screen.walk_children():
            for name in sorted(getattr(widget, "COMPONENT_CLASSES", ())):
                if name.startswith(("datatable--", "input--", "toast--", "tab--", "tabs--", "footer-key--description")):
                    continue  # Textual's own parts (cursor, placeholder) are not status tones
                style = widget.get_component_rich_style(name)
                if style.color is None:
                    continue
                checked += 1
                fg, bg = colours(style, widget.background_colors[1])
                grey_fg, grey_bg = colours(monochrome_style(style), widget.background_colors[1].monochrome)
                for what, ratio in (("colour", contrast(fg, bg)), ("NO_COLOR grey", contrast(grey_fg, grey_bg))):
                    if ratio < WCAG_AA:
                        failures.append(f"{theme} {type(widget).__name__} {name} in {what}: {ratio:.2f}:1 ({fg.hex} on {bg.hex})")
    assert checked > 30, f"only {checked} tones found: the walk missed the panes"
    assert not failures, "\n".join(failures)
