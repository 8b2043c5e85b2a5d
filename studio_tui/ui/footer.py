"""A Footer that rebuilds its keys once per refresh however many times the bindings changed in between."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class CoalescingFooter(Footer):
    """Textual's Footer recomposes once per bindings signal: at start-up (focus, stack, mount) that is five rebuilds
    of every key before the first frame, about 0.15 s of CPU; here only the newest scheduled rebuild runs."""

    _changes = 0
    """Bindings changes seen; a scheduled rebuild that is not the newest one does nothing."""

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self._changes += 1
            self.call_after_refresh(self._rebuild, self._changes)

    async def _rebuild(self, change: int) -> None:
        if change == self._changes:
            await self.recompose()
