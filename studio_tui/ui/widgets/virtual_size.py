"""Setting a scrolling widget's virtual size without a reflow of the whole screen when nothing but it changes."""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget


def set_virtual_size(widget: Widget, size: Size) -> None:
    """Set a scrolling widget's virtual size; a full layout only when its box or its scrollbars may change.

    `virtual_size` is a layout reactive: each new row of a growing table or log would reflow the whole
    screen, every frame. Once the content overflows the widget (and it keeps overflowing), only the
    scrollbars and the widget itself need drawing again.
    """
    old = widget.virtual_size
    if size == old:
        return
    box = widget.scrollable_content_region.size
    quiet = (
        widget.is_mounted
        and bool(box)
        and old.height > box.height
        and size.height > box.height
        and (old.width > box.width) == (size.width > box.width)
    )
    if not quiet:
        widget.virtual_size = size
        return
    widget.set_reactive(Widget.virtual_size, size)
    widget._scroll_update(size)  # scrollbar thumbs only: no reflow of the screen
    widget.refresh()
